"""Admin pages of business calendars: the list, the form and delete.

Managers may look at the list; admins add, change and delete calendars, as
:mod:`~flask_helpdesk.services.calendars` allows (anyone else gets 403).

The form works without script: "Add a period", "Add a holiday" and
"Remove" post the form, which comes back with the row added or removed and
everything typed kept; ``calendars.js`` adds and removes rows in place.
Period rows are named ``p<i>_weekday``/``_start``/``_end``, holiday rows
``h<i>_date``/``_name``; the numbers may have gaps (the script numbers new
rows past the ones the page was rendered with). A row left empty is ignored.
"""

from __future__ import annotations

import re
import typing as t
import zoneinfo

from babel.dates import get_day_names
from flask import request
from flask import url_for
from flask_babel import get_locale

from ...errors import HelpdeskError
from ...i18n import _
from ...services import CalendarChanges
from ...services import agents
from ...services import calendars
from ...services import whole_number
from ._common import bp
from ._common import current_agent
from .admin import admin
from .admin import render_admin
from .admin import submit

if t.TYPE_CHECKING:
    from werkzeug.datastructures import MultiDict

    from ...models import BusinessCalendar

Draft = dict[str, t.Any]

#: The periods of a new calendar: Monday to Friday, 09:00-17:00.
NEW_PERIODS = [{"weekday": day, "start": "09:00", "end": "17:00"}
               for day in calendars.WEEKDAYS[:5]]

_ROW = re.compile(r"^([ph])(\d+)_(weekday|date)$")


@bp.get("/admin/calendars")
def admin_calendars() -> t.Any:
    """Every calendar with its zone, hours, holidays and the groups that use it."""
    actor = current_agent()
    rows = calendars.list_calendars(actor=actor)  # managers and admins
    used: dict[int | None, list[str]] = {}
    for group in agents.list_groups():
        used.setdefault(group.calendar_id, []).append(group.name)
    return render_admin("calendars.html", calendars=rows, used=used,
                        can_edit=actor.has_role("admin"), hours=hours_summary)


@bp.route("/admin/calendars/new", methods=["GET", "POST"])
def admin_new_calendar() -> t.Any:
    """The form of a new calendar; saving adds it to the list."""
    actor = admin()
    if request.method == "GET":
        return _page(None, blank())
    draft = from_form(request.form)
    if _editing(draft):
        return _page(None, draft)
    return submit(lambda: calendars.create_calendar(actor=actor, **to_service(draft)),
                  _("Calendar created."), url_for(".admin_calendars"),
                  lambda e: _page(None, draft, e))


@bp.route("/admin/calendars/<helpdesk_id:calendar_id>", methods=["GET", "POST"])
def admin_calendar(calendar_id: int) -> t.Any:
    """A calendar's form, the rules that name it, and delete."""
    actor = admin()
    calendar = calendars.get_calendar(calendar_id, actor=actor)
    if request.method == "GET":
        return _page(calendar, from_calendar(calendar))
    draft = from_form(request.form)
    if _editing(draft):
        return _page(calendar, draft)
    return submit(lambda: calendars.update_calendar(
        calendar_id, actor=actor, changes=CalendarChanges(**to_service(draft)),
    ), _("Calendar saved."), url_for(".admin_calendar", calendar_id=calendar_id),
        lambda e: _page(calendar, draft, e))


@bp.post("/admin/calendars/<helpdesk_id:calendar_id>/delete")
def admin_delete_calendar(calendar_id: int) -> t.Any:
    actor = admin()
    calendar = calendars.get_calendar(calendar_id, actor=actor)
    return submit(lambda: calendars.delete_calendar(calendar_id, actor=actor),
                  _("Calendar deleted."), url_for(".admin_calendars"),
                  lambda e: _page(calendar, from_calendar(calendar), e, form="delete"))


def _page(calendar: BusinessCalendar | None, draft: Draft,
          error: HelpdeskError | None = None, *, form: str = "calendar") -> t.Any:
    actor = current_agent()
    place = ("delete", None) if form == "delete" else error_place(draft, error)
    return render_admin(
        "calendar.html", calendar=calendar, draft=draft, place=place, error=error,
        form=form if error else None, status=error.http_status if error else 200,
        weekdays=weekday_names("wide"), zones=sorted(zoneinfo.available_timezones()),
        rules=calendars.calendar_rules(calendar.id, actor=actor) if calendar else [],
        blank_period=blank_period(), blank_holiday=blank_holiday())


