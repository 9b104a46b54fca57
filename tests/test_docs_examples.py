"""Examples of docs/testing_plugins.rst and docs/writing_plugins.rst.

The documentation shows the parts between ``# -- start NAME --`` and
``# -- end NAME --`` inline, in a code-block after ``.. example: PATH NAME``
(a code host renders no literalinclude); ``tests/test_docs.py`` fails when a
block differs from its part here, so every example there runs here. Keep the
examples self-contained: they show what a plugin author writes, using only
the public API and :mod:`flask_helpdesk.testing`.
"""

from __future__ import annotations

import typing as t

import click
import pytest
from flask import Flask
from flask_login import current_user

from flask_helpdesk import DeliveryReceipt
from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk import OutboundMessage
from flask_helpdesk import ValidationError
from flask_helpdesk import get_state
from flask_helpdesk import hookimpl
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import customers
from flask_helpdesk.services import ingest
from flask_helpdesk.services import messages
from flask_helpdesk.services import outbox
from flask_helpdesk.services import tickets
from flask_helpdesk.testing import EventRecorder
from flask_helpdesk.testing import User
from flask_helpdesk.testing import create_tables
from flask_helpdesk.testing import make_app


# -- start plugin --
class ResolvedCounter:
    """Counts resolved tickets; a real plugin would send a job to a CRM."""

    def __init__(self) -> None:
        self.resolved: list[int] = []

    @hookimpl
    def helpdesk_config_defaults(self) -> dict[str, t.Any]:
        return {"HELPDESK_COUNTER_ENABLED": True}

    @hookimpl
    def helpdesk_ticket_event(self, helpdesk: t.Any, event: t.Any) -> None:
        if not helpdesk.config["HELPDESK_COUNTER_ENABLED"]:
            return
        if event.type == "ticket.status_changed" and event.data["new"] == "resolved":
            self.resolved.append(event.ticket_id)
# -- end plugin --


# -- start make_app --
@pytest.fixture
def counter() -> ResolvedCounter:
    return ResolvedCounter()


@pytest.fixture
def app(tmp_path: t.Any, counter: ResolvedCounter) -> t.Iterator[Flask]:
    app = make_app(
        database_uri=f"sqlite:///{tmp_path / 'helpdesk.db'}",
        config={"HELPDESK_ATTACHMENT_DIR": str(tmp_path / "files")},
        plugins=[counter],
    )
    with app.app_context():
        create_tables(app)
        yield app
    get_state(app).jobs.stop()
# -- end make_app --


# -- start customer_ticket --
def open_ticket(subject: str = "Where is my order?") -> t.Any:
    customer = customers.create_customer(
        actor=SYSTEM, name="Carla", identities=[("email", "carla@example.org")]
    )
    return tickets.create_ticket(
        actor=SYSTEM, customer_id=customer.id, subject=subject, text="Order 42 is late."
    )
# -- end customer_ticket --


# -- start test_plugin --
def test_counts_resolved_tickets(app: Flask, counter: ResolvedCounter) -> None:
    ticket = open_ticket()
    tickets.update_ticket(ticket.id, actor=SYSTEM, changes=TicketChanges(status="resolved"))
    assert counter.resolved == [ticket.id]


def test_a_rollback_reaches_no_plugin(app: Flask, counter: ResolvedCounter) -> None:
    ticket = open_ticket()
    with pytest.raises(ValidationError):
        # "closed" is final: the second change fails and the first is undone
        tickets.update_ticket(ticket.id, actor=SYSTEM, changes=TicketChanges(status="closed"))
        tickets.update_ticket(ticket.id, actor=SYSTEM, changes=TicketChanges(status="resolved"))
    assert counter.resolved == []
# -- end test_plugin --


# -- start config_override --
def test_the_host_config_wins(tmp_path: t.Any) -> None:
    counter = ResolvedCounter()
    app = make_app(
        database_uri=f"sqlite:///{tmp_path / 'helpdesk.db'}",
        config={"HELPDESK_COUNTER_ENABLED": False},
        plugins=[counter],
    )
    assert get_state(app).config["HELPDESK_COUNTER_ENABLED"] is False
    with app.app_context():
        create_tables(app)
        ticket = open_ticket()
        tickets.update_ticket(ticket.id, actor=SYSTEM, changes=TicketChanges(status="resolved"))
    assert counter.resolved == []
    get_state(app).jobs.stop()
