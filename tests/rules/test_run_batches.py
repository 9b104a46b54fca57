"""Manual runs shared out in batch jobs; set-based batches write the services' history."""

from __future__ import annotations

import typing as t

import pytest
from sqlalchemy import select

from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Message
from flask_helpdesk.models import ReplyTemplate
from flask_helpdesk.models import TicketEvent
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import customers
from flask_helpdesk.services import rules
from flask_helpdesk.services import templates
from flask_helpdesk.services import tickets
from tests.tasks.helpers import Workers


@pytest.fixture
def batched(app_factory: t.Any) -> t.Iterator[t.Any]:
    app = app_factory(config={"HELPDESK_RULE_RUN_BATCH_SIZE": 2})
    with app.app_context():
        workers = Workers(app)
        workers.start()
        yield workers
        assert workers.worker is not None
        workers.worker.stop()


def _history(ticket_id: int) -> list[tuple[str, str, dict[str, t.Any]]]:
    rows = get_state().db.session.scalars(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket_id, TicketEvent.actor_kind == "rule").order_by(
        TicketEvent.id))
    drop = ("message_id",)
    return [(e.type, e.actor_name, {k: v for k, v in e.data.items() if k not in drop})
            for e in rows]


def test_an_outage_run_is_shared_in_batches_and_matches_the_services(batched: t.Any) -> None:
    boss = agents.create_agent(actor=SYSTEM, name="Max Manager", email="m@example.com",
                               user_id="2", role="manager")
    carla = customers.create_customer(actor=SYSTEM, name="Carla Gomes",
                                      identities=[("email", "carla@example.org")])
    notice = templates.create_template(
        actor=SYSTEM, name="Outage notice", shared=True, actions={"add_tags": ["told"]},
        body="Hello {{ customer.first_name }}, ticket #{{ ticket.id }} is hit by the outage.")
    made = [tickets.create_ticket(actor=SYSTEM, customer_id=carla.id, subject=f"Down {i}",
                                  text="Nothing loads", tags=["outage"]) for i in range(5)]
    other = tickets.create_ticket(actor=SYSTEM, customer_id=carla.id, subject="Invoice",
                                  text="Where is it?")
    actions = [{"type": "send_template", "template_id": notice.id},
               {"type": "add_tags", "tags": ["notified"]},
               {"type": "set_status", "status": "pending"}]
    outage = {"all": [{"field": "tags", "op": "has_any", "value": ["outage"]}]}
    rule = rules.create_rule(actor=SYSTEM, name="Outage", when={"type": "manual"},
                             conditions=outage, actions=actions)
    run = rules.run_rule(rule.id, actor=boss)
    batched.join()
    s = get_state().db.session
    s.rollback()
    done = rules.get_run(run.id, actor=boss)
    assert (done.state, done.total, done.done, done.touched, done.failed) == (
        "done", 5, 5, 5, 0)
    for tk in made:
        got = tickets.get_ticket(tk.id, actor=SYSTEM)
        assert got.status == "pending"
        assert sorted(tag.name for tag in got.tags) == ["notified", "outage", "told"]
        [reply] = s.scalars(select(Message).where(Message.ticket_id == tk.id,
                                                  Message.kind == "reply"))
        assert reply.text == f"Hello Carla, ticket #{tk.id} is hit by the outage."
        assert reply.author_name == "Rule: Outage" and reply.meta == {"automatic": True}
        assert reply.delivery_state in ("queued", "sent", "failed")
    assert tickets.get_ticket(other.id, actor=SYSTEM).status == "open"
    assert s.get(ReplyTemplate, notice.id).usage_count == 5
    fast = _history(made[1].id)

    # The same rule ticket by ticket through the services (a note action is not
    # set-based with a group change) writes the same history, naming the rule.
    slow = tickets.create_ticket(actor=SYSTEM, customer_id=carla.id, subject="Down again",
                                 text="Still nothing", tags=["outage"])
    tickets.update_ticket(made[0].id, actor=SYSTEM, changes=TicketChanges(
        remove_tags=["outage"]))
    group = agents.create_group(actor=SYSTEM, name="Support")
    rules.update_rule(rule.id, actor=SYSTEM, changes=rules.RuleChanges(
        actions=[*actions, {"type": "set_group", "group_id": group.id}]))
    rules.run_rule(rule.id, actor=boss)
    batched.join()
    s.rollback()
    by_services = _history(slow.id)
    assert by_services[:-1] == fast
    assert by_services[-1][0] == "ticket.assigned"
    assert [e[0] for e in fast] == ["message.replied", "template.applied",
                                    "ticket.tags_changed", "ticket.tags_changed",
                                    "ticket.status_changed"]