def _editing(draft: Draft) -> bool:
    """Apply an "add row" / "remove row" button (the form without script); True if one."""
    op = request.form.get("op", "save")
    if op == "add_period":  # on the day of the last period: the second period of a day
        periods = draft["periods"]
        periods.append(blank_period(periods[-1]["weekday"] if periods else "mon"))
    elif op == "add_holiday":
        draft["holidays"].append(blank_holiday())
    elif op.startswith(("remove_period:", "remove_holiday:")):
        kind, _sep, index = op.partition(":")
        rows = draft["periods" if kind == "remove_period" else "holidays"]
        row = whole_number(index, maximum=len(rows) - 1)
        if row is not None:
            del rows[row]
    else:
        return False
    return True


# ------------------------------------------------------------------ the draft


def blank_period(weekday: str = "mon") -> Draft:
    return {"weekday": weekday, "start": "", "end": ""}


def blank_holiday() -> Draft:
    return {"date": "", "name": ""}


def blank() -> Draft:
    """A new calendar: the default calendar's zone (else UTC), weekdays 09:00-17:00."""
    default = calendars.default_calendar()
    return {"name": "", "timezone": default.timezone if default else "UTC",
            "is_default": default is None, "periods": [dict(p) for p in NEW_PERIODS],
            "holidays": []}


def from_calendar(calendar: BusinessCalendar) -> Draft:
    return {"name": calendar.name, "timezone": calendar.timezone,
            "is_default": calendar.is_default,
            "periods": [dict(p) for p in calendar.periods],
            "holidays": [{"date": h["date"], "name": h.get("name", "")}
                         for h in calendar.holidays]}


def from_form(form: MultiDict[str, str]) -> Draft:
    """The posted form as a draft, rows in the order of their numbers."""
    rows: dict[str, set[int]] = {"p": set(), "h": set()}
    for name in form:
        match = _ROW.match(name)
        if match:
            rows[match.group(1)].add(int(match.group(2)))
    return {
        "name": form.get("name", ""), "timezone": form.get("timezone", "").strip(),
        "is_default": bool(form.get("is_default")),
        "periods": [{key: form.get(f"p{i}_{key}", "").strip()
                     for key in ("weekday", "start", "end")} for i in sorted(rows["p"])],
        "holidays": [{key: form.get(f"h{i}_{key}", "").strip() for key in ("date", "name")}
                     for i in sorted(rows["h"])],
    }


def _empty(row: Draft) -> bool:
    return not any(value for key, value in row.items() if key != "weekday")


def to_service(draft: Draft) -> dict[str, t.Any]:
    """The calendar service's arguments; empty rows are left out (the service validates)."""
    holidays = [{"date": h["date"], "name": h["name"]} if h["name"] else {"date": h["date"]}
                for h in draft["holidays"] if not _empty(h)]
    return {"name": draft["name"], "timezone": draft["timezone"],
            "is_default": draft["is_default"], "holidays": holidays,
            "periods": [p for p in draft["periods"] if not _empty(p)]}


def error_place(draft: Draft, exc: HelpdeskError | None) -> tuple[str, int | None]:
    """Where the form shows an error: ``("name" | "timezone" | "p" | "h" | "", row)``.

    ``row`` is the draft's row at fault, when the service named one.
    """
    if exc is None:
        return "", None
    field = exc.field or ""
    section = {"periods": "p", "weekday": "p", "holidays": "h"}.get(field, field)
    if section not in ("name", "timezone", "is_default", "p", "h"):
        return "", None
    index = exc.details.get("index")
    if section in ("p", "h") and isinstance(index, int):
        kept = [i for i, row in enumerate(draft["periods" if section == "p" else "holidays"])
                if not _empty(row)]
        return section, kept[index] if index < len(kept) else None
    return section, None


# ------------------------------------------------------------------ display


def weekday_names(width: t.Literal["abbreviated", "wide"] = "abbreviated") -> dict[str, str]:
    """Stored weekday names (``mon``...) as the agent's language writes them."""
    names = get_day_names(width, locale=get_locale() or "en")
    return {day: names[i] for i, day in enumerate(calendars.WEEKDAYS)}


def hours_summary(calendar: BusinessCalendar) -> list[str]:
    """The weekly hours in a few lines: "Mon–Fri 09:00–13:00, 14:00–18:00"."""
    names = weekday_names()
    by_day = [", ".join(f"{p['start']}–{p['end']}" for p in calendar.periods
                        if p["weekday"] == day) for day in calendars.WEEKDAYS]
    lines, start = [], 0
    for i in range(1, len(by_day) + 1):
        if i < len(by_day) and by_day[i] == by_day[start]:
            continue
        if by_day[start]:
            first, last = calendars.WEEKDAYS[start], calendars.WEEKDAYS[i - 1]
            days = names[first] if first == last else f"{names[first]}–{names[last]}"
            lines.append(f"{days} {by_day[start]}")
        start = i
    return lines