# -- end config_override --


# -- start event_recorder --
def test_records_events(app: Flask) -> None:
    recorder = EventRecorder()
    pm = get_state().pm
    pm.register(recorder)
    try:
        ticket = open_ticket()
        messages.add_note(ticket.id, actor=SYSTEM, text="Called the warehouse.")
    finally:
        pm.unregister(recorder)
    assert recorder.types == ["ticket.created", "message.received", "note.added"]
    assert "text" not in recorder.events[-1].data  # notes never leak into events
# -- end event_recorder --


# -- start login --
def test_a_logged_in_agent(tmp_path: t.Any) -> None:
    app = make_app(database_uri=f"sqlite:///{tmp_path / 'hd.db'}")

    @app.get("/whoami")
    def whoami() -> str:
        agent = agents.get_by_user_id(current_user.get_id())
        return agent.name if agent else "nobody"

    with app.app_context():
        create_tables(app)
        agents.create_agent(actor=SYSTEM, name="Anna", user_id="7", role="admin")
    # Requests run outside the app context above: a shared context would
    # share flask.g, and with it Flask-Login's cached user.
    client = app.test_client(user=User("7"))  # Flask-Login's FlaskLoginClient
    assert client.get("/whoami").text == "Anna"
    assert app.test_client().get("/whoami").text == "nobody"
    get_state(app).jobs.stop()
# -- end login --


# -- start channel --
class ChatChannel:
    """A chat channel: declares ``chat`` and delivers replies to it."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    @hookimpl
    def helpdesk_register_channels(self) -> list[dict[str, str]]:
        return [{"name": "chat", "label": "Chat"}]

    @hookimpl
    def helpdesk_deliver_message(self, message: OutboundMessage) -> DeliveryReceipt | None:
        if message.channel != "chat":
            return None  # another plugin's channel
        self.sent.append(message)  # a real channel calls its API here
        return DeliveryReceipt(external_id=f"chat-out-{message.id}")


def receive(update_id: int, chat_id: str, text: str) -> InboundMessage:
    """What the channel's poller builds from one update of the chat service."""
    return InboundMessage(
        channel="chat",
        account="support-bot",
        external_id=str(update_id),
        sender=Identity("telegram", chat_id, "Carla"),
        text=text,
        thread_keys=(f"chat:{chat_id}",),
        own_keys=(f"chat:{chat_id}",),
    )
# -- end channel --


# -- start test_channel --
def test_channel_round_trip(tmp_path: t.Any) -> None:
    chat = ChatChannel()
    app = make_app(database_uri=f"sqlite:///{tmp_path / 'hd.db'}", plugins=[chat])
    with app.app_context():
        create_tables(app)
        first = ingest(receive(1, "555", "Hello, my order is late"))
        again = ingest(receive(1, "555", "Hello, my order is late"))  # fetched twice
        answer = ingest(receive(2, "555", "It is order 42"))
        assert first.created and again.duplicate and not answer.created
        assert answer.ticket_id == first.ticket_id  # threaded by the chat's key

        reply = messages.reply(first.ticket_id, actor=SYSTEM, text="It ships today.")
        assert outbox.deliver(reply.id) == "sent"  # what the delivery job runs
    assert [m.text for m in chat.sent] == ["It ships today."]
    assert chat.sent[0].recipient == Identity("telegram", "555", "")
    get_state(app).jobs.stop()
# -- end test_channel --


# -- start command --
class Stats:
    @hookimpl
    def helpdesk_register_commands(self, cli: click.Group) -> None:
        @cli.command("delivery-stats")
        def delivery_stats() -> None:
            """Count replies per delivery state."""
            for state, count in sorted(outbox.stats().items()):
                click.echo(f"{state}: {count}")
# -- end command --


# -- start test_command --
def test_command(tmp_path: t.Any) -> None:
    app = make_app(database_uri=f"sqlite:///{tmp_path / 'hd.db'}", plugins=[Stats()])
    with app.app_context():
        create_tables(app)
        messages.reply(open_ticket().id, actor=SYSTEM, text="On its way.")
    result = app.test_cli_runner().invoke(args=["helpdesk", "delivery-stats"])
    assert "queued: 1" in result.output
    get_state(app).jobs.stop()
# -- end test_command --
