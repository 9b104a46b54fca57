"""Time rules: the tick, the firing ledger (once per episode) and the batch jobs."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
from sqlalchemy import func
from sqlalchemy import select

from flask_helpdesk import hookimpl
from flask_helpdesk.extension import get_state
from flask_helpdesk.models import RuleFiring
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import automation
from flask_helpdesk.services import messages
from flask_helpdesk.services import rules
from flask_helpdesk.services import tickets
from tests.rules.helpers import age
from tests.rules.helpers import rule
from tests.rules.helpers import ticket
from tests.tasks.helpers import Workers


@pytest.fixture
def workers(app) -> t.Iterator[Workers]:
    w = Workers(app)
    w.start()
    yield w
    assert w.worker is not None
    w.worker.stop()


def _get(ticket_id: int):
    return tickets.get_ticket(ticket_id, actor=SYSTEM)


def _events(ticket_id: int, type: str) -> list:
    return [e for e in tickets.list_events(ticket_id, actor=SYSTEM) if e.type == type]


def _tick(workers: Workers) -> int:
    fired = automation.tick()
    workers.join()
    get_state().db.session.rollback()
    return fired


def test_pending_reminder_fires_once_per_episode(team, workers) -> None:
    rule(name="remind", enabled=True, when={"type": "time", "since": "status_changed",
                                            "minutes": 24 * 60},
         conditions={"all": [{"field": "status", "op": "is", "value": "pending"}]},
         actions=[{"type": "reply", "text": "Hi {{ customer.name }}, any news?"}])
    due, fresh = ticket(team, status="pending"), ticket(team, status="pending")
    age(due.id, hours=25)
    assert _tick(workers) == 1
    assert [m.text for m in messages.list_messages(due.id, actor=SYSTEM) if m.kind == "reply"] \
        == ["Hi Carla Customer, any news?"]
    assert _events(fresh.id, "message.replied") == []
    assert _tick(workers) == 0  # same episode: nothing fires twice
    # A new episode (the customer answered, then the ticket went pending again) fires again.
    tickets.update_ticket(due.id, actor=team.admin, changes=TicketChanges(status="open"))
    tickets.update_ticket(due.id, actor=team.admin, changes=TicketChanges(status="pending"))
    age(due.id, hours=25)
    assert _tick(workers) == 1
    assert len(_events(due.id, "message.replied")) == 2


def test_bulk_path_raises_priority_notes_and_queues_notifications(team, workers,
                                                                  recorder) -> None:
    rule(name="stale", enabled=True, when={"type": "time", "since": "updated",
                                           "minutes": 3 * 24 * 60},
         conditions={"all": [{"field": "status", "op": "is", "value": "open"}]},
         actions=[{"type": "raise_priority"}, {"type": "note", "text": "Untouched 3 days"},
                  {"type": "reply", "text": "Ticket #{{ ticket.id }}: still on it."}])
    stale = [ticket(team, priority=p) for p in ("low", "urgent")]
    closed = ticket(team)
    tickets.update_ticket(closed.id, actor=SYSTEM, changes=TicketChanges(status="resolved"))
    for tk in (*stale, closed):
        age(tk.id, days=4)
    recorder.clear()
    assert _tick(workers) == 2
    assert [_get(tk.id).priority_name for tk in stale] == ["normal", "urgent"]
    low = stale[0].id
    assert [(e.data["old"], e.data["new"], e.actor_name) for e in _events(low, "ticket.updated")
            ] == [("low", "normal", "Rule: stale")]
    listed = messages.list_messages(low, actor=SYSTEM)
    assert [m.text for m in listed if m.kind == "note"] == ["Untouched 3 days"]
    assert [m.text for m in listed if m.kind == "reply"] == [f"Ticket #{low}: still on it."]
    # Events were dispatched after commit, so hooks (and delivery) saw them.
    assert {"note.added", "message.replied", "ticket.updated"} <= set(recorder.types)
    assert _events(closed.id, "note.added") == []
    assert _tick(workers) == 0
    count = get_state().db.session.scalar(select(func.count()).select_from(RuleFiring))
    assert count == 2


def test_bulk_path_on_many_tickets_changes_and_delivers_every_one(team, workers) -> None:
    """More tickets than a short IN list (one JSON or array parameter) and several
    delivery batches: every ticket is changed once and every reply goes out."""
    from flask_helpdesk.models import Message

    rule(name="stale", enabled=True, when={"type": "time", "since": "updated", "minutes": 60},
         conditions={"all": [{"field": "status", "op": "is", "value": "open"}]},
         actions=[{"type": "raise_priority"},
                  {"type": "reply", "text": "#{{ ticket.id }}: on it."}])
    many = [ticket(team, subject=f"Help {i}", priority="low") for i in range(60)]
    for tk in many:
        age(tk.id, hours=2)
    assert _tick(workers) == 60
    workers.drain(lambda: get_state().db.session.scalar(select(func.count()).select_from(
        Message).where(Message.delivery_state == "sent", Message.kind == "reply")) == 60)
    assert {_get(tk.id).priority_name for tk in many} == {"normal"}
    replies = get_state().db.session.scalars(select(Message.text).where(
        Message.kind == "reply").order_by(Message.ticket_id))
    assert list(replies) == [f"#{tk.id}: on it." for tk in many]
    assert _tick(workers) == 0


def test_tick_does_not_fire_tickets_changed_since(team, workers) -> None:
    r = rule(name="close", enabled=True, when={"type": "time", "since": "created",
                                               "minutes": 60},
             conditions={"all": [{"field": "status", "op": "is", "value": "resolved"}]},
             actions=[{"type": "set_status", "status": "closed"}])
    tk = ticket(team)
    tickets.update_ticket(tk.id, actor=SYSTEM, changes=TicketChanges(status="resolved"))
    age(tk.id, hours=2)
    assert rules.dry_run(r.id, actor=SYSTEM).ticket_ids == [tk.id]
    assert _tick(workers) == 1
    assert _get(tk.id).status == "closed"
    assert [e.actor_name for e in _events(tk.id, "ticket.status_changed")][-1] == "Rule: close"


def test_closed_tickets_are_never_picked_and_a_late_close_is_skipped(team, workers) -> None:
    stale = rule(name="stale", enabled=True, when={"type": "time", "since": "updated",
                                                   "minutes": 60},
                 actions=[{"type": "raise_priority"}, {"type": "reply", "text": "Still here?"}])
    notice = rule(name="notice", actions=[{"type": "add_tags", "tags": ["outage"]}])
    closed, open_, late = ticket(team), ticket(team), ticket(team)
    for status in ("resolved", "closed"):
        tickets.update_ticket(closed.id, actor=SYSTEM, changes=TicketChanges(status=status))
    for tk in (closed, open_, late):
        age(tk.id, hours=2)
    # A closed ticket cannot change: neither the dry runs nor the runs offer it.
    assert rules.dry_run(stale.id, actor=SYSTEM).ticket_ids == [open_.id, late.id]
    assert rules.dry_run(notice.id, actor=SYSTEM).ticket_ids == [open_.id, late.id]
    # Closed between the tick and its batch job: skipped, not changed.
    workers.stop()
    assert automation.tick() == 2
    for status in ("resolved", "closed"):
        tickets.update_ticket(late.id, actor=SYSTEM, changes=TicketChanges(status=status))
    workers.start()
    workers.join()
    get_state().db.session.rollback()
    assert [_get(tk.id).priority_name for tk in (closed, open_, late)] == [
        "normal", "high", "normal"]
    assert [len(_events(tk.id, "message.replied")) for tk in (closed, open_, late)] == [0, 1, 0]
    run = rules.run_rule(notice.id, actor=team.manager)
    workers.join()
    get_state().db.session.rollback()
    done = rules.get_run(run.id, actor=team.manager)
    assert (done.state, done.total, done.touched, done.failed) == ("done", 1, 1, 0)
    assert [[tg.name for tg in _get(tk.id).tags] for tk in (closed, open_, late)] == [
        [], ["outage"], []]


def test_time_rule_with_text_condition_goes_ticket_by_ticket(team, workers) -> None:
    rule(name="refund-wait", enabled=True,
         when={"type": "time", "since": "last_customer_message", "minutes": 60},
         conditions={"all": [{"field": "text", "op": "contains_any", "value": "возврат"}]},
         actions=[{"type": "add_tags", "tags": ["refund-waiting"]}])
    hit, miss = ticket(team, text="Хочу ВОЗВРАТ денег"), ticket(team, text="возвратный")
    age(hit.id, hours=2)
    age(miss.id, hours=2)
    assert _tick(workers) == 1
    assert [tg.name for tg in _get(hit.id).tags] == ["refund-waiting"]
    assert _get(miss.id).tags == []


def test_run_rule_job_reports_progress(team, workers) -> None:
    made = [ticket(team, f"Printer {i}") for i in range(3)]
    r = rule(name="printers", conditions={"all": [
        {"field": "subject", "op": "contains_any", "value": "printer"}]},
        actions=[{"type": "add_tags", "tags": ["printer"]}])
    run = rules.run_rule(r.id, actor=team.manager)
    workers.join()
    get_state().db.session.rollback()
    done = rules.get_run(run.id, actor=team.manager)
    assert (done.state, done.total, done.done, done.touched) == ("done", 3, 3, 3)
    assert all([tg.name for tg in _get(tk.id).tags] == ["printer"] for tk in made)


class TagPlan:
    @hookimpl
    def helpdesk_register_rule_actions(self) -> dict[str, t.Any]:
        def validate(action: dict[str, t.Any]) -> dict[str, t.Any]:
            from flask_helpdesk import ValidationError

            if not action.get("plan"):
                raise ValidationError("tag_plan needs a plan.", field="actions")
            return {"type": "tag_plan", "plan": action["plan"]}

        def apply(ticket_id: int, actor: t.Any, action: dict[str, t.Any]) -> None:
            tickets.update_ticket(ticket_id, actor=actor, changes=TicketChanges(
                add_tags=[f"plan-{action['plan']}"]))

        return {"tag_plan": {"validate": validate, "apply": apply}}


def test_plugin_actions(app_factory) -> None:
    from flask_helpdesk import ValidationError
    from flask_helpdesk.services import customers

    app = app_factory(plugins=[TagPlan()])
    with app.app_context():
        customer = customers.create_customer(actor=SYSTEM, name="C",
                                             identities=[("email", "c@example.org")])
        with pytest.raises(ValidationError, match="needs a plan"):
            rule(actions=[{"type": "tag_plan"}])
        rule(enabled=True, when={"type": "event", "on": "ticket.created"},
             actions=[{"type": "tag_plan", "plan": "gold"}])
        tk = tickets.create_ticket(actor=SYSTEM, customer_id=customer.id, subject="s", text="t")
        assert [tg.name for tg in _get(tk.id).tags] == ["plan-gold"]


def test_default_rules_remind_resolve_and_close(team, workers) -> None:
    from sqlalchemy import update

    from flask_helpdesk.models import Ticket
    from flask_helpdesk.models import utcnow
    from flask_helpdesk.services import RuleChanges

    installed = rules.install_defaults(actor=team.admin)
    assert len(installed) == 5 and not any(r.enabled for r in installed)
    assert [r.name for r in installed][-1] == "Out-of-hours auto-reply"
    assert rules.install_defaults(actor=team.admin) == []
    for r in installed:
        rules.update_rule(r.id, actor=team.admin, changes=RuleChanges(enabled=True))
    tk = ticket(team, status="pending")
    age(tk.id, hours=25)
    assert _tick(workers) == 1
    assert [tg.name for tg in _get(tk.id).tags] == ["reminded"]
    reminder = [m for m in messages.list_messages(tk.id, actor=SYSTEM) if m.kind == "reply"]
    assert "no longer relevant" in reminder[0].text and reminder[0].meta["automatic"]
    s = get_state().db.session
    s.execute(update(Ticket).where(Ticket.id == tk.id).values(
        last_agent_reply_at=utcnow() - dt.timedelta(hours=73)))
    s.commit()
    assert _tick(workers) == 1
    assert _get(tk.id).status == "resolved"
    assert [m.text for m in messages.list_messages(tk.id, actor=SYSTEM) if m.kind == "note"] \
        == ["Resolved automatically: no answer 72 hours after the reminder."]
    s.execute(update(Ticket).where(Ticket.id == tk.id).values(
        status_changed_at=utcnow() - dt.timedelta(days=8)))
    s.commit()
    assert _tick(workers) == 1
    assert _get(tk.id).status == "closed"
