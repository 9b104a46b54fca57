"""Business calendars: admins manage them, managers read them.

A calendar is a time zone, weekly opening periods and holidays (see
:class:`~flask_helpdesk.models.BusinessCalendar`); the arithmetic lives in
:mod:`flask_helpdesk.business_hours`. A group uses its own calendar
(``Group.calendar_id``), else the default calendar; a ticket uses its group's.
With no calendar at all the helpdesk counts as always open.

Periods never cross midnight: an overnight period such as 22:00-06:00 is
refused with a message asking for two periods (22:00-24:00 and 00:00-06:00
the next day), which the arithmetic joins into one opening.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import typing as t
import zoneinfo

from sqlalchemy import select
from sqlalchemy import update

from .. import business_hours
from ..business_hours import parse_minute
from ..errors import Conflict
from ..errors import NotFound
from ..errors import ValidationError
from ..i18n import _
from ..models import BusinessCalendar
from ..models import Group
from ..models import Rule
from ..models import utcnow
from . import _validate as v
from ._uow import Actor
from ._uow import session
from ._uow import transaction
from .permissions import require_role

#: Weekday names of periods, Monday first.
WEEKDAYS: tuple[str, ...] = business_hours.WEEKDAYS

#: Most periods in one calendar, and most holidays.
MAX_PERIODS = 70
MAX_HOLIDAYS = 1000


@dataclasses.dataclass
class CalendarChanges:
    """What to change on a calendar; fields left :data:`~flask_helpdesk.services.UNSET` stay."""

    name: str = v.UNSET
    timezone: str = v.UNSET
    periods: list[dict[str, t.Any]] = v.UNSET
    holidays: list[dict[str, t.Any]] = v.UNSET
    is_default: bool = v.UNSET


def list_calendars(*, actor: Actor) -> list[BusinessCalendar]:
    """Every calendar, by name (managers and admins)."""
    require_role(actor, "manager")
    return list(session().scalars(select(BusinessCalendar).order_by(BusinessCalendar.name)))


def get_calendar(calendar_id: int, *, actor: Actor) -> BusinessCalendar:
    """One calendar (managers and admins).

    :raises NotFound: No such calendar.
    """
    require_role(actor, "manager")
    calendar = session().get(BusinessCalendar, calendar_id) if isinstance(
        calendar_id, int) and not isinstance(calendar_id, bool) else None
    if calendar is None:
        raise NotFound(_("Calendar %(id)s does not exist.", id=calendar_id))
    return calendar


def create_calendar(
    *, actor: Actor, name: str, timezone: str, periods: list[dict[str, t.Any]] | None = None,
    holidays: list[dict[str, t.Any]] | None = None, is_default: bool = False,
) -> BusinessCalendar:
    """Add a calendar (admins). Making it the default unmarks the previous default.

    :raises ValidationError: An unknown time zone, a bad or overlapping
        period, an overnight period, a bad holiday date.
    :raises Conflict: Another calendar has that name.
    """
    require_role(actor, "admin")
    with transaction() as s:
        calendar = BusinessCalendar(periods=[], holidays=[], is_default=False,
                                    created_at=utcnow())
        _apply(calendar, CalendarChanges(name=name, timezone=timezone, periods=periods or [],
                                         holidays=holidays or [], is_default=is_default))
        s.add(calendar)
    return calendar


def update_calendar(calendar_id: int, *, actor: Actor,
                    changes: CalendarChanges) -> BusinessCalendar:
    """Change a calendar (admins).

    :raises ValidationError: As for :func:`create_calendar`.
    """
    require_role(actor, "admin")
    with transaction():
        calendar = get_calendar(calendar_id, actor=actor)
        _apply(calendar, changes)
    return calendar


def delete_calendar(calendar_id: int, *, actor: Actor) -> None:
    """Delete a calendar (admins); its groups fall back to the default calendar.

    :raises Conflict: A rule names the calendar.
    """
    require_role(actor, "admin")
    with transaction() as s:
        calendar = get_calendar(calendar_id, actor=actor)
        users = calendar_rules(calendar.id, actor=actor)
        if users:
            raise Conflict(_("Calendar %(name)s is used by the rule %(rule)s; change the rule"
                             " first.", name=calendar.name, rule=users[0].name),
                           details={"rules": [rule.id for rule in users]})
        s.execute(update(Group).where(Group.calendar_id == calendar.id).values(
            calendar_id=None))
        s.delete(calendar)


def calendar_rules(calendar_id: int, *, actor: Actor) -> list[Rule]:
    """The rules that name the calendar, by name (managers and admins)."""
    require_role(actor, "manager")
    rules = session().scalars(select(Rule).order_by(Rule.name))
    return [rule for rule in rules if calendar_id in rule_calendar_ids(rule)]


def rule_calendar_ids(rule: Rule) -> set[int]:
    """The calendars a rule names in its "when", conditions or actions."""
    found = set()
    when = rule.when or {}
    if isinstance(when.get("calendar_id"), int):
        found.add(t.cast(int, when["calendar_id"]))
    for group in ("all", "any"):
        for cond in t.cast("list[dict[str, t.Any]]", (rule.conditions or {}).get(group, [])):
            if cond.get("field") == "business_hours" and isinstance(cond.get("value"), int):
                found.add(cond["value"])
    for action in rule.actions or []:
        if isinstance(action.get("calendar_id"), int):
            found.add(t.cast(int, action["calendar_id"]))
    return found


def _apply(calendar: BusinessCalendar, changes: CalendarChanges) -> None:
    s = session()
    if changes.name is not v.UNSET:
        name = v.text(changes.name, "name", max_length=100)
        with s.no_autoflush:
            taken = s.scalar(select(BusinessCalendar.id).where(
                BusinessCalendar.name == name, BusinessCalendar.id != (calendar.id or 0)))
        if taken is not None:
            raise Conflict(_("A calendar called %(name)s already exists.", name=name),
                           field="name")
        calendar.name = name
    if changes.timezone is not v.UNSET:
        calendar.timezone = validate_timezone(changes.timezone)
    if changes.periods is not v.UNSET:
        calendar.periods = validate_periods(changes.periods)
    if changes.holidays is not v.UNSET:
        calendar.holidays = validate_holidays(changes.holidays)
    if changes.is_default is not v.UNSET:
        if not isinstance(changes.is_default, bool):
            raise ValidationError(_("is_default must be true or false."), field="is_default")
        if changes.is_default and not calendar.is_default:
            with s.no_autoflush:
                s.execute(update(BusinessCalendar).where(
                    BusinessCalendar.is_default.is_(True)).values(is_default=False))
        calendar.is_default = changes.is_default
    calendar.updated_at = utcnow()


def validate_timezone(value: object) -> str:
    """An IANA time zone name that the zone database knows.

    :raises ValidationError: Anything else.
    """
    name = v.text(value, "timezone", max_length=64)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(_("%(zone)s is not a known time zone; use an IANA name such as"
                                " Europe/Berlin.", zone=name), field="timezone") from None
    return name


def validate_periods(value: object) -> list[dict[str, str]]:
    """Weekly periods, checked and sorted by weekday and start.

    :raises ValidationError: Not ``{"weekday", "start", "end"}`` items, an
        unknown weekday, a time that is not ``HH:MM``, an empty or overnight
        period, or two periods of one weekday that overlap.
    """
    if not isinstance(value, list) or len(value) > MAX_PERIODS:
        raise ValidationError(_("periods must be a list of at most %(max)d periods.",
                                max=MAX_PERIODS), field="periods")
    parsed = []
    for index, item in enumerate(value):
        with _at(index):
            parsed.append((*_period(item), index))
    parsed.sort()
    for (day, _start, end, _i), (next_day, next_start, _end, index) in zip(
            parsed, parsed[1:], strict=False):
        if day == next_day and next_start < end:
            raise ValidationError(_("Two periods overlap on %(weekday)s.",
                                    weekday=WEEKDAYS[day]), field="periods",
                                  details={"index": index})
    return [{"weekday": WEEKDAYS[day], "start": _hhmm(start), "end": _hhmm(end)}
            for day, start, end, _i in parsed]


@contextlib.contextmanager
def _at(index: int, field: str | None = None) -> t.Iterator[None]:
    """Name the list item at fault in ``details["index"]`` (and ``field`` if given)."""
    try:
        yield
    except ValidationError as exc:
        exc.details = {**exc.details, "index": index}
        exc.field = field or exc.field
        raise


def _period(item: object) -> tuple[int, int, int]:
    if not isinstance(item, dict) or set(item) != {"weekday", "start", "end"}:
        raise ValidationError(_('A period is an object with "weekday", "start" and "end".'),
                              field="periods")
    day = v.one_of(item["weekday"], "weekday", WEEKDAYS)
    try:
        start, end = parse_minute(item["start"]), parse_minute(item["end"])
    except (ValueError, TypeError, AttributeError):
        raise ValidationError(_("Period times are HH:MM, from 00:00 to 24:00."),
                              field="periods") from None
    if end <= start:
        raise ValidationError(_("A period must end after it starts on the same day; split"
                                " an overnight period in two (22:00-24:00 and 00:00-06:00)."),
                              field="periods")
    return WEEKDAYS.index(day), start, end


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def validate_holidays(value: object) -> list[dict[str, str]]:
    """Holidays as ``{"date": "YYYY-MM-DD", "name": ...}``, sorted by date, one per date.

    :raises ValidationError: Not a list of such items, or a date given twice.
    """
    if not isinstance(value, list) or len(value) > MAX_HOLIDAYS:
        raise ValidationError(_("holidays must be a list of at most %(max)d days.",
                                max=MAX_HOLIDAYS), field="holidays")
    out: dict[str, dict[str, str]] = {}
    for index, item in enumerate(value):
        with _at(index, "holidays"):
            day, name = _holiday(item)
            if day in out:
                raise ValidationError(_("%(date)s is listed twice.", date=day))
            out[day] = {"date": day, "name": name}
    return [out[day] for day in sorted(out)]


def _holiday(item: object) -> tuple[str, str]:
    if not isinstance(item, dict) or "date" not in item or set(item) - {"date", "name"}:
        raise ValidationError(_('A holiday is an object with "date" and an optional'
                                ' "name".'))
    try:
        day = dt.date.fromisoformat(item["date"]).isoformat()
    except (TypeError, ValueError):
        raise ValidationError(_("A holiday date is YYYY-MM-DD.")) from None
    return day, v.text(item.get("name", ""), "name", max_length=100, required=False)


def referenced_calendar(value: object, field: str = "calendar_id") -> int | None:
    """A calendar id that exists, or ``None``; for rules and groups naming one.

    :raises ValidationError: No such calendar.
    """
    if value is None:
        return None
    calendar_id = v.integer(value, field)
    if session().get(BusinessCalendar, calendar_id) is None:
        raise ValidationError(_("Calendar %(id)s does not exist.", id=calendar_id),
                              field=field)
    return calendar_id


def default_calendar() -> BusinessCalendar | None:
    """The calendar groups without one use, if any."""
    return session().scalar(select(BusinessCalendar).where(
        BusinessCalendar.is_default.is_(True)).order_by(BusinessCalendar.id).limit(1))


def calendar_for_group(group_id: int | None) -> BusinessCalendar | None:
    """The group's calendar, else the default calendar (``None``: always open)."""
    s = session()
    if group_id is not None:
        calendar_id = s.scalar(select(Group.calendar_id).where(Group.id == group_id))
        if calendar_id is not None:
            return s.get(BusinessCalendar, calendar_id)
    return default_calendar()
