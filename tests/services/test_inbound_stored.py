"""Stored inbound messages read again by id, and participants added to many tickets at once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk import NotFound
from flask_helpdesk import PermissionDenied
from flask_helpdesk import get_state
from flask_helpdesk.models import TicketParticipant
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import customers
from flask_helpdesk.services import ingest
from flask_helpdesk.services import messages
from flask_helpdesk.services import participants
from tests.plugins.channel import RecordingChannel


@pytest.fixture
def app(app_factory):
    app = app_factory(plugins=[RecordingChannel()])
    with app.app_context():
        yield app


def msg(n: int, sender: str, **kw) -> InboundMessage:
    return InboundMessage(channel=kw.pop("channel", "test"), external_id=f"<{n}@mail>",
                          sender=Identity("email", sender), subject=f"Mail {n}",
                          text=f"text {n}", **kw)


def rows() -> list[tuple[int, str, str]]:
    return [tuple(r) for r in get_state().db.session.execute(select(
        TicketParticipant.ticket_id, TicketParticipant.kind, TicketParticipant.value
    ).order_by(TicketParticipant.ticket_id, TicketParticipant.value))]


def test_inbound_messages_of_a_channel_by_id_with_their_meta_and_author(app, team) -> None:
    customers.add_identity(team.customer.id, actor=SYSTEM, kind="email",
                           value="Carla.Home@example.net")
    first = ingest(msg(1, "carla@example.org", meta={"to": ["a"], "big": "x" * 1000}))
    ingest(msg(2, "dan@example.org", channel="web"))
    messages.reply(first.ticket_id, actor=SYSTEM, text="Outbound, not listed")
    third = ingest(msg(3, "carla@example.org", account="box", thread_keys=("<1@mail>",)))
    page = messages.list_inbound("test", actor=team.admin, limit=1)
    assert [(m.id, m.ticket_id, m.account) for m in page] == [
        (first.message_id, first.ticket_id, "")]
    assert page[0].meta == {"to": ["a"], "big": "x" * 1000}
    # the sender is one of the author's identities
    assert page[0].author == (("email", "carla@example.org"), ("email", "carla.home@example.net"))
    rest = messages.list_inbound("test", actor=team.admin, after=page[-1].id,
                                meta_keys=("to", "missing"))
    assert [(m.id, m.account, m.meta) for m in rest] == [(third.message_id, "box", {})]
    assert messages.list_inbound("test", actor=team.admin, meta_keys=("to", "big"))[0].meta == {
        "to": ["a"], "big": "x" * 1000}
    assert messages.list_inbound("test", actor=team.admin, after=third.message_id) == []
    with pytest.raises(PermissionDenied):
        messages.list_inbound("test", actor=team.manager)


def test_participants_of_many_tickets_at_once(app, team) -> None:
    a = ingest(msg(1, "carla@example.org", participants=(Identity("email", "dave@example.org"),)))
    b = ingest(msg(2, "fay@example.org"))
    wanted = {a.ticket_id: [("email", "Dave@Example.org"), ("email", "erin@example.org"),
                            ("email", "not an address")],
              b.ticket_id: [("email", "gina@example.org")], 999: [("email", "x@example.org")]}
    with pytest.raises(PermissionDenied):
        participants.add_ticket_participants(wanted, actor=team.manager)
    would = participants.add_ticket_participants(wanted, actor=team.admin, dry_run=True)
    assert would == {a.ticket_id: [("email", "erin@example.org")],
                     b.ticket_id: [("email", "gina@example.org")]}
    assert rows() == [(a.ticket_id, "email", "dave@example.org")]
    assert participants.add_ticket_participants(wanted, actor=team.admin) == would
    assert rows() == [
        (a.ticket_id, "email", "dave@example.org"), (a.ticket_id, "email", "erin@example.org"),
        (b.ticket_id, "email", "gina@example.org")]
    assert participants.add_ticket_participants(wanted, actor=team.admin) == {}
    assert participants.ticket_participants(a.ticket_id, actor=team.admin) == [
        ("email", "dave@example.org"), ("email", "erin@example.org")]
    with pytest.raises(NotFound):
        participants.ticket_participants(999, actor=team.admin)
    # Gina threads by the ticket's number now.
    assert ingest(msg(3, "gina@example.org", ticket_hint=b.ticket_id)).ticket_id == b.ticket_id


def test_normalize_participants_is_the_rule_of_ingest() -> None:
    people = [Identity("email", f"P{n}@Example.org") for n in range(60)]
    found = participants.normalize_participants(
        [Identity("email", "bad"), *people], without={("email", "p0@example.org")})
    assert found == [("email", f"p{n}@example.org") for n in range(1, 49)]
    assert participants.normalize_participants(people, mailing_list=True) == []
