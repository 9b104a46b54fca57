"""Business hours arithmetic: openings, elapsed open time, DST, holidays, invariants."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from flask_helpdesk.business_hours import WEEKDAYS
from flask_helpdesk.business_hours import Schedule
from flask_helpdesk.business_hours import add_business_time
from flask_helpdesk.business_hours import business_elapsed
from flask_helpdesk.business_hours import closed_since
from flask_helpdesk.business_hours import is_open
from flask_helpdesk.business_hours import next_opening
from flask_helpdesk.business_hours import subtract_business_time
from flask_helpdesk.business_hours import wall_to_utc

H = dt.timedelta(hours=1)


def office(zone: str = "Europe/Berlin", holidays: tuple[str, ...] = ()) -> Schedule:
    """Mon-Fri 09:00-13:00 and 14:00-18:00."""
    periods = [{"weekday": d, "start": s, "end": e} for d in WEEKDAYS[:5]
               for s, e in (("09:00", "13:00"), ("14:00", "18:00"))]
    return Schedule.build(zone, periods, [{"date": d} for d in holidays])


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args)  # noqa: DTZ001 - naive UTC, as every helpdesk timestamp


def test_two_periods_a_day_with_a_lunch_break() -> None:
    berlin = office()  # December: UTC+1
    thursday = (2026, 12, 3)
    assert not is_open(berlin, utc(*thursday, 7, 59))
    assert is_open(berlin, utc(*thursday, 8, 0))  # 09:00 local: start included
    assert not is_open(berlin, utc(*thursday, 12, 0))  # 13:00 local: end excluded
    assert next_opening(berlin, utc(*thursday, 12, 30)) == utc(*thursday, 13, 0)
    assert closed_since(berlin, utc(*thursday, 12, 30)) == utc(*thursday, 12, 0)
    assert closed_since(berlin, utc(*thursday, 10, 0)) is None
    assert business_elapsed(berlin, utc(*thursday, 0, 0), utc(*thursday, 23, 0)) == 8 * H


def test_weekends_and_holidays_are_skipped() -> None:
    berlin = office(holidays=("2026-12-25", "2026-12-28"))
    thursday_evening = utc(2026, 12, 24, 17, 30)  # 18:30 local; Fri 25 and Mon 28 are off
    assert next_opening(berlin, thursday_evening) == utc(2026, 12, 29, 8, 0)
    assert closed_since(berlin, utc(2026, 12, 27, 12, 0)) == utc(2026, 12, 24, 17, 0)
    assert business_elapsed(berlin, thursday_evening, utc(2026, 12, 29, 9, 0)) == H
    assert add_business_time(berlin, utc(2026, 12, 24, 16, 0), 2 * H) == utc(2026, 12, 29, 9, 0)


def test_moscow_has_no_clock_changes() -> None:
    moscow = office("Europe/Moscow")  # UTC+3 all year
    assert next_opening(moscow, utc(2026, 1, 5, 0, 0)) == utc(2026, 1, 5, 6, 0)
    assert next_opening(moscow, utc(2026, 7, 6, 0, 0)) == utc(2026, 7, 6, 6, 0)


def test_berlin_opens_at_nine_local_in_summer_and_winter() -> None:
    berlin = office()
    assert next_opening(berlin, utc(2026, 3, 27, 17, 0)) == utc(2026, 3, 30, 7, 0)  # CEST
    assert next_opening(berlin, utc(2026, 10, 23, 17, 0)) == utc(2026, 10, 26, 8, 0)  # CET
    week = business_elapsed(berlin, utc(2026, 3, 23), utc(2026, 3, 30, 10, 0))
    assert week == 40 * H + 3 * H  # a full week, then Monday 09:00-12:00 local (CEST)


@pytest.mark.parametrize(("day", "hours"), [((2026, 3, 29), 3), ((2026, 10, 25), 5)])
def test_a_night_period_lasts_what_the_clock_says_across_a_berlin_change(
        day: tuple[int, int, int], hours: int) -> None:
    night = Schedule.build("Europe/Berlin", [{"weekday": "sun", "start": "01:00",
                                              "end": "05:00"}])
    start = utc(*day) - dt.timedelta(days=1)
    assert business_elapsed(night, start, start + dt.timedelta(days=2)) == hours * H


def test_skipped_and_repeated_wall_times() -> None:
    berlin = Schedule.build("Europe/Berlin", []).zone
    # 02:30 does not exist on 29 March 2026: the clock jumps from 02:00 to 03:00 (01:00 UTC).
    assert wall_to_utc(berlin, dt.date(2026, 3, 29), 150) == utc(2026, 3, 29, 1, 0)
    # 02:30 happens twice on 25 October 2026: the first time is 00:30 UTC.
    assert wall_to_utc(berlin, dt.date(2026, 10, 25), 150) == utc(2026, 10, 25, 0, 30)


def test_sao_paulo_changes_at_midnight() -> None:
    """Brazil's DST (until 2019) began at 00:00, so those Sundays started at 01:00."""
    sunday = Schedule.build("America/Sao_Paulo", [
        {"weekday": "sun", "start": "00:00", "end": "06:00"}])
    # 4 November 2018: 00:00 (UTC-3) became 01:00 (UTC-2) at 03:00 UTC.
    assert wall_to_utc(sunday.zone, dt.date(2018, 11, 4), 0) == utc(2018, 11, 4, 3, 0)
    assert next_opening(sunday, utc(2018, 11, 3, 12)) == utc(2018, 11, 4, 3, 0)
    assert business_elapsed(sunday, utc(2018, 11, 4), utc(2018, 11, 5)) == 5 * H
    # Since 2019 the zone keeps UTC-3: 00:00 local is 03:00 UTC in every season.
    assert next_opening(sunday, utc(2026, 1, 3, 12)) == utc(2026, 1, 4, 3, 0)
    assert next_opening(sunday, utc(2026, 10, 31, 12)) == utc(2026, 11, 1, 3, 0)
    # 17 February 2019: midnight (UTC-2) became 23:00 (UTC-3) again, so Saturday
    # 22:00-24:00 lasted three hours, and Sunday 00:00-06:00 followed on.
    weekend = Schedule.build("America/Sao_Paulo", [
        {"weekday": "sun", "start": "00:00", "end": "06:00"},
        {"weekday": "sat", "start": "22:00", "end": "24:00"}])
    assert business_elapsed(weekend, utc(2019, 2, 16, 12), utc(2019, 2, 17, 12)) == 9 * H
    assert closed_since(weekend, utc(2019, 2, 17, 10)) == utc(2019, 2, 17, 9, 0)
    assert next_opening(weekend, utc(2019, 2, 16, 12)) == utc(2019, 2, 17, 0, 0)


