from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from flask_helpdesk import ChannelError
from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk import NotFound
from flask_helpdesk import PermissionDenied
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import messages
from flask_helpdesk.services import quarantine
from flask_helpdesk.services import rules
from flask_helpdesk.services import tickets
from tests.plugins.channel import RecordingChannel


@pytest.fixture
def app(app_factory: t.Callable[..., Flask]) -> t.Iterator[Flask]:
    app = app_factory(plugins=[RecordingChannel()])
    with app.app_context():
        yield app


def _parse(raw: bytes) -> InboundMessage:
    sender, _, text = raw.decode().partition("\n")
    if not sender:
        raise ValueError("no sender line")
    return InboundMessage(channel="test", account="box", external_id=f"q-{text}",
                          sender=Identity("email", sender), text=text)


def test_quarantine_keeps_the_bytes_until_a_retry_succeeds(team) -> None:
    raw = b"\nbroken \xff"
    item = quarantine.quarantine_message(channel="test", account="box", raw=raw,
                                         error=ValueError("no sender line"),
                                         source="INBOX uid 5")
    with pytest.raises(PermissionDenied):
        quarantine.list_quarantine(actor=team.manager)
    [listed] = quarantine.list_quarantine(actor=team.admin)
    assert (listed.error, listed.source, listed.size) == ("ValueError: no sender line",
                                                          "INBOX uid 5", len(raw))
    assert quarantine.quarantined_raw(item.id, actor=team.admin) == raw
    with pytest.raises(ChannelError, match="no sender line"):
        quarantine.retry_quarantined(item.id, actor=team.admin,
                                     parse=lambda b: _parse(b.decode("latin-1").encode()))
    assert quarantine.get_quarantined(item.id, actor=team.admin).attempts == 2

    result = quarantine.retry_quarantined(
        item.id, actor=team.admin, parse=lambda b: _parse(b"dan@example.org" + b[:7]))
    ticket = tickets.get_ticket(result.ticket_id, actor=SYSTEM)
    assert ticket.customer.identities[0].value == "dan@example.org"
    assert quarantine.list_quarantine(actor=team.admin) == []
    with pytest.raises(NotFound):
        quarantine.quarantined_raw(item.id, actor=team.admin)


def test_discard_and_pagination(team) -> None:
    ids = [quarantine.quarantine_message(channel="test", account="box", raw=b"x%d" % i,
                                         error="bad").id for i in range(3)]
    page = quarantine.list_quarantine(actor=team.admin, limit=2)
    assert [i.id for i in page] == ids[::-1][:2]
    assert [i.id for i in quarantine.list_quarantine(actor=team.admin, after=page[-1].id)] == [
        ids[0]]
    quarantine.discard_quarantined(ids[1], actor=team.admin)
    assert [i.id for i in quarantine.list_quarantine(actor=team.admin)] == [ids[2], ids[0]]
    with pytest.raises(NotFound):
        quarantine.discard_quarantined(ids[1], actor=team.admin)


def test_an_entry_of_an_archive_import_is_retried_as_imported_history(team) -> None:
    rules.create_rule(actor=SYSTEM, name="Ack", enabled=True,
                      when={"type": "event", "on": "message.received"},
                      actions=[{"type": "reply", "text": "We got it"}])
    old = quarantine.quarantine_message(channel="test", account="box", raw=b"\nold",
                                        error="bad", source="2019.mbox#3", imported=True)
    live = quarantine.quarantine_message(channel="test", account="box", raw=b"\nlive",
                                         error="bad", source="INBOX uid 7")
    assert [(q.source, q.imported) for q in quarantine.list_quarantine(actor=team.admin)] == [
        ("INBOX uid 7", False), ("2019.mbox#3", True)]

    def fixed(raw: bytes) -> InboundMessage:
        return _parse(b"dan@example.org" + raw)

    # the parser says "live mail"; the entry knows better
    old_result = quarantine.retry_quarantined(old.id, actor=team.admin, parse=fixed)
    live_result = quarantine.retry_quarantined(live.id, actor=team.admin, parse=fixed)

    def kinds(ticket_id: int) -> list[str]:
        return [m.kind for m in messages.list_messages(ticket_id, actor=SYSTEM)]

    assert kinds(old_result.ticket_id) == ["inbound"]
    assert all(e.data.get("imported") and e.actor_kind != "rule"
               for e in tickets.list_events(old_result.ticket_id, actor=SYSTEM))
    assert kinds(live_result.ticket_id) == ["inbound", "reply"]
