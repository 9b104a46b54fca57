"""The JSON REST API, ``<prefix>/api/v1``."""

from __future__ import annotations

from flask import Blueprint

from ._errors import register_json_errors

bp = Blueprint("api", __name__)
register_json_errors(bp)
