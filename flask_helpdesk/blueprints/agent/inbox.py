"""The inbox: saved views with counts and the filtered, keyset-paginated list."""

from __future__ import annotations

import typing as t

from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from ...errors import ValidationError
from ...services import TicketFilter
from ...services import agents
from ...services import views
from ._common import FILTER_ARGS
from ._common import bp
from ._common import current_agent
from ._common import int_arg

if t.TYPE_CHECKING:
    from werkzeug import Response


@bp.get("/")
def index() -> Response:
    return redirect(url_for(".tickets"))


@bp.get("/tickets", endpoint="tickets")
def tickets_list() -> str | tuple[str, int]:
    """The ticket list: a saved view or ad-hoc filters, keyset-paginated."""
    actor = current_agent()
    error, view, page = None, None, views.Page([], None)
    sort = request.args.get("sort", "-updated")
    try:
        if request.args.get("view"):
            view = views.get_view(int_arg("view"), actor=actor)
            filters, sort = TicketFilter.from_dict(view.filters), view.sort
        else:
            filters = _filters_from_args()
        page = views.list_tickets(actor=actor, filters=filters, sort=sort,
                                  cursor=request.args.get("cursor") or None)
    except ValidationError as exc:
        error, filters = exc, TicketFilter()
    saved = views.list_views(actor=actor)
    body = render_template(
        "helpdesk/tickets.html", page=page, filters=filters, sort=sort, view=view,
        views=saved, counts=views.view_counts(actor=actor, views=saved), error=error,
        groups=agents.list_groups(), agents=agents.list_agents(),
        next_url=_next_url(page.next_cursor), sorts=list(views.SORTS),
    )
    return (body, 422) if error else body


def _filters_from_args() -> TicketFilter:
    # The filter form sends every field; an empty one ("any") does not filter.
    data: dict[str, t.Any] = {name: [x for x in request.args.getlist(name) if x.strip()]
                              for name in FILTER_ARGS[:-1]}
    data["tags"] = [tag for value in data["tags"] for tag in value.replace(",", " ").split()]
    data["q"] = request.args.get("q") or None
    return TicketFilter.from_dict({k: v for k, v in data.items() if v})


def _next_url(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    args: dict[str, t.Any] = request.args.to_dict(flat=False)
    args["cursor"] = [cursor]
    return url_for(".tickets", **args)


