"""Business hours arithmetic: pure functions over a :class:`Schedule`, no I/O.

A schedule is a time zone, weekly opening periods in local wall-clock time
(several per weekday, e.g. Monday 09:00-13:00 and 14:00-18:00) and holidays
(local dates on which it stays closed). Every instant given to or returned by
these functions is naive UTC, like every helpdesk timestamp (aware datetimes
are accepted and converted).

Daylight saving time is handled by converting each day's periods to UTC on
that day, so a 09:00-18:00 period lasts 9 hours of real time whatever the
offset, and a period spanning a clock change lasts what the clock says it
does in real time (01:00-05:00 is 3 hours on a spring-forward night). A
wall-clock time that does not exist (skipped by the clock) means the instant
the clock jumps past it; one that happens twice means its first occurrence.

Periods never cross midnight: a night shift is two periods (22:00-24:00 and
00:00-06:00 the next day), and adjacent periods are merged into one opening,
so the shift is one continuous opening.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t
import zoneinfo

#: Weekday names as stored in calendars, Monday first (``date.weekday()`` order).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: How far the search for an opening or a closing goes before giving up:
#: far enough for a year of open time at 20 hours a week (the longest time
#: rule), short enough that a calendar that never opens costs little.
HORIZON = dt.timedelta(days=10 * 366)

_DAY = dt.timedelta(days=1)
_ZERO = dt.timedelta(0)

Interval = tuple[dt.datetime, dt.datetime]


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Opening hours: what the functions of this module compute with.

    :ivar zone: The calendar's time zone.
    :ivar periods: Per weekday (0 = Monday), sorted ``(start, end)`` minutes
        since local midnight, ``0 <= start < end <= 1440``.
    :ivar holidays: Local dates on which it stays closed.
    """

    zone: zoneinfo.ZoneInfo
    periods: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[dt.date] = frozenset()

    @classmethod
    def build(cls, timezone: str, periods: t.Iterable[t.Mapping[str, t.Any]],
              holidays: t.Iterable[t.Mapping[str, t.Any] | dt.date | str] = ()) -> Schedule:
        """A schedule from a calendar's stored form.

        :param timezone: An IANA zone name (``Europe/Berlin``).
        :param periods: ``{"weekday": "mon", "start": "09:00", "end": "13:00"}`` items.
        :param holidays: ``{"date": "2026-12-25"}`` items, dates or ISO strings.
        """
        week: list[list[tuple[int, int]]] = [[] for _ in WEEKDAYS]
        for period in periods:
            week[WEEKDAYS.index(period["weekday"])].append(
                (parse_minute(period["start"]), parse_minute(period["end"])))
        days = set()
        for item in holidays:
            value = item["date"] if isinstance(item, t.Mapping) else item
            days.add(value if isinstance(value, dt.date) else dt.date.fromisoformat(value))
        return cls(zoneinfo.ZoneInfo(timezone), tuple(tuple(sorted(d)) for d in week),
                   frozenset(days))

    @property
    def weekly_minutes(self) -> int:
        """Open minutes in a week without holidays (by the wall clock)."""
        return sum(end - start for day in self.periods for start, end in day)


def parse_minute(value: str) -> int:
    """``"09:30"`` -> 570; ``"24:00"`` (end of the day) -> 1440.

    :raises ValueError: Not ``HH:MM`` from 00:00 to 24:00.
    """
    hours, sep, minutes = value.partition(":")
    if not (sep and len(hours) == 2 and len(minutes) == 2 and hours.isascii() and hours.isdigit()
            and minutes.isascii() and minutes.isdigit()):
        raise ValueError(value)
    total = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or total > 1440:
        raise ValueError(value)
    return total


def format_minute(minute: int) -> str:
    """570 -> ``"09:30"``."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _utc(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is not None:
        return at.astimezone(dt.UTC).replace(tzinfo=None)
    return at


def local_time(schedule: Schedule, at: dt.datetime) -> dt.datetime:
    """A naive UTC instant as an aware datetime in the schedule's zone."""
    return _utc(at).replace(tzinfo=dt.UTC).astimezone(schedule.zone)


def wall_to_utc(zone: zoneinfo.ZoneInfo, day: dt.date, minute: int) -> dt.datetime:
    """The naive UTC instant of local ``day`` at ``minute`` after midnight.

    A skipped wall time gives the instant the clock jumps past it; a repeated
    one its first occurrence.
    """
    wall = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute)
    early = wall.replace(tzinfo=zone, fold=0).astimezone(dt.UTC).replace(tzinfo=None)
    if _wall(zone, early) == wall:
        return early
    # A gap: find the transition between the two readings by bisection.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(dt.UTC).replace(tzinfo=None)
    low, high = min(low, early), max(low, early)
    while high - low > dt.timedelta(seconds=1):
        mid = low + (high - low) / 2
        if _wall(zone, mid) >= wall:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0) if _wall(zone, high.replace(microsecond=0)) >= wall \
        else high


