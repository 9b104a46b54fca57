"""REST API endpoints of business calendars (admins change them, managers read them)."""

from __future__ import annotations

import typing as t

from flask import Blueprint

from ..services import CalendarChanges
from ..services import calendars
from . import _serialize as serialize
from . import api_input as inp
from .api_auth import actor
from .api_tickets import ID

bp = Blueprint("calendars", __name__)

Json = dict[str, t.Any]


@bp.get("/calendars", endpoint="list")
def list_calendars() -> Json:
    rows = calendars.list_calendars(actor=actor())
    return {"items": [serialize.calendar(c) for c in rows]}


@bp.post("/calendars", endpoint="create")
def create_calendar() -> tuple[Json, int]:
    data = inp.body("createCalendar")
    return serialize.calendar(calendars.create_calendar(actor=actor(), **data)), 201


@bp.get(f"/calendars/<{ID}:calendar_id>", endpoint="get")
def get_calendar(calendar_id: int) -> Json:
    return serialize.calendar(calendars.get_calendar(calendar_id, actor=actor()))


@bp.patch(f"/calendars/<{ID}:calendar_id>", endpoint="update")
def update_calendar(calendar_id: int) -> Json:
    changes = CalendarChanges(**inp.body("updateCalendar"))
    return serialize.calendar(calendars.update_calendar(calendar_id, actor=actor(),
                                                        changes=changes))


@bp.delete(f"/calendars/<{ID}:calendar_id>", endpoint="delete")
def delete_calendar(calendar_id: int) -> tuple[str, int]:
    calendars.delete_calendar(calendar_id, actor=actor())
    return "", 204
