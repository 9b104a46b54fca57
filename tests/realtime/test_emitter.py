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
