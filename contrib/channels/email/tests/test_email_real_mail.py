"""Mail as real mailers write it, from raw .eml fixtures in ``tests/mails``.

Each fixture is a case seen in real mailers' output that the parser once
misread (issue 14): 8-bit bytes in a Message-ID, encoded words with raw
spaces, UTF-7, unlabelled CJK header bytes, a header block broken by a
stray line, addresses without brackets, a MAILER-DAEMON bounce, nameless
parts and attached messages.
"""

from __future__ import annotations

import dataclasses
import json
import typing as t
from pathlib import Path

import pytest
from flask import Flask
from flask_helpdesk_email import parse_message
from imap_server import Dovecot
from test_email_fetch import account
from test_email_fetch import all_messages
from test_email_fetch import all_tickets
from test_email_fetch import append
from test_email_fetch import poll

from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import quarantine

MAILS = Path(__file__).parent / "mails"


def mail(name: str) -> bytes:
    return (MAILS / name).read_bytes()


def parse(name: str) -> InboundMessage:
    return parse_message(mail(name), account="support")


def assert_storable(msg: InboundMessage) -> None:
    """Every text of the message encodes as UTF-8, as a database and JSON need."""

    def walk(value: t.Any) -> None:
        if isinstance(value, str):
            value.encode("utf-8")
        elif isinstance(value, bytes | int | float | bool) or value is None:
            pass
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            walk({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(msg)
    json.dumps(dict(msg.meta), ensure_ascii=False).encode("utf-8")


# -- 8-bit bytes in ids: keys that can be stored ------------------------------


def test_8bit_message_id_gives_storable_keys() -> None:
    msg = parse("message-id-8bit.eml")
    assert_storable(msg)
    assert msg.external_id == "x-\\xdb@example.org"
    assert msg.own_keys == ("x-\\xdb@example.org",)
    # é in UTF-8, then a lone 0xDB: the UTF-8 stays text, the stray byte is escaped.
    assert msg.thread_keys == ("order-é\\xdb@example.org", "first@example.org")
    assert msg.meta["in_reply_to"] == ["order-é\\xdb@example.org"]
    [image] = msg.attachments
    assert image.content_id == "logo-\\xdb@example.org"
    # The reply names the id with the same bytes, so it gives the same key.
    assert parse("message-id-8bit-reply.eml").thread_keys == ("x-\\xdb@example.org",)


@pytest.mark.parametrize(
    "header",
    ["Message-ID", "In-Reply-To", "References", "From", "To", "Cc", "Reply-To", "Sender",
     "Return-Path", "Subject", "Date", "Auto-Submitted", "Precedence", "X-Failed-Recipients",
     "X-Spam-Status", "List-Id", "Content-ID", "Content-Type", "Content-Disposition"],
)
def test_any_header_bytes_give_a_storable_message(header: str) -> None:
    values = {
        "Content-Type": b"multipart/report; report-type=\"d\xdb\"; boundary=\"b\xfe\"",
        "Content-Disposition": b"attachment; filename=\"f\xdb\xfe.txt\"",
    }
    value = values.get(header, b"<a-\xdb\xfe\x80@example.org> \xc3")
    base = b"" if header == "Message-ID" else b"Message-ID: <m@example.org>\r\n"
    raw = (b"From: a@example.org\r\n" + base + header.encode()
           + b": " + value + b"\r\n\r\n--b\xfe\r\nContent-Type: text/plain\r\n"
           b"Content-ID: <c\xdb@x>\r\n\r\nhi\r\n--b\xfe--\r\n")
    assert_storable(parse_message(raw))


def test_8bit_message_id_is_ingested_and_threads(mail_app: Flask, dovecot: Dovecot) -> None:
    acc = account(dovecot)
    append(dovecot, mail("message-id-8bit.eml"))
    stats = poll(acc)
    assert (stats.ingested, stats.quarantined) == (1, 0)
    append(dovecot, mail("message-id-8bit-reply.eml"))
    assert poll(acc).ingested == 1
    [ticket] = all_tickets()
    assert [m.text for m in all_messages(ticket.id)] == ["Where is it?", "Any news?"]


def test_mail_quarantined_for_its_8bit_id_is_retried(mail_app: Flask) -> None:
    # What the fetcher kept before the parser stored such ids: the retry
    # reads the bytes again and now ingests them.
    admin = agents.create_agent(actor=SYSTEM, name="Ada", email="ada@example.com",
                                user_id="1", role="admin")
    item = quarantine.quarantine_message(
        channel="email", account="support", raw=mail("message-id-8bit.eml"),
        error="UnicodeEncodeError: 'utf-8' codec can't encode character '\\udcdb' in "
              "position 2: surrogates not allowed", source="INBOX uid 7")
    result = quarantine.retry_quarantined(item.id, actor=admin)
    assert result.created and quarantine.list_quarantine(actor=admin) == []
    [message] = all_messages(result.ticket_id)
    assert message.external_id == "x-\\xdb@example.org"


def test_addresses_without_brackets_are_ingested(mail_app: Flask, dovecot: Dovecot) -> None:
    acc = account(dovecot)
    append(dovecot, mail("from-without-brackets.eml"))
    assert (poll(acc).ingested, quarantine.list_quarantine(actor=SYSTEM)) == (1, [])


# -- headers -----------------------------------------------------------------


def test_encoded_words_with_raw_spaces() -> None:
    msg = parse("encoded-words-with-spaces.eml")
    assert msg.subject == "Hello World, café ready"
    assert msg.sender == Identity("email", "jose@example.com", "José García")
    # The comma inside the encoded word separates no addresses.
    assert msg.meta["to"] == [{"name": "Doe, John", "address": "john@example.com"},
                              {"name": "", "address": "help@example.test"}]


def test_unicode_1_1_utf_7() -> None:
    msg = parse("unicode-1-1-utf-7.eml")
    # Netscape and Outlook Express wrote the headers of a UTF-7 mail in UTF-7 too.
    assert msg.subject == "Die Hasen und die Frösche"
    assert msg.sender.name == "Heinz Müller"
    # Half an emoji (+2D0-) is no lone surrogate, and a broken sequence (+2D3-)
    # loses only itself.
    assert msg.text == "Grüße aus München \ufffd, \ufffd end"
    assert_storable(msg)


@pytest.mark.parametrize(
    ("name", "subject", "display"),
    [
        ("raw-gbk-headers.eml", "您好，我的订单还没有到", "王喆"),
        ("raw-big5-headers.eml", "關於發票的問題", "陳大文"),
        ("raw-shift-jis-headers.eml", "注文の確認をお願いします", "山田太郎"),
    ],
)
def test_unlabelled_cjk_header_bytes(name: str, subject: str, display: str) -> None:
    msg = parse(name)
    assert (msg.subject, msg.sender.name) == (subject, display)


def test_header_block_broken_by_a_line_without_colon() -> None:
    msg = parse("header-line-without-colon.eml")
    assert msg.subject == "Printer on fire"
    assert msg.meta["to"] == [{"name": "", "address": "help@example.test"}]
    assert msg.external_id == "nocolon@example.net"
    assert msg.text == "It smokes."
    assert any("this line has no colon" in w for w in msg.meta["parse_warnings"])


def test_body_without_blank_line_after_the_headers_stays_body() -> None:
    raw = b"From: a@example.org\r\nSubject: Hi\r\nHello there,\r\nNote: call me\r\nThanks\r\n"
    msg = parse_message(raw)
    assert msg.subject == "Hi"
    assert msg.text == "Hello there,\nNote: call me\nThanks"


def test_from_without_brackets() -> None:
    msg = parse("from-without-brackets.eml")
    assert msg.sender == Identity("email", "carla@example.com", "Carla Jones")
    assert msg.meta["flags"]["no_sender"] is False


# -- bounces and parts ---------------------------------------------------------


def test_mailer_daemon_bounce() -> None:
    msg = parse("mailer-daemon-bounce.eml")
    assert msg.sender == Identity("email", "mailer-daemon@mx.example.test",
                                  "Mail Delivery System")
    assert msg.meta["flags"]["bounce"] and msg.auto_submitted
    assert msg.meta["bounce"]["failed_recipients"] == ["gone@example.org"]
    status, returned = msg.attachments
    assert (status.filename, status.content_type) == ("delivery-status.txt",
                                                     "message/delivery-status")
    assert b"Final-Recipient: rfc822; gone@example.org" in status.data
    assert (returned.filename, returned.content_type) == ("Re: Order 7 [#12].eml",
                                                          "message/rfc822")
    # The returned message exactly as it was sent: folding, 8-bit bytes, blanks.
    assert returned.data == (
        b"Return-Path: <help@example.test>\r\nFrom: Help <help@example.test>\r\n"
        b"To: gone@example.org\r\nSubject: Re: Order 7 [#12]\r\n"
        b"Message-ID: <reply-12@example.test>\r\nX-Folded: one\r\n\ttwo\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n"
        b"\r\nGr\xfc\xdfe,   your order is on its way.\r\n")


def test_nameless_parts_are_named_by_type_and_colons_kept() -> None:
    msg = parse("nameless-parts.eml")
    assert msg.text == "See the files."
    assert [(a.filename, a.content_type) for a in msg.attachments] == [
        ("image.gif", "image/gif"),
        ("image-2.gif", "image/gif"),
        ("document.html", "text/html"),
        ("file.bin", "application/octet-stream"),
        ("Invoice 10:30.pdf", "application/pdf"),
        ("Re: Order 7.eml", "message/rfc822"),
    ]
    assert msg.attachments[-1].data == (
        b"From: Bob <bob@example.org>\r\nSubject: Re: Order 7\r\n"
        b"Date: Mon, 07 Dec 2026 08:00:00 +0000\r\n\r\nFirst  line\r\n\r\n")


def test_file_names_with_colons_are_stored_safely(mail_app: Flask, dovecot: Dovecot
                                                      ) -> None:
    acc = account(dovecot)
    append(dovecot, mail("nameless-parts.eml"))
    assert poll(acc).ingested == 1
    [message] = all_messages()
    names = [a.filename for a in message.attachments]
    assert names == ["image.gif", "image-2.gif", "document.html", "file.bin",
                     "Invoice 10:30.pdf", "Re: Order 7.eml"]
    root = Path(mail_app.config["HELPDESK_ATTACHMENT_DIR"]).resolve()
    for row in message.attachments:  # on disk under the store's own keys, never the name
        path = (root / row.storage_key).resolve()
        assert path.is_file() and path.parent.parent == root and ":" not in str(path)
