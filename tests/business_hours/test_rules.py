"""Business hours in rules: the inside/outside condition and time rules counted in open time."""

from __future__ import annotations

import typing as t

import pytest
from sqlalchemy import select

from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Ticket
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import automation
from flask_helpdesk.services import rule_conditions
from flask_helpdesk.services import rules
from flask_helpdesk.services import tickets
from tests.business_hours.helpers import always_open
from tests.business_hours.helpers import closed_until_day_after_tomorrow
from tests.business_hours.helpers import open_three_days_ago
from tests.rules.helpers import age
from tests.rules.helpers import rule
from tests.rules.helpers import ticket
from tests.tasks.helpers import Workers

OUTSIDE = {"field": "business_hours", "op": "outside", "value": None}


@pytest.fixture
def workers(app) -> t.Iterator[Workers]:
    w = Workers(app)
    w.start()
    yield w
    assert w.worker is not None
    w.worker.stop()


def _tags(ticket_id: int) -> list[str]:
    return [tg.name for tg in tickets.get_ticket(ticket_id, actor=SYSTEM).tags]


def _tick(workers: Workers, **kw: t.Any) -> int:
    fired = automation.tick(**kw)
    workers.join()
    get_state().db.session.rollback()
    return fired


def _calendars(team) -> None:
    """Support works by a closed calendar, billing by an open one; the default is open."""
    closed, _opens = closed_until_day_after_tomorrow()
    open_ = always_open(is_default=True)
    agents.update_group(team.support.id, actor=SYSTEM, calendar_id=closed.id)
    agents.update_group(team.billing.id, actor=SYSTEM, calendar_id=open_.id)


def test_event_rule_outside_business_hours(team) -> None:
    _calendars(team)
    rule(name="late", enabled=True, when={"type": "event", "on": "ticket.created"},
         conditions={"all": [OUTSIDE]}, actions=[{"type": "add_tags", "tags": ["late"]}])
    late = ticket(team, group_id=team.support.id)
    on_time = ticket(team, group_id=team.billing.id)
    no_group = ticket(team)  # the default calendar: open
    assert _tags(late.id) == ["late"]
    assert _tags(on_time.id) == [] and _tags(no_group.id) == []


def test_sql_and_python_forms_agree(team) -> None:
    from flask_helpdesk.services import CalendarChanges
    from flask_helpdesk.services import calendars

    closed, _opens = closed_until_day_after_tomorrow()
    always = always_open()
    agents.update_group(team.support.id, actor=SYSTEM, calendar_id=closed.id)
    made = [ticket(team, group_id=team.support.id), ticket(team, group_id=team.billing.id),
            ticket(team)]
    every = {tk.id for tk in made}
    found = {}
    for default in (None, closed.id):
        if default is not None:
            calendars.update_calendar(default, actor=SYSTEM,
                                      changes=CalendarChanges(is_default=True))
        for op in ("inside", "outside"):
            for value in (None, closed.id, always.id):
                conditions = {"all": [{"field": "business_hours", "op": op, "value": value}]}
                sql = set(get_state().db.session.scalars(select(Ticket.id).where(
                    rule_conditions.to_sql(conditions))))
                python = {tk.id for tk in made if rule_conditions.matches(conditions,
                          rule_conditions.Facts(tickets.get_ticket(tk.id, actor=SYSTEM)))}
                assert sql == python, (default, op, value)
                found[default, op, value] = sql
    # No default calendar: billing and ungrouped tickets count as always open.
    assert found[None, "outside", None] == {made[0].id}
    assert found[closed.id, "outside", None] == every
    assert found[None, "inside", always.id] == every
    assert found[None, "outside", closed.id] == every


def test_manual_run_selects_tickets_outside_hours(team) -> None:
    _calendars(team)
    r = rule(name="notice", conditions={"all": [OUTSIDE]})
    late = ticket(team, group_id=team.support.id)
    ticket(team, group_id=team.billing.id)
    assert rules.dry_run(r.id, actor=team.manager).ticket_ids == [late.id]


