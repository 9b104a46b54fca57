"""Replies go out over SMTP, threaded, and the customer's answer comes back onto the ticket."""

from __future__ import annotations

import email
import email.policy
import typing as t

import pytest
from flask import Flask
from imap_server import Dovecot
from smtp_server import SmtpSink
from test_email_fetch import all_messages
from test_email_fetch import all_tickets
from test_email_fetch import append
from test_email_fetch import mail
from test_email_fetch import poll

from flask_helpdesk import ValidationError
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels
from flask_helpdesk.services import messages
from flask_helpdesk.services import outbox
from flask_helpdesk.services import transaction


def _one_ticket() -> t.Any:
    [ticket] = all_tickets()
    return ticket


def _message(message_id: int) -> t.Any:
    return next(m for m in all_messages() if m.id == message_id)


def _setup(dovecot: Dovecot, sink: SmtpSink) -> tuple[t.Any, t.Any]:
    account = channels.create_account(
        actor=SYSTEM, channel="email", name="support",
        settings={**dovecot.settings(), **sink.settings()},
        secrets={"imap_password": dovecot.password})
    agent = agents.create_agent(actor=SYSTEM, name="Anna Agent", email="anna@example.test",
                                user_id="1", role="admin")
    return account, agent


def test_reply_threads_and_the_answer_lands_on_the_same_ticket(
        mail_app: Flask, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    account, agent = _setup(dovecot, smtp_sink)
    append(dovecot, mail("Printer broken", message_id="<q1@example.org>"))
    poll(account)
    ticket = _one_ticket()
    reply = messages.reply(ticket.id, actor=agent, text="Have you tried turning it off? Ç")
    assert outbox.deliver(reply.id) == "sent"

    [raw] = smtp_sink.received
    sent = email.message_from_bytes(raw, policy=email.policy.default)
    assert sent["In-Reply-To"] == "<q1@example.org>"
    assert "<q1@example.org>" in sent["References"]
    assert sent["To"] == "dan@example.org" and "help@example.test" in sent["From"]
    assert f"[#{ticket.id}]" in sent["Subject"] and sent["Auto-Submitted"] is None
    assert "turning it off? Ç" in sent.get_content()
    assert smtp_sink.envelopes == [("help@example.test", ["dan@example.org"])]
    sent_id = sent["Message-ID"].strip("<>")
    assert _message(reply.id).external_id == sent_id

    answer = mail("Re: something else entirely", message_id="<a1@example.org>")
    answer = answer.replace(b"Message-ID:", f"In-Reply-To: <{sent_id}>\nMessage-ID:".encode())
    append(dovecot, answer)
    assert poll(account).ingested == 1
    assert [t.id for t in all_tickets()] == [ticket.id]
    assert [m.kind for m in all_messages(ticket.id)] == ["inbound", "reply", "inbound"]


def test_automatic_replies_carry_auto_submitted(
        mail_app: Flask, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    account, _agent = _setup(dovecot, smtp_sink)
    append(dovecot, mail("Where is my parcel?"))
    poll(account)
    reminder = messages.reply(_one_ticket().id, actor=SYSTEM,
                              text="We are waiting for your answer.")
    assert outbox.deliver(reminder.id) == "sent"
    [raw] = smtp_sink.received
    sent = email.message_from_bytes(raw, policy=email.policy.default)
    assert sent["Auto-Submitted"] == "auto-replied"


def test_4xx_is_retried_and_5xx_fails_for_good(
        mail_app: Flask, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    account, agent = _setup(dovecot, smtp_sink)
    append(dovecot, mail("Hello"))
    poll(account)
    ticket = _one_ticket()
    smtp_sink.answer = "451 4.3.0 try again later"
    first = messages.reply(ticket.id, actor=agent, text="one")
    assert outbox.deliver(first.id) == "queued"
    assert "451" in (_message(first.id).last_error or "")
    smtp_sink.answer = "550 5.1.1 no such user"
    second = messages.reply(ticket.id, actor=agent, text="two", confirm=True)
    assert outbox.deliver(second.id) == "failed"
    assert smtp_sink.received == []


def test_plain_smtp_only_to_loopback(mail_app: Flask, dovecot: Dovecot,
                                     smtp_sink: SmtpSink) -> None:
    account, agent = _setup(dovecot, smtp_sink)
    append(dovecot, mail("Hello"))
    poll(account)
    with pytest.raises(ValidationError):  # refused when saved ...
        channels.update_account(account.id, actor=SYSTEM, settings={
            **account.settings, "smtp_host": "192.0.2.1"})
    with transaction():  # ... and when sending, for settings stored before the rule
        channels.get_account(account.id, actor=SYSTEM).settings = {
            **account.settings, "smtp_host": "192.0.2.1"}
    ticket = _one_ticket()
    reply = messages.reply(ticket.id, actor=agent, text="x")
    assert outbox.deliver(reply.id) == "failed"
    assert "loopback" in (_message(reply.id).last_error or "")


def test_a_subject_stored_with_line_breaks_is_folded_and_the_reply_is_delivered(
        mail_app: Flask, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    from flask_helpdesk.services import tickets

    account, agent = _setup(dovecot, smtp_sink)
    append(dovecot, mail("Printer broken"))
    poll(account)
    ticket = _one_ticket()
    # Stored as PATCH /tickets/<id> could store it before subjects were checked.
    with transaction():
        tickets.get_ticket(ticket.id, actor=SYSTEM).subject = (
            "Printer\r\nBcc: eve@evil.example\u2028 jam\x00 again\n")
    reply = messages.reply(ticket.id, actor=agent, text="On it")
    assert outbox.deliver(reply.id) == "sent"
    assert _message(reply.id).last_error is None
    [raw] = smtp_sink.received
    sent = email.message_from_bytes(raw, policy=email.policy.default)
    assert sent["Subject"] == f"Re: Printer Bcc: eve@evil.example jam again [#{ticket.id}]"
    assert sent["Bcc"] is None
    assert smtp_sink.envelopes == [("help@example.test", ["dan@example.org"])]


def test_a_mail_subject_with_encoded_line_breaks_is_one_line_on_the_ticket_and_the_reply(
        mail_app: Flask, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    account, agent = _setup(dovecot, smtp_sink)
    raw = mail("placeholder").replace(
        b"Subject: placeholder", b"Subject: =?utf-8?q?Line_one=0D=0ABcc:_x=E2=80=A8two?=")
    append(dovecot, raw)
    poll(account)
    ticket = _one_ticket()
    assert ticket.subject == "Line one Bcc: x two"
    reply = messages.reply(ticket.id, actor=agent, text="Hi")
    assert outbox.deliver(reply.id) == "sent"
    [sent] = smtp_sink.received
    assert email.message_from_bytes(sent, policy=email.policy.default)["Subject"] == (
        f"Re: Line one Bcc: x two [#{ticket.id}]")
