from __future__ import annotations

import datetime as dt
import email
import email.policy
import typing as t

import pytest
from flask import Flask
from flask_helpdesk_email import parse_message
from flask_helpdesk_email.loops import auto_reply_refusal
from flask_helpdesk_email.loops import may_auto_reply
from imap_server import Dovecot
from smtp_server import SmtpSink
from test_email_fetch import all_messages
from test_email_fetch import all_tickets
from test_email_fetch import append
from test_email_fetch import mail
from test_email_fetch import poll

from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import calendars
from flask_helpdesk.services import channels
from flask_helpdesk.services import outbox
from flask_helpdesk.services import rules
from flask_helpdesk.services import templates
from flask_helpdesk.services import tickets


def with_header(raw: bytes, header: str) -> bytes:
    return raw.replace(b"Message-ID:", header.encode() + b"\nMessage-ID:")


@pytest.mark.parametrize("raw", [
    with_header(mail("Out of office"), "Auto-Submitted: auto-replied"),
    with_header(mail("News"), "Precedence: bulk"),
    with_header(mail("Junk"), "Precedence: junk"),
    with_header(mail("List"), "Precedence: list"),
    with_header(mail("Digest"), "List-Id: <users.lists.example.org>"),
    with_header(mail("Delivery report"), "Content-Type: multipart/report; "
                "report-type=delivery-status; boundary=x"),
    mail("Hi", sender="no-reply@shop.example"),
    mail("Undeliverable", sender="MAILER-DAEMON@mx.example"),
    mail("Hi", sender="colleague@our.example"),
])
def test_no_automatic_answer_to_machines_or_ourselves(raw: bytes) -> None:
    message = parse_message(raw)
    assert auto_reply_refusal(message, internal_domains=["our.example"]) is not None
    assert auto_reply_refusal(parse_message(mail("Hi")), internal_domains=["our.example"]) is None


@pytest.mark.parametrize(("sender", "reason"), [
    ("noreply@x.example", "noreply"), ("do-not-reply+42@x.example", "noreply"),
    ("Postmaster@x.example", "noreply"), ("staff@Our.Example", "internal"),
    ("noreplyjohn@x.example", None),
])
def test_reasons_of_other_channels_messages(sender: str, reason: str | None) -> None:
    message = InboundMessage(channel="email", external_id="1", sender=Identity("email", sender))
    assert auto_reply_refusal(message, internal_domains=["@our.example"]) == reason


def test_rate_limit_per_sender() -> None:
    message = parse_message(mail("Hi"))
    assert may_auto_reply(message, sent_last_hour=4, limit=5)
    assert auto_reply_refusal(message, sent_last_hour=5, limit=5) == "rate_limit"


# -- the core's automatic replies ask this guard (helpdesk_allow_automatic_reply) --------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _answering_rule(kind: str) -> None:
    """A rule that answers every new ticket automatically, with the ``kind`` action."""
    if kind == "reply":
        action = {"type": "reply", "text": "Hello {{ customer.name }}, we got it."}
    elif kind == "send_template":
        template = templates.create_template(actor=SYSTEM, name="ack", shared=True,
                                             body="Hello {customer_name}, we got it.")
        action = {"type": "send_template", "template_id": template.id}
    else:  # the out-of-hours reply: the default calendar is closed until the day after next
        opens = dt.date.today() + dt.timedelta(days=2)
        calendars.create_calendar(actor=SYSTEM, name="Closed", timezone="UTC", is_default=True,
                                  periods=[{"weekday": WEEKDAYS[opens.weekday()],
                                            "start": "09:00", "end": "17:00"}])
        action = {"type": "out_of_hours_reply", "text": "Hello {{ customer.name }}, we got it."}
    rules.create_rule(actor=SYSTEM, name="Acknowledge", enabled=True,
                      when={"type": "event", "on": "message.received"}, actions=[action])


@pytest.mark.parametrize("kind", ["reply", "send_template", "out_of_hours_reply"])
def test_rule_replies_reach_people_only(
        kind: str, mail_app_factory: t.Callable[..., Flask], dovecot: Dovecot,
        smtp_sink: SmtpSink) -> None:
    app = mail_app_factory(HELPDESK_EMAIL_AUTO_REPLY_LIMIT=2,
                           HELPDESK_EMAIL_INTERNAL_DOMAINS=["our.example"],
                           HELPDESK_EMAIL_INTERNAL_MAIL="inbox")
    with app.app_context():
        acc = channels.create_account(
            actor=SYSTEM, channel="email", name="support",
            settings={**dovecot.settings(), **smtp_sink.settings()},
            secrets={"imap_password": dovecot.password})
        _answering_rule(kind)
        machines = [
            with_header(mail("Out of office"), "Auto-Submitted: auto-replied"),
            with_header(mail("News"), "Precedence: bulk"),
            with_header(mail("Digest"), "List-Id: <users.lists.example.org>"),
            mail("Hi", sender="no-reply@shop.example"),
            mail("Undeliverable", sender="MAILER-DAEMON@mx.example"),
            mail("From a colleague", sender="cfo@our.example"),
        ]
        people = [mail(f"Question {n}", sender="ann@example.org") for n in range(3)]
        append(dovecot, *machines, mail("Hello", sender="bob@example.org"), *people)
        assert poll(acc).ingested == 10
        answered = {}
        for ticket in all_tickets():
            for m in all_messages(ticket.id):
                if m.kind == "reply":
                    assert outbox.deliver(m.id) == "sent"
                    answered[ticket.subject] = m
        # The out-of-hours reply answers once per customer per closed period.
        expected = {"Hello", "Question 0"} if kind == "out_of_hours_reply" else {
            "Hello", "Question 0", "Question 1"}  # ann's third is over the hourly limit
        assert set(answered) == expected
        sent = [email.message_from_bytes(raw, policy=email.policy.default)
                for raw in smtp_sink.received]
        assert sorted(str(m["To"]) for m in sent) == sorted(
            "bob@example.org" if s == "Hello" else "ann@example.org" for s in expected)
        assert all(m["Auto-Submitted"] == "auto-replied" for m in sent)
        assert all(m["In-Reply-To"] for m in sent)
        refused = [e for ticket in all_tickets()
                   for e in tickets.list_events(ticket.id, actor=SYSTEM)
                   if e.type == "message.automatic_reply_refused"]
        # The out-of-hours reply leaves out flagged mail itself; the guard adds the rest.
        assert len(refused) == (1 if kind == "out_of_hours_reply" else 7)
