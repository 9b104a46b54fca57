"""Sphinx configuration of the flask-helpdesk documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html``. The build works
offline; set ``HELPDESK_DOCS_INTERSPHINX=1`` to link Python's and Flask's
documentation (it fetches their inventories).
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "flask-helpdesk"
copyright = "2026, the flask-helpdesk developers"
release = version = "0.1"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_preserve_defaults = True
html_theme = "alabaster"
exclude_patterns = ["_build"]
intersphinx_mapping = {}
if os.environ.get("HELPDESK_DOCS_INTERSPHINX"):
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3/", None),
        "flask": ("https://flask.palletsprojects.com/en/stable/", None),
    }
