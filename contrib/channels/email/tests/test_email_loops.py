from __future__ import annotations

import pytest
from flask_helpdesk_email import parse_message
from flask_helpdesk_email.loops import auto_reply_refusal
from flask_helpdesk_email.loops import may_auto_reply
from test_email_fetch import mail

from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage


def with_header(raw: bytes, header: str) -> bytes:
    return raw.replace(b"Message-ID:", header.encode() + b"\nMessage-ID:")


@pytest.mark.parametrize("raw", [
    with_header(mail("Out of office"), "Auto-Submitted: auto-replied"),
    with_header(mail("News"), "Precedence: bulk"),
    with_header(mail("Digest"), "List-Id: <users.lists.example.org>"),
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
