"""Calendars as admins and managers manage them, and the calendar a group uses."""

from __future__ import annotations

import pytest

from flask_helpdesk import Conflict
from flask_helpdesk import NotFound
from flask_helpdesk import PermissionDenied
from flask_helpdesk import ValidationError
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import CalendarChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import calendars
from flask_helpdesk.services import rules

WEEK = [{"weekday": "tue", "start": "14:00", "end": "18:00"},
        {"weekday": "mon", "start": "09:00", "end": "13:00"},
        {"weekday": "mon", "start": "14:00", "end": "18:00"}]


def make(name: str = "Office", **kw):
    kw.setdefault("timezone", "Europe/Berlin")
    kw.setdefault("periods", WEEK)
    return calendars.create_calendar(actor=SYSTEM, name=name, **kw)


def test_admin_creates_a_calendar_and_managers_read_it(team) -> None:
    made = calendars.create_calendar(
        actor=team.admin, name="Berlin office", timezone="Europe/Berlin", periods=WEEK,
        holidays=[{"date": "2026-12-25", "name": "Christmas"}, {"date": "2026-01-01"}])
    assert [(p["weekday"], p["start"]) for p in made.periods] == [
        ("mon", "09:00"), ("mon", "14:00"), ("tue", "14:00")]
    assert made.holidays == [{"date": "2026-01-01", "name": ""},
                             {"date": "2026-12-25", "name": "Christmas"}]
    assert [c.name for c in calendars.list_calendars(actor=team.manager)] == ["Berlin office"]
    assert calendars.get_calendar(made.id, actor=team.manager).timezone == "Europe/Berlin"
    with pytest.raises(PermissionDenied):
        calendars.create_calendar(actor=team.manager, name="Mine", timezone="UTC")
    with pytest.raises(PermissionDenied):
        calendars.update_calendar(made.id, actor=team.manager,
                                  changes=CalendarChanges(name="x"))
    with pytest.raises(PermissionDenied):
        calendars.list_calendars(actor=team.anna)
    with pytest.raises(NotFound):
        calendars.get_calendar(999, actor=team.admin)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"timezone": "Mars/Olympus"}, "timezone", "not a known time zone"),
    ({"timezone": "../../etc/passwd"}, "timezone", "not a known time zone"),
    ({"periods": [{"weekday": "mon", "start": "22:00", "end": "06:00"}]}, "periods",
     "split an overnight period"),
    ({"periods": [{"weekday": "mon", "start": "09:00", "end": "12:00"},
                  {"weekday": "mon", "start": "11:00", "end": "13:00"}]}, "periods",
     "overlap on mon"),
    ({"periods": [{"weekday": "monday", "start": "09:00", "end": "12:00"}]}, "weekday",
     "must be one of"),
    ({"periods": [{"weekday": "mon", "start": "9:00", "end": "12:00"}]}, "periods",
     "HH:MM"),
    ({"periods": [{"weekday": "mon", "start": "09:00", "end": "24:01"}]}, "periods",
     "HH:MM"),
    ({"holidays": [{"date": "2026-02-30"}]}, "holidays", "YYYY-MM-DD"),
    ({"holidays": [{"date": "2026-12-25"}, {"date": "2026-12-25"}]}, "holidays",
     "listed twice"),
    ({"name": " "}, "name", "must not be empty"),
])
def test_bad_input_is_refused_with_the_field(team, changes, field, message) -> None:
    calendar = make()
    with pytest.raises(ValidationError, match=message) as info:
        calendars.update_calendar(calendar.id, actor=team.admin,
                                  changes=CalendarChanges(**changes))
    assert info.value.field == field
    assert calendars.get_calendar(calendar.id, actor=SYSTEM).timezone == "Europe/Berlin"


def test_midnight_periods_and_one_default(team) -> None:
    night = make("Night", periods=[{"weekday": "mon", "start": "22:00", "end": "24:00"},
                                   {"weekday": "tue", "start": "00:00", "end": "06:00"}],
                 is_default=True)
    day = make("Day", is_default=True)
    assert not calendars.get_calendar(night.id, actor=SYSTEM).is_default
    assert calendars.default_calendar().id == day.id
    with pytest.raises(Conflict):
        make("Day")


def test_groups_use_their_calendar_else_the_default(team) -> None:
    berlin, moscow = make("Berlin"), make("Moscow", timezone="Europe/Moscow")
    assert calendars.calendar_for_group(team.support.id) is None  # always open
    calendars.update_calendar(berlin.id, actor=team.admin,
                              changes=CalendarChanges(is_default=True))
    agents.update_group(team.billing.id, actor=team.admin, calendar_id=moscow.id)
    assert calendars.calendar_for_group(team.support.id).name == "Berlin"
    assert calendars.calendar_for_group(team.billing.id).name == "Moscow"
    assert calendars.calendar_for_group(None).name == "Berlin"
    with pytest.raises(ValidationError) as info:
        agents.update_group(team.billing.id, actor=team.admin, calendar_id=999)
    assert info.value.field == "calendar_id"
    group = agents.create_group(actor=team.admin, name="Night", calendar_id=moscow.id)
    assert group.calendar_id == moscow.id
    # Deleting a calendar sends its groups back to the default.
    calendars.delete_calendar(moscow.id, actor=team.admin)
    assert calendars.calendar_for_group(team.billing.id).name == "Berlin"


def test_a_calendar_named_by_a_rule_cannot_be_deleted(team) -> None:
    calendar = make()
    rules.create_rule(actor=SYSTEM, name="After hours", when={
        "type": "event", "on": "message.received"}, conditions={"all": [
            {"field": "business_hours", "op": "outside", "value": calendar.id}]},
        actions=[{"type": "add_tags", "tags": ["late"]}])
    with pytest.raises(Conflict, match="After hours") as info:
        calendars.delete_calendar(calendar.id, actor=team.admin)
    assert [r.name for r in calendars.calendar_rules(calendar.id, actor=team.manager)] == [
        "After hours"]
    assert info.value.details == {"rules": [r.id for r in rules.list_rules(actor=SYSTEM)]}
    with pytest.raises(ValidationError, match="Calendar 999 does not exist"):
        rules.create_rule(actor=SYSTEM, name="x", when={
            "type": "time", "since": "created", "minutes": 60, "business_hours": True,
            "calendar_id": 999}, actions=[{"type": "add_tags", "tags": ["x"]}])


@pytest.mark.parametrize(("changes", "field", "index"), [
    ({"periods": [*WEEK, {"weekday": "mon", "start": "12:00", "end": "13:30"}]}, "periods", 3),
    ({"periods": [WEEK[0], {"weekday": "sunday", "start": "09:00", "end": "12:00"}]},
     "weekday", 1),
    ({"periods": [WEEK[0], {"weekday": "mon", "start": "9", "end": "12:00"}]}, "periods", 1),
    ({"holidays": [{"date": "2026-12-25"}, {"date": "2026-12-25"}]}, "holidays", 1),
    ({"holidays": [{"date": "2026-01-01"}, {"date": "2026-12-25", "name": "x" * 101}]},
     "holidays", 1),
])
def test_errors_name_the_period_or_holiday_at_fault(team, changes, field, index) -> None:
    calendar = make()
    with pytest.raises(ValidationError) as info:
        calendars.update_calendar(calendar.id, actor=team.admin,
                                  changes=CalendarChanges(**changes))
    assert (info.value.field, info.value.details["index"]) == (field, index)
