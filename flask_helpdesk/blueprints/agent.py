"""The agent's HTML pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("agent", __name__)
