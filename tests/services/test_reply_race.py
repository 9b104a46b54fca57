"""The collision guard under concurrency: 20 agents press "Send" at the same moment.

Each thread has its own app context (so its own session and database
connection) and replies to the same ticket with the same last-seen event and
``confirm=False``. Exactly one reply may go out; the other 19 get
:class:`~flask_helpdesk.Conflict` naming it, and keep their drafts. Runs on
PostgreSQL (the ticket row is locked ``FOR UPDATE`` while the guard checks)
and on SQLite (writers queue behind ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import threading
import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_helpdesk import Conflict
from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Agent
from flask_helpdesk.models import Message
from flask_helpdesk.models import TicketEvent
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import customers
from flask_helpdesk.services import drafts
from flask_helpdesk.services import messages
from flask_helpdesk.services import tickets

AGENTS = 20


@pytest.fixture
def app(app_factory: t.Any) -> t.Iterator[Flask]:
    # Every thread holds a connection while it waits for the ticket's lock.
    app = app_factory(config={"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": AGENTS + 2}})
    with app.app_context():
        yield app


def _send_at_once(app: Flask, agent_ids: list[int], ticket_id: int, seen: int,
                  ) -> list[object]:
    """Every agent replies in its own thread, all released by one barrier."""
    barrier = threading.Barrier(len(agent_ids))
    results: list[object] = [None] * len(agent_ids)

    def send(index: int, agent_id: int) -> None:
        with app.app_context():
            agent = get_state().db.session.get(Agent, agent_id)
            get_state().db.session.commit()  # no transaction left open while waiting
            barrier.wait(timeout=30)
            try:
                results[index] = messages.reply(
                    ticket_id, actor=agent, text=f"Answer from agent {agent_id}",
                    seen_event_id=seen, confirm=False).id
            except Exception as exc:  # collected and judged below
                results[index] = exc

    threads = [threading.Thread(target=send, args=(i, a)) for i, a in enumerate(agent_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a reply never finished"
    return results


def test_twenty_concurrent_replies_make_one_reply_and_nineteen_conflicts(app: Flask) -> None:
    group = agents.create_group(actor=SYSTEM, name="Refunds")
    team = [agents.create_agent(actor=SYSTEM, name=f"Agent {i}", user_id=f"u{i}",
                                groups=[group.id]) for i in range(AGENTS)]
    customer = customers.create_customer(actor=SYSTEM, name="Carla",
                                         identities=[("email", "carla@example.org")])
    ticket = tickets.create_ticket(actor=SYSTEM, customer_id=customer.id, subject="Refund",
                                   text="Where is my money?", group_id=group.id)
    seen = get_state().db.session.scalar(
        sa.select(sa.func.max(TicketEvent.id)).where(TicketEvent.ticket_id == ticket.id))
    for agent in team:
        drafts.save_draft(ticket.id, actor=agent, kind="reply", seen_event_id=seen,
                          text=f"Answer from agent {agent.id}")
    ids, ticket_id = [agent.id for agent in team], ticket.id
    get_state().db.session.remove()

    results = _send_at_once(app, ids, ticket_id, seen)

    unexpected = [r for r in results if not isinstance(r, int | Conflict)]
    assert not unexpected, f"errors other than Conflict: {unexpected!r}"
    sent = [r for r in results if isinstance(r, int)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert (len(sent), len(conflicts)) == (1, AGENTS - 1)
    session = get_state().db.session
    replies = session.scalars(sa.select(Message).where(
        Message.ticket_id == ticket_id, Message.kind == "reply")).all()
    assert [m.id for m in replies] == sent
    winner = replies[0].author_agent_id
    for conflict in conflicts:  # each refused sender is told who answered
        assert [e["message_id"] for e in conflict.details["events"]] == sent
    left = {a: drafts.get_draft(ticket_id, actor=session.get(Agent, a), kind="reply")
            for a in ids}
    assert {a for a, d in left.items() if d is None} == {winner}
    session.remove()
