"""The OpenAPI 3.1 document of the REST API, for tools outside a request.

The document is built from :data:`OPERATIONS` and the schemas in
:mod:`flask_helpdesk.blueprints.api_openapi`, next to the endpoints it
describes (the blueprints validate requests against it, and blueprints may not
import modules outside their layer). A running app serves it at
``<prefix>/api/v1/openapi.json``; this module gives it to scripts, e.g. to
generate a client::

    from flask_helpdesk.openapi import document_json

    with open("openapi.json", "w") as fh:
        fh.write(document_json(app))
"""

from __future__ import annotations

import json
import typing as t

from .blueprints.api_openapi import OPERATIONS
from .blueprints.api_openapi import Operation
from .extension import get_state

if t.TYPE_CHECKING:
    from flask import Flask

__all__ = ["OPERATIONS", "Operation", "document", "document_json"]


def document(app: Flask) -> dict[str, t.Any]:
    """The OpenAPI document of ``app``'s helpdesk, as a dict (a fresh copy).

    :raises RuntimeError: The helpdesk is not registered on ``app``.
    """
    from .blueprints.api_openapi import build_document

    return build_document(get_state(app))


def document_json(app: Flask, *, indent: int | None = 2) -> str:
    """The OpenAPI document of ``app``'s helpdesk as JSON text."""
    return json.dumps(document(app), indent=indent, ensure_ascii=False)