def test_time_rule_counted_in_business_hours_fires_once_per_episode(team, workers) -> None:
    weekly = open_three_days_ago(is_default=True)  # 8 open hours, three days ago
    agents.update_group(team.billing.id, actor=SYSTEM, calendar_id=always_open().id)
    rule(name="chase", enabled=True,
         when={"type": "time", "since": "status_changed", "minutes": 8 * 60,
               "business_hours": True},
         conditions={"all": [{"field": "status", "op": "is", "value": "pending"}]},
         actions=[{"type": "add_tags", "tags": ["chased"]}])
    before = ticket(team, status="pending")  # pending since before the open day
    after = ticket(team, status="pending")  # pending since after it: 0 business hours
    billing = ticket(team, status="pending", group_id=team.billing.id)  # open 24/7
    age(before.id, days=4)
    age(after.id, days=2)
    age(billing.id, hours=9)
    assert _tick(workers) == 2
    assert _tags(before.id) == ["chased"] and _tags(billing.id) == ["chased"]
    assert _tags(after.id) == []
    assert _tick(workers) == 0  # same episodes
    # A new episode of the same ticket fires again, once.
    tickets.update_ticket(before.id, actor=SYSTEM, changes=TicketChanges(
        status="open", remove_tags=["chased"]))
    tickets.update_ticket(before.id, actor=SYSTEM, changes=TicketChanges(status="pending"))
    age(before.id, days=4)
    assert _tick(workers) == 1 and _tags(before.id) == ["chased"]
    # A rule naming its calendar counts that calendar's hours, whatever the group's.
    rule(name="named", enabled=True,
         when={"type": "time", "since": "status_changed", "minutes": 8 * 60,
               "business_hours": True, "calendar_id": weekly.id},
         conditions={"all": [{"field": "status", "op": "is", "value": "pending"}]},
         actions=[{"type": "add_tags", "tags": ["named"]}])
    assert _tick(workers) == 1 and "named" in _tags(before.id)
    assert "named" not in _tags(billing.id)


def test_tick_goes_on_after_a_batch_thinned_by_text_checks(team, workers) -> None:
    rule(name="refunds", enabled=True,
         when={"type": "time", "since": "created", "minutes": 60},
         conditions={"all": [{"field": "subject", "op": "contains_any", "value": "refund"}]},
         actions=[{"type": "add_tags", "tags": ["refund"]}])
    made = [ticket(team, subject) for subject in ("Refunded?", "Refund", "Refund please")]
    for tk in made:
        age(tk.id, hours=2)
    # The first batch of two holds one false candidate ("refunded"); the next batch counts.
    assert _tick(workers, batch_size=2) == 2
    assert [_tags(tk.id) for tk in made] == [[], ["refund"], ["refund"]]


def test_bad_business_hours_rules_are_refused(team) -> None:
    from flask_helpdesk import ValidationError

    with pytest.raises(ValidationError, match="business_hours must be true or false"):
        rule(when={"type": "time", "since": "created", "minutes": 5, "business_hours": "yes"})
    with pytest.raises(ValidationError, match="needs business_hours"):
        rule(when={"type": "time", "since": "created", "minutes": 5, "calendar_id": 1})
    with pytest.raises(ValidationError, match="operators: inside, outside"):
        rule(conditions={"all": [{"field": "business_hours", "op": "is", "value": None}]})
    with pytest.raises(ValidationError, match="can never all be true"):
        rule(conditions={"all": [OUTSIDE, {**OUTSIDE, "op": "inside"}]})
    with pytest.raises(ValidationError, match="Calendar 7 does not exist"):
        rule(conditions={"all": [{"field": "business_hours", "op": "inside", "value": 7}]})


def test_the_sql_bound_selects_exactly_the_tickets_due_in_open_time(team) -> None:
    import datetime as dt

    from flask_helpdesk.business_hours import business_elapsed
    from flask_helpdesk.models import utcnow
    from flask_helpdesk.services import calendars

    weekly = open_three_days_ago(is_default=True)
    office = calendars.create_calendar(
        actor=SYSTEM, name="Office", timezone="America/Sao_Paulo", periods=[
            {"weekday": d, "start": s, "end": e} for d in ("mon", "tue", "wed", "thu", "fri")
            for s, e in (("09:00", "12:00"), ("13:00", "18:00"))],
        holidays=[{"date": (utcnow().date() - dt.timedelta(days=2)).isoformat()}])
    agents.update_group(team.support.id, actor=SYSTEM, calendar_id=office.id)
    r = rule(name="due", when={"type": "time", "since": "created", "minutes": 10 * 60,
                               "business_hours": True})
    made = []
    for i in range(30):
        tk = ticket(team, group_id=team.support.id if i % 2 else None)
        age(tk.id, hours=5 * i + 0.5)
        made.append(tk)
    now = utcnow()
    expected = set()
    for tk in made:
        row = tickets.get_ticket(tk.id, actor=SYSTEM)
        schedule = (office if row.group_id else weekly).schedule
        if business_elapsed(schedule, row.created_at, now) >= dt.timedelta(hours=10):
            expected.add(tk.id)
    assert set(automation.candidates(r, now=now)) == expected
    assert 0 < len(expected) < len(made)