def _wall(zone: zoneinfo.ZoneInfo, utc: dt.datetime) -> dt.datetime:
    return utc.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)


def _day_intervals(schedule: Schedule, day: dt.date) -> list[Interval]:
    if day in schedule.holidays:
        return []
    out = []
    for start, end in schedule.periods[day.weekday()]:
        a = wall_to_utc(schedule.zone, day, start)
        b = wall_to_utc(schedule.zone, day, end)
        if b > a:
            out.append((a, b))
    return out


def _forward(schedule: Schedule, start: dt.datetime,
             until: dt.datetime | None = None) -> t.Iterator[Interval]:
    """Merged openings ending after ``start``, in order, up to ``until`` or the horizon."""
    limit = until if until is not None else start + HORIZON
    day = _wall(schedule.zone, start).date() - _DAY
    current: Interval | None = None
    while True:
        for a, b in _day_intervals(schedule, day):
            if current is not None and a <= current[1]:
                current = (current[0], max(current[1], b))
                continue
            if current is not None and current[1] > start:
                yield current
            current = (a, b)
            if a >= limit:
                return
        if dt.datetime.combine(day, dt.time()) > limit + _DAY:
            break
        day += _DAY
    if current is not None and current[1] > start and current[0] < limit:
        yield current


def _backward(schedule: Schedule, end: dt.datetime) -> t.Iterator[Interval]:
    """Merged openings starting before ``end``, latest first, back to the horizon."""
    limit = end - HORIZON
    day = _wall(schedule.zone, end).date() + _DAY
    current: Interval | None = None
    while True:
        for a, b in reversed(_day_intervals(schedule, day)):
            if current is not None and b >= current[0]:
                current = (min(current[0], a), max(current[1], b))
                continue
            if current is not None and current[0] < end:
                yield current
            current = (a, b)
        if dt.datetime.combine(day, dt.time()) + _DAY < limit:
            break
        day -= _DAY
    if current is not None and current[0] < end:
        yield current


def is_open(schedule: Schedule, at: dt.datetime) -> bool:
    """Whether ``at`` falls inside an opening (start included, end excluded)."""
    at = _utc(at)
    for a, b in _forward(schedule, at, until=at + dt.timedelta(seconds=1)):
        if a <= at < b:
            return True
    return False


def next_opening(schedule: Schedule, after: dt.datetime) -> dt.datetime | None:
    """The first instant at or after ``after`` when it is open (``after`` if open now).

    :return: ``None`` if it does not open within :data:`HORIZON`.
    """
    after = _utc(after)
    for a, _b in _forward(schedule, after):
        return max(a, after)
    return None


def closed_since(schedule: Schedule, at: dt.datetime) -> dt.datetime | None:
    """When the closed period containing ``at`` began (the end of the last opening).

    :return: ``None`` if ``at`` is inside an opening, or if it has been
        closed for longer than :data:`HORIZON`.
    """
    at = _utc(at)
    for a, b in _backward(schedule, at + dt.timedelta(microseconds=1)):
        if a <= at < b:
            return None
        if b <= at:
            return b
    return None


def business_elapsed(schedule: Schedule, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Open time between ``start`` and ``end`` (zero if ``end`` is not after ``start``)."""
    start, end = _utc(start), _utc(end)
    total = _ZERO
    if end <= start:
        return total
    for a, b in _forward(schedule, start, until=end):
        if a >= end:
            break
        total += min(b, end) - max(a, start)
    return total


def add_business_time(schedule: Schedule, start: dt.datetime,
                      delta: dt.timedelta) -> dt.datetime:
    """The earliest instant by which ``delta`` of open time has passed since ``start``.

    ``business_elapsed(s, start, add_business_time(s, start, d)) == d``.

    :raises ValueError: ``delta`` is negative, or the calendar does not open
        enough within :data:`HORIZON` of the last opening found.
    """
    start = _utc(start)
    if delta < _ZERO:
        raise ValueError("delta must not be negative")
    if delta == _ZERO:
        return start
    left = delta
    cursor = start
    while cursor - start < 3 * HORIZON:
        found = False
        for a, b in _forward(schedule, cursor):
            found = True
            a = max(a, cursor)
            if b - a >= left:
                return a + left
            left -= b - a
            cursor = b
        if not found:
            break
    raise ValueError("the calendar does not open often enough")


def subtract_business_time(schedule: Schedule, end: dt.datetime,
                           delta: dt.timedelta) -> dt.datetime | None:
    """The latest instant before which ``delta`` of open time lies up to ``end``.

    Every ``start`` at or before the result has ``business_elapsed(s, start,
    end) >= delta``, every later one less: the exact bound of a time rule
    counted in business hours.

    :return: ``None`` if there was not that much open time within
        :data:`HORIZON` before ``end``.
    """
    end = _utc(end)
    if delta <= _ZERO:
        return end
    left = delta
    for a, b in _backward(schedule, end):
        b = min(b, end)
        if b - a >= left:
            return b - left
        left -= b - a
    return None
