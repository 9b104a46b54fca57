from __future__ import annotations

import pytest
from flask import request
from flask_socketio import SocketIO
from flask_socketio import join_room

from flask_helpdesk import ValidationError
from flask_helpdesk.realtime import NAMESPACE
from flask_helpdesk.realtime import inbox_room
from flask_helpdesk.realtime import ticket_room
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import customers
from flask_helpdesk.services import messages
from flask_helpdesk.services import tickets


@pytest.fixture
def socketio() -> SocketIO:
    return SocketIO(async_mode="threading")


@pytest.fixture
def app(app_factory, socketio):
    """The app of ``team``, with the host's SocketIO."""
    app = app_factory(socketio=socketio)
    socketio.init_app(app)

    @socketio.on("connect", namespace=NAMESPACE)
    def connect(auth=None) -> None:
        join_room(request.args["room"], namespace=NAMESPACE)

    with app.app_context():
        yield app


@pytest.fixture
def realtime(app, socketio):
    return app, socketio


def _client(app, socketio, room: str):
    return socketio.test_client(app, namespace=NAMESPACE, query_string=f"room={room}")


def test_committed_events_reach_ticket_and_inbox_rooms(realtime, team) -> None:
    app, socketio = realtime
    ticket = tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id, subject="Hi",
                                   text="hello", group_id=team.support.id)
    on_ticket = _client(app, socketio, ticket_room(ticket.id))
    on_support = _client(app, socketio, inbox_room(team.support.id))
    on_billing = _client(app, socketio, inbox_room(team.billing.id))
    messages.reply(ticket.id, actor=team.anna, text="Answer", status="pending")
    received = [m["args"][0] for m in on_ticket.get_received(NAMESPACE)]
    assert [e["type"] for e in received] == ["message.replied", "ticket.status_changed"]
    assert received[1]["data"] == {"old": "open", "new": "pending"}
    assert received[0]["actor_name"] == "Anna Agent"
    assert len(on_support.get_received(NAMESPACE)) == 2
    assert on_billing.get_received(NAMESPACE) == []


def test_rolled_back_change_broadcasts_nothing(realtime, team) -> None:
    app, socketio = realtime
    ticket = tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id, subject="Hi",
                                   text="hello", group_id=team.support.id)
    tickets.update_ticket(ticket.id, actor=SYSTEM, changes=TicketChanges(status="closed"))
    client = _client(app, socketio, ticket_room(ticket.id))
    with pytest.raises(ValidationError, match="closed"):
        # the priority change is recorded first, then the status change fails
        tickets.update_ticket(ticket.id, actor=SYSTEM, changes=TicketChanges(
            priority="urgent", status="open"))
    assert client.get_received(NAMESPACE) == []
    assert tickets.get_ticket(ticket.id, actor=SYSTEM).priority_name == "normal"


def test_note_text_is_never_broadcast(realtime, team) -> None:
    app, socketio = realtime
    ticket = tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id, subject="Hi",
                                   text="hello", group_id=team.support.id)
    client = _client(app, socketio, ticket_room(ticket.id))
    messages.add_note(ticket.id, actor=team.anna, text="internal: VIP, be careful")
    (event,) = [m["args"][0] for m in client.get_received(NAMESPACE)]
    assert event["type"] == "note.added" and "VIP" not in str(event)
    assert customers.get_customer(team.customer.id).name == "Carla Customer"


def test_a_batch_tells_inbox_rooms_once_and_only_open_tickets_get_their_events(
        realtime, team) -> None:
    """A rule run over many tickets: one ``tickets_changed`` per inbox room, and
    ``ticket_event`` only in the rooms of tickets someone has open."""
    import time

    from flask_helpdesk.extension import get_state
    from flask_helpdesk.presence import Presence
    from flask_helpdesk.services import automation
    from flask_helpdesk.services import rules

    app, socketio = realtime
    made = {group.id: [tickets.create_ticket(
        actor=SYSTEM, customer_id=team.customer.id, subject=f"Outage {i}", text="down",
        group_id=group.id).id for i in range(n)] for group, n in ((team.support, 20),
                                                                  (team.billing, 5))}
    viewed, unseen = made[team.support.id][3], made[team.support.id][4]
    get_state().presence.put(Presence(ticket_id=viewed, sid="tab-1", agent_id=team.anna.id,
                                      name="Anna Agent", activity="viewing",
                                      expires=time.time() + 60))
    on_viewed = _client(app, socketio, ticket_room(viewed))
    on_unseen = _client(app, socketio, ticket_room(unseen))
    on_support = _client(app, socketio, inbox_room(team.support.id))
    on_billing = _client(app, socketio, inbox_room(team.billing.id))
    rule = rules.create_rule(actor=SYSTEM, name="outage", when={"type": "manual"},
                             actions=[{"type": "add_tags", "tags": ["outage"]}])
    everything = made[team.support.id] + made[team.billing.id]
    assert automation.apply_many(automation.Spec.of(rule), everything) == (25, 0, 0)

    support = on_support.get_received(NAMESPACE)
    assert [(m["name"], m["args"][0]["ticket_ids"]) for m in support] == [
        ("tickets_changed", made[team.support.id])]
    assert [m["args"][0]["ticket_ids"] for m in on_billing.get_received(NAMESPACE)] == [
        made[team.billing.id]]
    [event] = on_viewed.get_received(NAMESPACE)
    assert (event["name"], event["args"][0]["type"], event["args"][0]["ticket_id"]) == (
        "ticket_event", "ticket.tags_changed", viewed)
    assert on_unseen.get_received(NAMESPACE) == []
