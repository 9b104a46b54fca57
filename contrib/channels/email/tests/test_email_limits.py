"""Bad input at the limits: oversized attachments and mail bombs, through a real Dovecot."""

from __future__ import annotations

import email
import email.policy
import typing as t
from email.message import EmailMessage
from email.utils import make_msgid

from flask import Flask
from flask_helpdesk_email.client import FetchOptions
from flask_helpdesk_email.client import poll_account
from imap_server import Dovecot
from smtp_server import SmtpSink
from test_email_fetch import all_messages
from test_email_fetch import all_tickets
from test_email_fetch import append
from test_email_fetch import mail

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import channels
from flask_helpdesk.services import messages
from flask_helpdesk.services import outbox
from flask_helpdesk.services import views


def with_files(subject: str, *files: tuple[str, int], sender: str = "dan@example.org") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "help@example.test", subject
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content("See the attached files.")
    for name, size in files:
        msg.add_attachment(b"\x00\x01" * (size // 2), maintype="application",
                           subtype="octet-stream", filename=name)
    return bytes(msg)


def setup(dovecot: Dovecot, sink: SmtpSink) -> t.Any:
    return channels.create_account(
        actor=SYSTEM, channel="email", name="support",
        settings={**dovecot.settings(), **sink.settings()},
        secrets={"imap_password": dovecot.password})


def poll(acc: t.Any, app: Flask) -> t.Any:
    return poll_account(acc, FetchOptions.from_config(app.config))


def every_ticket() -> list[t.Any]:
    first = views.list_tickets(actor=SYSTEM, limit=100)
    rest = views.list_tickets(actor=SYSTEM, limit=100, cursor=first.next_cursor)
    return [*first.items, *(rest.items if first.next_cursor else [])]


def every_message() -> list[t.Any]:
    return [m for t in every_ticket() for m in messages.list_messages(t.id, actor=SYSTEM)]


def test_an_oversized_attachment_is_left_out_and_the_customer_told(
        mail_app_factory: t.Callable[..., Flask], dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    app = mail_app_factory(HELPDESK_EMAIL_MAX_ATTACHMENT_SIZE=100_000)
    with app.app_context():
        acc = setup(dovecot, smtp_sink)
        append(dovecot, with_files("Logs", ("small.log", 2_000), ("huge.bin", 300_000)))
        stats = poll(acc, app)
        assert (stats.ingested, stats.quarantined) == (1, 0)
        [ticket] = all_tickets()
        inbound, note, answer = all_messages(ticket.id)
        assert [a.filename for a in inbound.attachments] == ["small.log"]
        assert inbound.meta["dropped_attachments"] == [{"filename": "huge.bin",
                                                        "size": 300_000}]
        assert note.kind == "note" and "huge.bin (293 KB)" in note.text
        assert answer.kind == "reply" and answer.meta.get("automatic")
        assert outbox.deliver(answer.id) == "sent"
        [raw] = smtp_sink.received
        sent = email.message_from_bytes(raw, policy=email.policy.default)
        assert sent["To"] == "dan@example.org"
        assert sent["Auto-Submitted"] == "auto-replied"
        assert "huge.bin" in sent.get_content() and "98 KB" in sent.get_content()


def test_a_50_mb_attachment_does_not_stop_the_fetcher(
        mail_app: Flask, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    acc = setup(dovecot, smtp_sink)
    append(dovecot, with_files("Video", ("video.mp4", 51 * 1024 * 1024)), mail("After it"))
    stats = poll(acc, mail_app)
    assert (stats.ingested, stats.quarantined) == (2, 0)
    video = next(t for t in all_tickets() if t.subject == "Video")
    inbound, note, answer = all_messages(video.id)
    assert inbound.attachments == [] and "video.mp4 (51.0 MB)" in note.text
    assert "25.0 MB" in answer.text  # the core's HELPDESK_MAX_ATTACHMENT_SIZE is lower


def test_a_mail_bomb_is_recorded_and_gets_few_automatic_answers(
        mail_app_factory: t.Callable[..., Flask], dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    app = mail_app_factory(HELPDESK_EMAIL_MAX_ATTACHMENT_SIZE=1_000)
    with app.app_context():
        acc = setup(dovecot, smtp_sink)
        bomb = [with_files(f"Bomb {i}", ("x.bin", 2_000), sender="bomber@example.net")
                for i in range(100)]
        append(dovecot, *bomb[:60], mail("A customer in between"))
        assert poll(acc, app).ingested == 61
        append(dovecot, *bomb[60:])  # the rest of the minute comes in the next poll
        assert poll(acc, app).ingested == 40
        tickets = every_ticket()
        assert len(tickets) == 101  # nothing lost
        bombs = [t for t in tickets if t.subject.startswith("Bomb")]
        open_ = [t for t in bombs if t.status == "open"]
        assert len(open_) == 20  # HELPDESK_EMAIL_FLOOD_LIMIT
        flooded = [t for t in bombs if t.status == "spam"]
        assert len(flooded) == 80 and all("email:flood" in {g.name for g in t.tags}
                                          for t in flooded)
        assert next(t for t in tickets if t.subject == "A customer in between").status == "open"
        health = channels.get_account(acc.id, actor=SYSTEM)
        assert "bomber@example.net" in health.last_error
        # Every open bomb ticket lost its attachment, but only 5 answers went out.
        found = every_message()
        assert sum(m.kind == "reply" for m in found) == 5  # HELPDESK_EMAIL_AUTO_REPLY_LIMIT
        assert sum(m.kind == "note" for m in found) == 100
