from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func
from sqlalchemy import select

from flask_helpdesk import Identity
from flask_helpdesk import InboundAttachment
from flask_helpdesk import InboundMessage
from flask_helpdesk import ValidationError
from flask_helpdesk import get_state
from flask_helpdesk.models import Customer
from flask_helpdesk.models import Message
from flask_helpdesk.models import TicketEvent
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import ingest
from flask_helpdesk.services import messages
from flask_helpdesk.services import tickets
from tests.plugins.channel import RecordingChannel

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture
def app(app_factory, recorder):
    app = app_factory(plugins=[recorder, RecordingChannel()])
    with app.app_context():
        yield app


def msg(n: int, sender: str = "carla@example.org", **kw) -> InboundMessage:
    kw.setdefault("subject", "Order 1001 has not arrived")
    kw.setdefault("text", f"message {n}")
    return InboundMessage(channel="test", external_id=f"<m{n}@mail>",
                          sender=Identity("email", sender, kw.pop("name", "Carla")),
                          own_keys=(f"m{n}",), **kw)


def count(model) -> int:
    return get_state().db.session.scalar(select(func.count()).select_from(model))


def test_new_message_opens_ticket_for_new_customer(app, recorder) -> None:
    result = ingest(msg(1, name="Carla Díaz"))
    assert result.created and not result.duplicate
    ticket = tickets.get_ticket(result.ticket_id, actor=SYSTEM)
    assert ticket.status == "open" and ticket.channel == "test"
    assert ticket.customer.name == "Carla Díaz"
    assert recorder.types == ["ticket.created", "message.received"]
    assert recorder.events[0].actor_kind == "customer"


def test_ingest_is_idempotent(app, recorder) -> None:
    first = ingest(msg(1))
    recorder.clear()
    again = ingest(msg(1))
    assert again.duplicate and again.ticket_id == first.ticket_id
    assert again.message_id == first.message_id
    assert count(Message) == 1 and recorder.events == []


def test_concurrent_ingest_of_one_message_stores_it_once(app) -> None:
    flask_app = get_state().app
    results, errors = [], []

    def worker() -> None:
        try:
            with flask_app.app_context():
                results.append(ingest(msg(7)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len({r.message_id for r in results}) == 1
    assert count(Message) == 1


def test_reply_threads_by_key_and_reopens(app) -> None:
    first = ingest(msg(1))
    for status in ("pending", "on_hold", "resolved"):
        tickets.update_ticket(first.ticket_id, actor=SYSTEM, changes=TicketChanges(
            status=status))
        n = {"pending": 2, "on_hold": 3, "resolved": 4}[status]
        result = ingest(msg(n, thread_keys=("unknown-key", "m1")))
        assert result.ticket_id == first.ticket_id and not result.created
        assert tickets.get_ticket(first.ticket_id, actor=SYSTEM).status == "open"


def test_reply_to_closed_ticket_opens_linked_follow_up(app, recorder) -> None:
    first = ingest(msg(1))
    tickets.update_ticket(first.ticket_id, actor=SYSTEM, changes=TicketChanges(status="closed"))
    recorder.clear()
    result = ingest(msg(2, thread_keys=("m1",)))
    assert result.created and result.follow_up_of == first.ticket_id
    follow_up = tickets.get_ticket(result.ticket_id, actor=SYSTEM)
    assert follow_up.follow_up_of_id == first.ticket_id and follow_up.status == "open"
    assert tickets.get_ticket(first.ticket_id, actor=SYSTEM).status == "closed"
    assert "ticket.follow_up_created" in recorder.types


def test_reply_to_merged_ticket_lands_on_surviving_ticket(app) -> None:
    a = ingest(msg(1))
    b = ingest(msg(2, subject="Another question"))
    tickets.merge_tickets(b.ticket_id, a.ticket_id, actor=SYSTEM)
    result = ingest(msg(3, thread_keys=("m2",)))
    assert result.ticket_id == a.ticket_id


def test_ticket_hint_needs_the_tickets_own_customer(app) -> None:
    first = ingest(msg(1))
    same = ingest(msg(2, ticket_hint=first.ticket_id, subject="Re: [#1] Order"))
    assert same.ticket_id == first.ticket_id
    stranger = ingest(msg(3, sender="eve@example.net", ticket_hint=first.ticket_id))
    assert stranger.created and stranger.ticket_id != first.ticket_id


def test_never_threads_by_subject_alone(app) -> None:
    first = ingest(msg(1, subject="Invoice"))
    second = ingest(msg(2, subject="Invoice"))
    assert second.created and second.ticket_id != first.ticket_id


def test_customer_found_by_identity_case_insensitively(app) -> None:
    ingest(msg(1, sender="Carla@Example.org"))
    ingest(msg(2, sender="carla@example.ORG"))
    assert count(Customer) == 1


def test_html_is_sanitized_and_original_date_kept(app) -> None:
    when = dt.datetime(2024, 5, 1, 9, 30)
    result = ingest(msg(1, text="", html='<p onclick="x()">Hi<script>alert(1)</script></p>',
                        received_at=when))
    stored = messages.list_messages(result.ticket_id, actor=SYSTEM)[0]
    assert "<script" not in stored.html and "onclick" not in stored.html
    assert stored.text == "Hi"
    assert stored.created_at == when
    assert tickets.get_ticket(result.ticket_id, actor=SYSTEM).created_at == when


def test_attachments_are_stored_with_sniffed_type(app) -> None:
    result = ingest(msg(1, attachments=(
        InboundAttachment("../../etc/photo.pdf", "application/pdf", PNG),
        InboundAttachment("notes.txt", "text/plain", "привет".encode()),
    )))
    stored = messages.list_messages(result.ticket_id, actor=SYSTEM)[0]
    photo, notes = stored.attachments
    assert photo.filename == "photo.pdf" and photo.content_type == "image/png"
    assert notes.content_type == "text/plain"
    row, data = messages.get_attachment(notes.id, actor=SYSTEM)
    assert data.decode() == "привет"


def test_oversized_attachment_is_refused_and_nothing_stored(app_factory) -> None:
    app = app_factory(config={"HELPDESK_MAX_ATTACHMENT_SIZE": 1000},
                      plugins=[RecordingChannel()])
    with app.app_context():
        with pytest.raises(ValidationError, match="too large"):
            ingest(msg(1, attachments=(InboundAttachment("big.bin", "application/zip",
                                                         b"x" * 1001),)))
        assert count(Message) == 0 and count(TicketEvent) == 0


def test_unknown_channel_and_bad_sender_are_refused(app) -> None:
    with pytest.raises(ValidationError, match="Unknown channel"):
        ingest(InboundMessage(channel="fax", external_id="1",
                              sender=Identity("email", "a@b.c")))
    with pytest.raises(ValidationError, match="not an email"):
        ingest(InboundMessage(channel="test", external_id="1",
                              sender=Identity("email", "not-an-address")))
    assert count(Message) == 0
