"""The demo site on several fixed days: what a team sees must not depend on the date.

Each case makes the small demo with its present at one of
:data:`tests.dates.DATES` and moves this process's clock there
(time-machine, ticking), then checks what once broke on a particular day:
the demo's histories, the inbox's filters and counts, the business calendar
and the shipped time rules. The browser tests and the other example tests
use :data:`tests.dates.DEMO_NOW` only.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import typing as t

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from example_site.commands import prepare
from flask_helpdesk import business_hours as bh
from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Tag
from flask_helpdesk.models import Ticket
from flask_helpdesk.models import TicketEvent
from flask_helpdesk.models import utcnow
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import automation
from flask_helpdesk.services import calendars
from flask_helpdesk.services import rules
from tests.dates import DATES

from .conftest import SIZES
from .conftest import Browser
from .conftest import make_site

ROW_ID = re.compile(r'<td class="hd-id">(\d+)</td>')
TBODY = '<tbody class="hd-rows"'
CLOSE_RESOLVED = "Close tickets resolved for 7 days"


@pytest.fixture(scope="module", params=DATES, ids=[d.strftime("%Y-%m-%dT%H%M") for d in DATES])
def demo_on(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[dt.datetime, t.Any]:
    """The small demo made with its present at the param: ``(present, database file)``."""
    when: dt.datetime = request.param
    tmp = tmp_path_factory.mktemp("dates")
    with time_machine.travel(when.replace(tzinfo=dt.UTC), tick=True):
        app = make_site(tmp, tmp / "site.db")
        try:
            assert prepare(app, demo_sizes=SIZES, now=when)
        finally:
            get_state(app).jobs.stop()
            with app.app_context():
                get_state(app).db.engine.dispose()
    return when, tmp / "site.db"


@pytest.fixture
def site_on(demo_on: tuple[dt.datetime, t.Any], tmp_path: t.Any) -> t.Iterator[Flask]:
    """A copy of that demo, served while this process's clock ticks from its present."""
    when, db_file = demo_on
    shutil.copy(db_file, tmp_path / "site.db")
    with time_machine.travel(when.replace(tzinfo=dt.UTC), tick=True):
        app = make_site(tmp_path, tmp_path / "site.db")
        try:
            yield app
        finally:
            get_state(app).jobs.stop()
            with app.app_context():
                get_state(app).db.session.remove()
                get_state(app).db.engine.dispose()


def _session() -> t.Any:
    return get_state().db.session


def test_the_demo_history_ends_now_and_reads_in_order(site_on: Flask) -> None:
    with site_on.app_context():
        first, last = _session().execute(
            sa.select(sa.func.min(TicketEvent.at), sa.func.max(TicketEvent.at))).one()
        assert last <= utcnow() and utcnow() - last < dt.timedelta(days=2)
        assert last - first > dt.timedelta(days=SIZES["days"] - 5)
        statuses = set(_session().scalars(sa.select(Ticket.status)))
        assert {"open", "resolved", "closed"} <= statuses


def test_the_inbox_counts_and_filters_agree_with_the_tickets(site_on: Flask) -> None:
    browser = Browser(site_on)
    browser.login("manager")
    page = browser.get("/helpdesk/tickets").text
    with site_on.app_context():
        pending = _session().scalar(sa.select(sa.func.count()).select_from(Ticket).where(
            Ticket.status == "pending", Ticket.merged_into_id.is_(None)))
        tag = _session().scalar(sa.select(Tag.name).join(Ticket.tags).group_by(Tag.name)
                                .order_by(sa.func.count().desc(), Tag.name).limit(1))
    match = re.search(r'>Waiting for the customer</a>\s*'
                      r'<span class="hd-count" data-hd-count="view-\d+">(\d+)</span>', page)
    assert match and int(match.group(1)) == pending
    tagged = browser.get(f"/helpdesk/tickets?tags={tag}").text.split(TBODY)[1]
    ids = ROW_ID.findall(tagged)
    assert ids and tagged.count(f'<span class="hd-tag">{tag}</span>') == len(ids)
    ticket = browser.get(f"/helpdesk/tickets/{ids[0]}")
    assert ticket.status_code == 200 and tag in ticket.text


def test_the_calendar_and_a_time_rule_on_that_day(site_on: Flask) -> None:
    with site_on.app_context():
        [calendar] = calendars.list_calendars(actor=SYSTEM)
        local = bh.local_time(calendar.schedule, utcnow())
        holiday = local.date().isoformat() in {h["date"] for h in calendar.holidays}
        weekday_hours = local.weekday() < 5 and 9 <= local.hour < 18
        assert bh.is_open(calendar.schedule, utcnow()) == (weekday_hours and not holiday)

        week_ago = utcnow() - dt.timedelta(days=7)
        due = set(_session().scalars(sa.select(Ticket.id).where(
            Ticket.status == "resolved", Ticket.status_changed_at <= week_ago,
            Ticket.merged_into_id.is_(None))))
        [rule] = [r for r in rules.list_rules(actor=SYSTEM) if r.name == CLOSE_RESOLVED]
        rules.update_rule(rule.id, actor=SYSTEM, changes=rules.RuleChanges(enabled=True))
        assert due and automation.tick() == len(due)
        assert automation.tick() == 0  # once per ticket and episode
        automation.apply_batch(rule.id, sorted(due))  # the rules_apply job
        closed = set(_session().scalars(sa.select(Ticket.id).where(
            Ticket.id.in_(due), Ticket.status == "closed")))
        assert closed == due
