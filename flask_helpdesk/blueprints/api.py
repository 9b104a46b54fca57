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
from werkzeug.routing import RequestRedirect

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


@bp.before_request
def _guard() -> None:
    limit = get_state().config.api_max_request_size
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    if request.endpoint in _PUBLIC:
        return
    api_auth.authenticate()
    if not api_auth.authenticated_by_token() and request.method not in api_auth.SAFE_METHODS:
        api_auth.check_csrf()


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API (public: it describes, it holds no data)."""
    return jsonify(api_openapi.document())


@bp.route("/", defaults={"path": ""}, methods=_METHODS)
@bp.route("/<path:path>", methods=_METHODS)
def unknown(path: str) -> t.NoReturn:
    """JSON 404 (or 405 with ``Allow``) for any other address under the API."""
    adapter = current_app.create_url_adapter(request)
    allowed = set()
    for method in _METHODS:
        try:
            endpoint, _args = adapter.match(request.path, method=method)  # type: ignore[union-attr]
        except (HTTPException, RequestRedirect):
            continue
        if endpoint != request.endpoint:
            allowed.add(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=sorted(allowed))
    raise NotFound()
