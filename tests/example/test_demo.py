"""Demo data: a team, customers and tickets with real, dated histories."""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa
from flask import Flask

from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Agent
from flask_helpdesk.models import Customer
from flask_helpdesk.models import Group
from flask_helpdesk.models import Message
from flask_helpdesk.models import Ticket
from flask_helpdesk.models import TicketEvent
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import customers
from flask_helpdesk.services import tickets
from tests.dates import DEMO_NOW

from .conftest import SIZES
from .conftest import make_site


def _count(model: t.Any, *where: t.Any) -> int:
    session = get_state().db.session
    return int(session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)))


def test_demo_team_and_customers(site: Flask) -> None:
    with site.app_context():
        names = get_state().db.session.scalars(sa.select(Group.name)).all()
        assert sorted(names) == ["Billing", "First line support", "Tech"]
        roles = get_state().db.session.scalars(sa.select(Agent.role)).all()
        assert sorted(roles) == ["admin"] + ["agent"] * 6 + ["manager"]
        assert _count(Customer) == SIZES["customers"]
        kinds = {i.kind for c in customers.list_customers(limit=100) for i in c.identities}
        assert kinds == {"email", "phone", "telegram"}


def test_demo_tickets_have_real_histories(site: Flask) -> None:
    with site.app_context():
        assert _count(Ticket) >= SIZES["tickets"]
        types = set(get_state().db.session.scalars(sa.select(TicketEvent.type).distinct()))
        assert {"ticket.created", "message.received", "message.replied", "note.added",
                "ticket.assigned", "ticket.status_changed", "ticket.tags_changed",
                "message.delivered"} <= types
        statuses = set(get_state().db.session.scalars(sa.select(Ticket.status).distinct()))
        assert {"open", "pending", "resolved", "closed"} <= statuses
        # Every ticket was opened by a recorded event; replies went out.
        assert _count(TicketEvent, TicketEvent.type == "ticket.created") == _count(Ticket)
        assert _count(Message, Message.kind == "reply", Message.delivery_state != "sent") == 0
        # Each ticket's history reads in time order.
        rows = get_state().db.session.execute(sa.select(TicketEvent.ticket_id, TicketEvent.at)
                                              .order_by(TicketEvent.ticket_id, TicketEvent.id))
        by_ticket: dict[int, list[dt.datetime]] = {}
        for ticket_id, at in rows:
            by_ticket.setdefault(ticket_id, []).append(at)
        assert all(times == sorted(times) for times in by_ticket.values())
        assert tickets.list_events(1, actor=SYSTEM)[0].type == "ticket.created"


def test_demo_history_is_spread_over_the_past_days(site: Flask) -> None:
    with site.app_context():
        session = get_state().db.session
        first, last = session.execute(sa.select(sa.func.min(TicketEvent.at),
                                                sa.func.max(TicketEvent.at))).one()
        assert last <= DEMO_NOW
        assert last - first > dt.timedelta(days=SIZES["days"] - 5)
        sent = session.execute(sa.select(Message.created_at, Message.sent_at)
                               .where(Message.kind == "reply")).all()
        assert all(dt.timedelta(0) < s - c < dt.timedelta(minutes=5) for c, s in sent)


def test_demo_data_command_fills_an_empty_helpdesk_once(tmp_path: t.Any) -> None:
    app = make_site(tmp_path, tmp_path / "fresh.db")
    try:
        with app.app_context():
            from flask_helpdesk.testing import create_tables

            create_tables(app)
        runner = app.test_cli_runner()
        args = ["helpdesk", "demo-data", "--customers", "5", "--tickets", "12", "--seed", "3"]
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        assert "tickets: 1" in result.output
        with app.app_context():
            assert _count(Agent) == 8 and _count(Customer) == 5
        again = runner.invoke(args=args)
        assert again.exit_code != 0
        assert "empty helpdesk" in again.output
    finally:
        get_state(app).jobs.stop()


def test_demo_reply_templates(site: Flask) -> None:
    from flask_helpdesk.services import templates

    with site.app_context():
        rows = templates.list_templates(actor=SYSTEM)
        assert len(rows) == 8 and all(r.shared for r in rows)
        names = {r.name for r in rows}
        assert {"Refund issued", "Возврат оформлен", "Reembolso realizado"} <= names
        assert "Billing/Refunds" in templates.list_folders(actor=SYSTEM)
        refund = next(r for r in rows if r.name == "Refund issued")
        assert refund.actions == {"status": "pending", "add_tags": ["refund"]}
        assert [r.name for r in templates.list_templates(actor=SYSTEM, q="возврат")] == [
            "Возврат оформлен"]


def test_demo_business_hours_and_example_rules(site: Flask) -> None:
    from flask_helpdesk import business_hours as bh
    from flask_helpdesk.services import calendars
    from flask_helpdesk.services import rules

    with site.app_context():
        [calendar] = calendars.list_calendars(actor=SYSTEM)
        assert calendar.is_default and calendar.timezone == "Europe/Berlin"
        groups = get_state().db.session.scalars(sa.select(Group)).all()
        assert groups and all(g.calendar_id == calendar.id for g in groups)
        christmas = dt.datetime(DEMO_NOW.year, 12, 25, 10, 0)  # 11:00 in Berlin
        monday = dt.datetime(2026, 3, 2, 10, 0)
        assert not bh.is_open(calendar.schedule, christmas)
        assert bh.is_open(calendar.schedule, monday)
        assert not bh.is_open(calendar.schedule, monday + dt.timedelta(hours=9))
        shipped = rules.list_rules(actor=SYSTEM)
        assert {r.name for r in shipped} == {spec["name"] for spec in rules.default_rules()}
        assert not any(r.enabled for r in shipped)
