"""JSON error responses, shared by the blueprints that speak JSON.

Every error is ``{"error": {"code", "message", "field"?, "details"?}}``:
``code`` is stable and meant for programs, ``message`` is translated and meant
for people. :class:`~flask_helpdesk.errors.HelpdeskError` subclasses carry
their own code and status; werkzeug's HTTP errors (unknown URL, wrong method,
body too large...) get the codes of :data:`HTTP_CODES`.
"""

from __future__ import annotations

import typing as t

from flask import jsonify
from werkzeug.exceptions import HTTPException

from ..errors import HelpdeskError
from ..errors import PermissionDenied
from ..i18n import _

if t.TYPE_CHECKING:
    from flask import Blueprint
    from flask import Response


class InvalidRequest(HelpdeskError):
    """The request has the wrong shape: a wrong type, a missing or unknown field."""

    code = "invalid_request"
    http_status = 400


class MalformedJSON(InvalidRequest):
    """The body is not valid JSON."""

    code = "malformed_json"


class Unauthenticated(HelpdeskError):
    """No credentials, or credentials that are not (or no longer) valid."""

    code = "unauthenticated"
    http_status = 401


class InvalidToken(Unauthenticated):
    """An ``Authorization: Bearer`` token that is unknown or revoked."""

    code = "invalid_token"


class NotAnAgent(PermissionDenied):
    """A logged-in host user who is not an active helpdesk agent."""

    code = "not_an_agent"


class CSRFFailed(PermissionDenied):
    """A session-authenticated change without the right ``X-CSRF-Token`` header."""

    code = "csrf_failed"


#: Stable codes of werkzeug's HTTP errors.
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
}


def _http_message(status: int) -> str:
    messages: dict[int, str] = {
        400: _("The request is malformed."),
        401: _("Authentication is required."),
        403: _("You may not do this."),
        404: _("There is nothing at this address."),
        405: _("This address does not accept that method."),
        413: _("The request is too large."),
        415: _("Send the body as application/json or multipart/form-data."),
        500: _("The helpdesk failed to answer; the error was logged."),
    }
    return str(messages.get(status, ""))


def json_error(status: int, code: str, message: str, **extra: t.Any) -> tuple[Response, int]:
    """A JSON error body ``{"error": {"code": ..., "message": ..., ...}}`` with ``status``."""
    return jsonify({"error": {"code": code, "message": message, **extra}}), status


def helpdesk_error_response(exc: HelpdeskError) -> Response:
    """The JSON response of a :class:`HelpdeskError`."""
    response = jsonify({"error": exc.to_dict()})
    response.status_code = exc.http_status
    if exc.http_status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="helpdesk"'
    return response


def http_error_response(exc: HTTPException) -> Response:
    """The JSON response of a werkzeug :class:`HTTPException` (keeps its headers)."""
    status = exc.code or 500
    message = _http_message(status) or exc.description or exc.name
    response = jsonify({"error": {"code": HTTP_CODES.get(status, f"http_{status}"),
                                  "message": message}})
    response.status_code = status
    headers = dict(exc.get_headers())
    for name in ("Allow", "WWW-Authenticate", "Retry-After"):
        if name in headers:
            response.headers[name] = headers[name]
    return response


def register_json_errors(bp: Blueprint) -> None:
    """Answer every :class:`HelpdeskError` and HTTP error raised under ``bp`` as JSON.

    Unexpected exceptions still go through Flask's own handling first (logged,
    ``got_request_exception`` sent), then reach the 500 handler here.
    """
    bp.register_error_handler(HelpdeskError, helpdesk_error_response)
    bp.register_error_handler(HTTPException, http_error_response)
