"""The JSON REST API, ``<prefix>/api/v1``.

This module holds what every endpoint shares: authentication (API tokens or
the host's Flask-Login session), CSRF protection of session-authenticated
changes, the request-size limit, JSON errors for every failure (unknown
addresses and wrong methods included) and the OpenAPI document. The
endpoints live in the child blueprints ``api_tickets``, ``api_people``,
``api_views``, ``api_rules``, ``api_templates`` and ``api_calendars``; each is
parse -> call a service -> serialize.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound
from werkzeug.exceptions import RequestEntityTooLarge

from ..extension import get_state
from . import api_auth
from . import api_calendars
from . import api_channels
from . import api_openapi
from . import api_people
from . import api_rules
from . import api_templates
from . import api_tickets
from . import api_views
from ._errors import http_error_response
from ._errors import register_json_errors

if t.TYPE_CHECKING:
    from flask import Response

bp = Blueprint("api", __name__)
register_json_errors(bp)
for _child in (api_tickets, api_people, api_views, api_channels, api_rules, api_templates,
               api_calendars):
    bp.register_blueprint(_child.bp)

_PUBLIC = frozenset({"helpdesk.api.openapi"})
_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
_UNKNOWN = "helpdesk.api.unknown"


@bp.record_once
def _json_routing_errors(setup: t.Any) -> None:
    """Answer URLs under the API that match no route as JSON too.

    werkzeug raises routing errors (an unknown method, a bad converter value)
    before any blueprint is chosen, so the blueprint's error handlers never
    see them; this app-level hook answers them for the API's paths only and
    leaves every other path to the host.
    """
    setup.app.before_request(_routing_error)


def _api_root() -> str:
    return f"{get_state().config.url_prefix.rstrip('/')}/api/v1"


def _routing_error() -> Response | None:
    exc = request.routing_exception
    root = _api_root()
    if exc is None or not (request.path == root or request.path.startswith(root + "/")):
        return None
    allowed = allowed_methods(request.path)
    error: HTTPException = MethodNotAllowed(allowed) if allowed else NotFound()
    return http_error_response(error)


def allowed_methods(path: str) -> list[str]:
    """The methods the API serves at ``path`` (empty: no such address)."""
    adapter = current_app.create_url_adapter(request)
    assert adapter is not None
    allowed = []
    for method in _METHODS:
        try:
            endpoint, _args = adapter.match(path, method=method)
        except HTTPException:  # NotFound, MethodNotAllowed, RequestRedirect
            continue
        if endpoint != _UNKNOWN:
            allowed.append(method)
    return allowed


@bp.before_request
def _guard() -> Response | None:
    if request.method == "OPTIONS":
        return _options()
    limit = get_state().config.api_max_request_size
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    if request.endpoint in _PUBLIC:
        return None
    api_auth.authenticate()
    if not api_auth.authenticated_by_token() and request.method not in api_auth.SAFE_METHODS:
        api_auth.check_csrf()
    return None


def _options() -> Response:
    """``OPTIONS``: the methods of this address (werkzeug's would list the catch-all's)."""
    allowed = allowed_methods(request.path)
    if not allowed:
        raise NotFound()
    if "GET" in allowed:
        allowed.append("HEAD")
    response = current_app.response_class(status=204)
    response.headers["Allow"] = ", ".join([*allowed, "OPTIONS"])
    del response.headers["Content-Type"]  # no body
    return response


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API (public: it describes, it holds no data)."""
    return jsonify(api_openapi.document())


@bp.route("", defaults={"path": ""}, methods=_METHODS)
@bp.route("/", defaults={"path": ""}, methods=_METHODS)
@bp.route("/<path:path>", methods=_METHODS)
def unknown(path: str) -> t.NoReturn:
    """JSON 404 (or 405 with ``Allow``) for any other address under the API."""
    allowed = allowed_methods(request.path)
    if allowed:
        raise MethodNotAllowed(valid_methods=allowed)
    raise NotFound()