def test_a_night_shift_is_two_periods_joined_at_midnight() -> None:
    shift = Schedule.build("UTC", [{"weekday": "mon", "start": "22:00", "end": "24:00"},
                                   {"weekday": "tue", "start": "00:00", "end": "06:00"}])
    monday = (2026, 11, 30)
    assert is_open(shift, utc(*monday, 23, 59)) and is_open(shift, utc(2026, 12, 1, 0, 0))
    assert closed_since(shift, utc(2026, 12, 1, 7, 0)) == utc(2026, 12, 1, 6, 0)
    assert closed_since(shift, utc(*monday, 21, 0)) == utc(2026, 11, 24, 6, 0)
    assert add_business_time(shift, utc(*monday, 21, 0), 3 * H) == utc(2026, 12, 1, 1, 0)


def test_a_calendar_that_never_opens() -> None:
    never = Schedule.build("UTC", [])
    assert next_opening(never, utc(2026, 1, 1)) is None
    assert closed_since(never, utc(2026, 1, 1)) is None
    assert business_elapsed(never, utc(2026, 1, 1), utc(2026, 6, 1)) == dt.timedelta(0)
    assert subtract_business_time(never, utc(2026, 1, 1), H) is None
    with pytest.raises(ValueError, match="does not open"):
        add_business_time(never, utc(2026, 1, 1), H)


# --------------------------------------------------------------- invariants

ZONES = ("Europe/Berlin", "America/Sao_Paulo", "Europe/Moscow", "UTC", "America/New_York",
         "Australia/Lord_Howe", "Asia/Kolkata")


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    periods = []
    for weekday in WEEKDAYS:
        cuts = sorted(draw(st.sets(st.integers(0, 48), max_size=4)))
        periods += [{"weekday": weekday, "start": f"{a // 2:02d}:{a % 2 * 30:02d}",
                     "end": f"{b // 2:02d}:{b % 2 * 30:02d}"}
                    for a, b in zip(cuts[::2], cuts[1::2], strict=False)]
    if not periods:
        periods = [{"weekday": draw(st.sampled_from(WEEKDAYS)), "start": "10:00",
                    "end": "11:00"}]
    holidays = draw(st.lists(st.dates(dt.date(2017, 1, 1), dt.date(2028, 1, 1)), max_size=30))
    return Schedule.build(draw(st.sampled_from(ZONES)), periods, holidays)


instants = st.datetimes(dt.datetime(2017, 1, 1), dt.datetime(2027, 1, 1))
deltas = st.integers(0, 200 * 60).map(lambda m: dt.timedelta(minutes=m))


@settings(max_examples=150, deadline=None)
@given(schedules(), instants, deltas)
def test_adding_business_time_then_measuring_it(s: Schedule, start: dt.datetime,
                                                delta: dt.timedelta) -> None:
    end = add_business_time(s, start, delta)
    assert business_elapsed(s, start, end) == delta
    assert end - start >= delta  # open time never runs faster than the clock
    if delta:
        assert is_open(s, end - dt.timedelta(seconds=1))


@settings(max_examples=150, deadline=None)
@given(schedules(), instants, deltas)
def test_subtracting_gives_the_latest_due_anchor(s: Schedule, end: dt.datetime,
                                                 delta: dt.timedelta) -> None:
    latest = subtract_business_time(s, end, delta)
    if latest is None:
        return
    assert business_elapsed(s, latest, end) == delta
    if delta:
        assert business_elapsed(s, latest + dt.timedelta(seconds=1), end) < delta


@settings(max_examples=150, deadline=None)
@given(schedules(), instants, st.integers(0, 20 * 24 * 60), st.integers(0, 20 * 24 * 60))
def test_elapsed_adds_up_and_openings_are_open(s: Schedule, a: dt.datetime, m1: int,
                                               m2: int) -> None:
    b, c = a + dt.timedelta(minutes=m1), a + dt.timedelta(minutes=m1 + m2)
    assert business_elapsed(s, a, c) == business_elapsed(s, a, b) + business_elapsed(s, b, c)
    assert business_elapsed(s, a, c) <= c - a
    opens = next_opening(s, a)
    assert opens is not None and opens >= a and is_open(s, opens)
    assert business_elapsed(s, a, opens) == dt.timedelta(0)
    assert (closed_since(s, a) is None) == is_open(s, a)


def test_a_year_of_office_hours_is_within_reach() -> None:
    """The longest time rule (a year) counted in a 40-hour week still has a due anchor."""
    berlin, end = office(), utc(2026, 12, 2, 12, 0)
    latest = subtract_business_time(berlin, end, 366 * 24 * H)
    assert latest is not None and latest.year == 2022
    assert business_elapsed(berlin, latest, end) == 366 * 24 * H
