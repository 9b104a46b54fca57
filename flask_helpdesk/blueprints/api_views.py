"""REST API endpoints of saved views and tags."""

from __future__ import annotations

import typing as t

from flask import Blueprint

from ..services import TicketFilter
from ..services import tags
from ..services import views
from . import _serialize as serialize
from . import api_input as inp
from .api_auth import actor
from .api_tickets import ID
from .api_tickets import ticket_page

bp = Blueprint("views", __name__)

Json = dict[str, t.Any]


@bp.get("/views", endpoint="list")
def list_views() -> Json:
    return {"items": [serialize.view(v) for v in views.list_views(actor=actor())]}


@bp.post("/views", endpoint="create")
def create_view() -> tuple[Json, int]:
    data = inp.body("createView")
    view = views.create_view(actor=actor(), filters=data.pop("filters", {}), **data)
    return serialize.view(view), 201


@bp.get(f"/views/<{ID}:view_id>", endpoint="get")
def get_view(view_id: int) -> Json:
    return serialize.view(views.get_view(view_id, actor=actor()))


@bp.patch(f"/views/<{ID}:view_id>", endpoint="update")
def update_view(view_id: int) -> Json:
    data = inp.body("updateView")
    return serialize.view(views.update_view(view_id, actor=actor(), **data))


@bp.delete(f"/views/<{ID}:view_id>", endpoint="delete")
def delete_view(view_id: int) -> tuple[str, int]:
    views.delete_view(view_id, actor=actor())
    return "", 204


@bp.get(f"/views/<{ID}:view_id>/tickets", endpoint="tickets")
def view_tickets(view_id: int) -> Json:
    params = inp.query("listViewTickets")
    view = views.get_view(view_id, actor=actor())
    page = views.list_tickets(actor=actor(), filters=TicketFilter.from_dict(view.filters),
                              sort=view.sort, cursor=params.get("cursor"),
                              limit=inp.limit(params))
    return ticket_page(page)


@bp.get("/views/counts", endpoint="counts")
def view_counts() -> Json:
    rows = views.list_views(actor=actor())
    counts = views.view_counts(actor=actor(), views=rows)
    return {"items": [{"view_id": v.id, "count": counts[v.id]} for v in rows]}


@bp.get("/tags", endpoint="tags")
def list_tags() -> Json:
    params = inp.query("listTags")
    size = inp.limit(params)
    rows = tags.list_tags(prefix=params.get("prefix") or None,
                          after=params.get("cursor") or None, limit=size + 1)
    items, cursor = inp.page(rows, size, key=lambda tag: tag.name)
    return {"items": [serialize.tag(tag) for tag in items], "next_cursor": cursor}
