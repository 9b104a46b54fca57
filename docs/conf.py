"""Sphinx configuration of the flask-helpdesk documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html``. The build works
offline; set ``HELPDESK_DOCS_INTERSPHINX=1`` to link Python's and Flask's
documentation (it fetches their inventories).
"""

import fnmatch
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.abspath(".."))

project = "flask-helpdesk"
copyright = "2026, the flask-helpdesk developers"
release = version = "0.1"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
html_theme = "alabaster"
exclude_patterns = ["_build"]
intersphinx_mapping = {}
if os.environ.get("HELPDESK_DOCS_INTERSPHINX"):
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3/", None),
        "flask": ("https://flask.palletsprojects.com/en/stable/", None),
    }


def _drop_empty_globs(app, docname, source):
    """Drop the index's toctree glob entries that match no page (yet).

    The index lists pages written separately (``templates``, ``contrib/*``) as
    globs; Sphinx warns about a glob that matches nothing, and the build runs
    with warnings as errors.
    """
    if docname != "index":
        return
    srcdir = Path(app.srcdir)
    pages = [p.relative_to(srcdir).with_suffix("").as_posix() for p in srcdir.rglob("*.rst")]
    kept = []
    for line in source[0].splitlines():
        entry = line.strip()
        is_glob = line.startswith("   ") and not entry.startswith(":") and any(
            c in entry for c in "*?[")
        if is_glob and not any(fnmatch.fnmatchcase(page, entry) for page in pages):
            continue
        kept.append(line)
    source[0] = "\n".join(kept) + "\n"


def setup(app):
    app.connect("source-read", _drop_empty_globs)
