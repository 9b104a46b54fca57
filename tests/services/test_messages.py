from __future__ import annotations

import pytest

from flask_helpdesk import Conflict
from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk import ValidationError
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import ingest
from flask_helpdesk.services import messages
from flask_helpdesk.services import outbox
from flask_helpdesk.services import tickets
from tests.plugins.channel import RecordingChannel


@pytest.fixture
def channel() -> RecordingChannel:
    return RecordingChannel()


@pytest.fixture
def app(app_factory, recorder, channel):
    app = app_factory(plugins=[recorder, channel])
    with app.app_context():
        yield app


@pytest.fixture
def ticket_id(app, team) -> int:
    result = ingest(InboundMessage(channel="test", external_id="x1", subject="Refund?",
                                   sender=Identity("email", "carla@example.org"), text="Where?"))
    tickets.update_ticket(result.ticket_id, actor=SYSTEM,
                          changes=TicketChanges(group_id=team.support.id))
    return result.ticket_id


def test_note_never_reaches_the_customer(team, ticket_id, channel, recorder) -> None:
    recorder.clear()
    note = messages.add_note(ticket_id, actor=team.anna, text="SECRET: card declined twice")
    assert note.kind == "note" and note.delivery_state is None
    assert all("SECRET" not in str(e.data) for e in recorder.events)
    public = messages.public_messages(ticket_id)
    assert [m.kind for m in public] == ["inbound"]
    reply = messages.reply(ticket_id, actor=team.anna, text="We are on it.")
    assert outbox.deliver(reply.id) == "sent"
    assert outbox.deliver(note.id) is None  # notes are never claimed for delivery
    assert [m.text for m in channel.sent] == ["We are on it."]
    assert all("SECRET" not in (m.html or "") + m.text for m in channel.sent)
    assert [m.kind for m in messages.list_messages(ticket_id, actor=team.anna)] == [
        "inbound", "note", "reply"]


def test_replies_by_the_system_are_delivered_as_automatic(team, ticket_id, channel) -> None:
    by_agent = messages.reply(ticket_id, actor=team.anna, text="Written by Anna.")
    by_rule = messages.reply(ticket_id, actor=SYSTEM, text="We are waiting for your answer.")
    for reply in (by_agent, by_rule):
        assert outbox.deliver(reply.id) == "sent"
    assert [(m.text, m.automatic) for m in channel.sent] == [
        ("Written by Anna.", False), ("We are waiting for your answer.", True)]


def test_reply_is_queued_and_sets_status(team, ticket_id, recorder) -> None:
    recorder.clear()
    reply = messages.reply(ticket_id, actor=team.anna, text="Refund sent.", status="pending")
    assert reply.delivery_state == "queued"
    assert recorder.types == ["message.replied", "ticket.status_changed"]
    assert recorder.events[0].data["delivery"] == "queued"
    ticket = tickets.get_ticket(ticket_id, actor=team.anna)
    assert ticket.status == "pending" and ticket.last_agent_reply_at is not None


def test_closed_ticket_cannot_be_answered(team, ticket_id) -> None:
    tickets.update_ticket(ticket_id, actor=team.anna, changes=TicketChanges(status="closed"))
    with pytest.raises(ValidationError, match="closed"):
        messages.reply(ticket_id, actor=team.anna, text="late")


def test_empty_message_refused(team, ticket_id) -> None:
    with pytest.raises(ValidationError, match="empty"):
        messages.reply(ticket_id, actor=team.anna, text="   ")


def test_collision_guard_refuses_reply_written_before_new_customer_message(
    team, ticket_id
) -> None:
    seen = tickets.list_events(ticket_id, actor=team.anna)[-1].id
    ingest(InboundMessage(channel="test", external_id="x2", thread_keys=(), ticket_hint=ticket_id,
                          sender=Identity("email", "carla@example.org"), text="Any news?"))
    with pytest.raises(Conflict) as info:
        messages.reply(ticket_id, actor=team.anna, text="Refund tomorrow", seen_event_id=seen)
    assert [e["type"] for e in info.value.details["events"]] == ["message.received"]
    assert [m.kind for m in messages.public_messages(ticket_id)] == ["inbound", "inbound"]
    sent = messages.reply(ticket_id, actor=team.anna, text="Refund tomorrow",
                          seen_event_id=seen, confirm=True)
    assert sent.kind == "reply"


def test_collision_guard_sees_a_colleagues_reply(team, ticket_id) -> None:
    seen = tickets.list_events(ticket_id, actor=team.anna)[-1].id
    messages.reply(ticket_id, actor=team.manager, text="Refund made today.")
    with pytest.raises(Conflict):
        messages.reply(ticket_id, actor=team.anna, text="Money arrives tomorrow.",
                       seen_event_id=seen)
    # notes and field changes are not a reason to refuse
    latest = tickets.list_events(ticket_id, actor=team.anna)[-1].id
    messages.add_note(ticket_id, actor=team.manager, text="fyi")
    tickets.update_ticket(ticket_id, actor=team.manager, changes=TicketChanges(priority="high"))
    messages.reply(ticket_id, actor=team.anna, text="ok", seen_event_id=latest)




def test_other_group_cannot_reply(team, ticket_id) -> None:
    from flask_helpdesk import PermissionDenied

    with pytest.raises(PermissionDenied):
        messages.reply(ticket_id, actor=team.boris, text="hi")
    with pytest.raises(PermissionDenied):
        messages.list_messages(ticket_id, actor=team.boris)
