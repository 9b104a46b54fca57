"""Mapping of :class:`HelpdeskError` to HTTP responses, shared by the blueprints."""

from __future__ import annotations

import typing as t

from flask import jsonify

from ..errors import HelpdeskError

if t.TYPE_CHECKING:
    from flask import Blueprint
    from flask import Response


def json_error(status: int, code: str, message: str, **extra: t.Any) -> tuple[Response, int]:
    """A JSON error body ``{"error": {"code", "message", ...}}`` with ``status``."""
    return jsonify({"error": {"code": code, "message": message, **extra}}), status


def register_json_errors(bp: Blueprint) -> None:
    """Answer every :class:`HelpdeskError` raised under ``bp`` as JSON."""

    @bp.errorhandler(HelpdeskError)
    def _helpdesk_error(exc: HelpdeskError) -> tuple[Response, int]:
        return jsonify({"error": exc.to_dict()}), exc.http_status
