"""Focused behaviour of parse_message: charsets, flags, threading, parts."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from flask_helpdesk_email import parse_message
from flask_helpdesk_email import rewrite_cid


def load(corpus: Path, name: str) -> bytes:
    return (corpus / name).read_bytes()


def mail(headers: str, body: str = "Hello\n", *, raw: bytes | None = None) -> bytes:
    head = headers.strip("\n").replace("\n", "\r\n").encode("utf-8")
    return head + b"\r\n\r\n" + (raw if raw is not None else body.encode("utf-8"))


BASIC = "From: Carla <carla@Example.COM>\nTo: support@example.test\nSubject: Help"

# -- charsets ----------------------------------------------------------------


def test_koi8r_with_nul_bytes(corpus: Path) -> None:
    msg = parse_message(load(corpus, "freescout/message-4-null-bytes.eml"))
    assert msg.subject == "активизация виндойс"
    assert msg.text.startswith("Уважаемые системные администраторы")
    assert "NUL bytes removed from the message" in msg.meta["parse_warnings"]


def test_windows_1251_encoded_words(corpus: Path) -> None:
    msg = parse_message(load(corpus, "webklex-php-imap/mixed_filename.eml"))
    assert msg.subject == "Свежий прайс-лист"
    assert msg.sender.name == "Прайсы || ПартКом"


def test_x_mac_cyrillic_body(corpus: Path) -> None:
    msg = parse_message(load(corpus, "php-mime-mail-parser/issue230.eml"))
    assert "ACADEMIC NEWSLETTER" in msg.meta["full_text"]
    assert not any("unknown charset" in w for w in msg.meta["parse_warnings"])
    text = "Счёт №15 не оплачен"  # short: a guess reads it as Greek
    msg = parse_message(mail(f"{BASIC}\nContent-Type: text/plain; charset=x-mac-cyrillic",
                             raw=text.encode("mac_cyrillic")))
    assert msg.text == text
    assert msg.meta["parse_warnings"] == []


def test_gb2312_label_is_read_as_gb18030(corpus: Path) -> None:
    msg = parse_message(load(corpus, "spamscope-mail-parser/mail_test_9.eml"))
    assert "什么屄，这种" in msg.subject
    assert "\ufffd" not in msg.subject
    # 喆 is in GBK, not in GB2312; mailers label such text gb2312 all the same,
    # and a guess reads these bytes as Korean.
    text = "您好，我叫王喆。"
    data = text.encode("gbk")
    word = base64.b64encode(data).decode()
    msg = parse_message(mail(
        f"From: wang@example.cn\nSubject: =?gb2312?B?{word}?=\n"
        "Content-Type: text/plain; charset=gb2312", raw=data))
    assert (msg.subject, msg.text) == (text, text)
    assert msg.meta["parse_warnings"] == []


def test_iso_2022_jp(corpus: Path) -> None:
    msg = parse_message(load(corpus, "freescout/message-5-iso-2022-jp.eml"))
    assert msg.subject == "ご注文商品を本日お届けします"
    assert msg.sender.name == "アマゾン"
    # NEC row 13 (circled digits, Roman numerals, ㈱) and an NEC-selected IBM
    # extension (small roman numeral, row 92) in JIS X 0208 runs, as Outlook
    # writes them: plain ISO-2022-JP has none of these.
    subject = base64.b64encode(b"\x1b$B-!HV$H-5\x1b(B").decode()
    body = b"\x1b$B-j$NMM$K\x1b(B \x1b$B|q\x1b(B\r\n"
    msg = parse_message(mail(
        f"From: sato@example.jp\nSubject: =?ISO-2022-JP?B?{subject}?=\n"
        "Content-Type: text/plain; charset=ISO-2022-JP", raw=body))
    assert msg.subject == "①番とⅠ"
    assert msg.text == "㈱の様に ⅰ"
    assert msg.meta["parse_warnings"] == []


@pytest.mark.parametrize(
    ("word", "text"),
    [
        ("=?ks_c_5601-1987?B?vsiz58fPvLy/5A==?=", "안녕하세요"),
        ("=?utf-7?Q?Fr+APY-sche?=", "Frösche"),
        ("=?x-mac-cyrillic?Q?=8F=F0=E8=E2=E5=F2?=", "Привет"),
        ("=?koi8-u?B?8NLJ16bU?=", "Привіт"),
        ("=?UTF-8?B?0J/RgNC4?= =?UTF-8?B?0LLQtdGC?=", "Привет"),
        ("=?utf-8?q?caf=C3?= =?utf-8?q?=A9?=", "café"),
        ("=?bogus-charset?Q?caf=C3=A9?=", "café"),
    ],
)
def test_encoded_word_charsets(word: str, text: str) -> None:
    msg = parse_message(mail(f"From: a@example.test\nSubject: {word}"))
    assert msg.subject == text


def test_raw_8bit_headers_are_decoded() -> None:
    raw = b"From: =?utf-8?q?Jos=C3=A9?= <jose@example.test>\r\nSubject: Ol\xe1 amigo\r\n"
    raw += b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nOl\xe1\r\n"
    msg = parse_message(raw)
    assert msg.subject == "Olá amigo"
    assert msg.sender == msg.sender.__class__("email", "jose@example.test", "José")
    assert msg.text == "Olá"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"Jos\xe9 Garc\xeda", "José García"),
        (b"Heinz M\xfcller", "Heinz Müller"),
        ("Иван Петров".encode("koi8-r"), "Иван Петров"),
        ("주문 확인".encode("cp949"), "주문 확인"),
    ],
)
def test_raw_8bit_header_without_any_charset(raw: bytes, text: str) -> None:
    # No charset in the message: the detector's reading of a short header is
    # kept when it names a charset mailers write, else chosen among those.
    msg = parse_message(b"From: a@example.test\r\nSubject: " + raw + b"\r\n\r\nHello\r\n")
    assert msg.subject == text


def test_unlabelled_8bit_body_is_guessed() -> None:
    body = "Добрый день! Не работает вход в личный кабинет, помогите пожалуйста.\n"
    msg = parse_message(mail(BASIC, raw=body.encode("cp1251")))
    assert msg.text == body.strip()


def test_huge_header_is_bounded() -> None:
    msg = parse_message(mail(f"{BASIC} {'x' * 100_000}\nX-Junk: {'y' * 100_000}"))
    assert len(msg.subject) == 998
    assert any(w.startswith("Subject: ") and "cut" in w for w in msg.meta["parse_warnings"])


# -- never raises ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"From:\r\n\r\n",
        b"Content-Type: multipart/mixed\r\n\r\n--",
        b"Subject: =?utf-8?B?####?=\r\n\r\n",
        bytes(range(256)) * 10,
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    msg = parse_message(raw)
    assert msg.sender.value == "unknown@invalid"
    assert msg.meta["flags"]["no_sender"] is True
    assert msg.external_id == "sha256:" + hashlib.sha256(raw).hexdigest()


# -- sender, ids, dates, threading -------------------------------------------


def test_sender_falls_back_to_sender_header() -> None:
    msg = parse_message(mail("From: Just A Name\nSender: real@example.test\nSubject: x"))
    assert msg.sender.value == "real@example.test"
    assert msg.meta["flags"]["no_sender"] is False


def test_message_id_and_threading() -> None:
    msg = parse_message(
        mail(
            f"{BASIC}\nMessage-ID: < own@example.test >\nIn-Reply-To: <b@x>\n"
            "References: <a@x>\n <b@x> <c@x>\nDate: Tue, 01 Mar 2022 12:30:00 +0300"
        )
    )
    assert msg.external_id == "own@example.test"
    assert msg.own_keys == ("own@example.test",)
    assert msg.thread_keys == ("b@x", "c@x", "a@x")
    assert msg.meta["references"] == ["a@x", "b@x", "c@x"]
    assert msg.received_at == dt.datetime(2022, 3, 1, 9, 30)


def test_missing_or_garbage_message_id_uses_a_hash() -> None:
    for headers in (
        BASIC,
        f"{BASIC}\nMessage-ID: <>",
        f"{BASIC}\nMessage-ID: <a@x>\nMessage-ID: <b@x>",
    ):
        raw = mail(headers)
        msg = parse_message(raw)
        assert msg.external_id == "sha256:" + hashlib.sha256(raw).hexdigest()
        assert msg.own_keys == ()


def test_bad_date_is_none() -> None:
    msg = parse_message(mail(f"{BASIC}\nDate: someday soon"))
    assert msg.received_at is None
    assert msg.meta["date"] == "someday soon"


def test_ticket_hint_and_custom_token() -> None:
    assert parse_message(mail(f"{BASIC} [#123]")).ticket_hint == 123
    msg = parse_message(mail(f"{BASIC} (Ticket 77)"), ticket_token=r"Ticket (\d+)")
    assert msg.ticket_hint == 77
    assert parse_message(mail(BASIC)).ticket_hint is None


def test_addresses_in_meta() -> None:
    msg = parse_message(
        mail(f"{BASIC}\nCc: =?utf-8?q?B=C3=B8?= <bo@x.test>, c@x.test\nReply-To: r@x.test")
    )
    assert msg.sender.value == "carla@example.com"
    assert msg.meta["cc"] == [
        {"name": "Bø", "address": "bo@x.test"},
        {"name": "", "address": "c@x.test"},
    ]
    assert msg.meta["reply_to"] == [{"name": "", "address": "r@x.test"}]


# -- flags -------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-replied",
        "X-Autoreply: yes",
        "X-Autorespond: on",
        "Precedence: auto_reply",
        "Subject: Out of Office: back Monday",
        "Subject: Автоответ: отпуск",
    ],
)
def test_auto_replies(header: str) -> None:
    msg = parse_message(mail(f"From: a@example.test\n{header}"))
    assert msg.auto_submitted and msg.meta["flags"]["auto_reply"]


@pytest.mark.parametrize(
    "header", ["List-Id: <l.example.test>", "Precedence: bulk", "List-Unsubscribe: <mailto:u@x>"]
)
def test_mailing_lists(header: str) -> None:
    msg = parse_message(mail(f"From: a@example.test\n{header}"))
    assert msg.auto_submitted and msg.meta["flags"]["mailing_list"]


def test_ordinary_mail_is_not_auto() -> None:
    msg = parse_message(mail(f"{BASIC}\nAuto-Submitted: no"))
    assert not msg.auto_submitted
    assert msg.meta["flags"] == {
        "auto_reply": False,
        "bounce": False,
        "mailing_list": False,
        "spam": False,
        "precedence": None,
        "no_sender": False,
    }


def test_noreply_sender_is_auto() -> None:
    assert parse_message(mail("From: No Reply <no-reply@shop.test>")).auto_submitted


def test_dsn_bounce(corpus: Path) -> None:
    msg = parse_message(load(corpus, "chatwoot/bounced_gmail.eml"))
    assert msg.auto_submitted and msg.meta["flags"]["bounce"]
    assert msg.meta["bounce"]["failed_recipients"] == ["alex.jones@fictionalcorp.com"]
    msg = parse_message(load(corpus, "flanker/bounce__no-mx.eml"))
    assert msg.meta["bounce"]["status"] == "4.4.4"
    assert "no MX" in msg.meta["bounce"]["diagnostic"]


def test_chatwoot_auto_replies(corpus: Path) -> None:
    import json

    entries = json.loads((corpus / "chatwoot/expected.json").read_text())
    flagged = [e for e in entries if "auto_reply" in e]
    assert flagged
    for entry in flagged:
        msg = parse_message(load(corpus, f"chatwoot/{entry['file']}"))
        assert msg.auto_submitted == entry["auto_reply"], entry["file"]


def test_gtube_is_spam(corpus: Path) -> None:
    msg = parse_message(load(corpus, "spamscope-mail-parser/mail_test_16.eml"))
    assert msg.spam_score == 1.0 and msg.meta["flags"]["spam"]


@pytest.mark.parametrize(
    ("header", "score"),
    [
        ("X-Spam-Flag: YES", 1.0),
        ("X-Spam-Status: No, score=2.5 required=5.0", 0.25),
        ("X-Spam-Score: 15", 1.0),
        ("X-Spam-Level: **", 0.2),
        ("X-Spam-Status: No, score=-3", 0.0),
    ],
)
def test_spam_headers(header: str, score: float) -> None:
    assert parse_message(mail(f"{BASIC}\n{header}")).spam_score == pytest.approx(score)


# -- parts -------------------------------------------------------------------


def test_inline_cid_images(corpus: Path) -> None:
    msg = parse_message(load(corpus, "chatwoot/mail_with_inline_images.eml"))
    inline = [a for a in msg.attachments if a.inline]
    assert [a.content_id for a in inline] == ["ii_lm7fuura0", "ii_lm7fuuvm1", "ii_lm7fuuwn2"]
    assert msg.html is not None and 'src="cid:ii_lm7fuura0"' in msg.html
    html = rewrite_cid(msg.html, {"<II_LM7FUURA0>": "/files/1?a=1&b=2"})
    assert 'src="/files/1?a=1&amp;b=2"' in html and 'src="cid:ii_lm7fuuvm1"' in html


def test_html_is_sanitized_and_text_derived() -> None:
    body = (
        '<html><head><style>p{}</style></head><body><p onclick="x()">Hi <b>there</b>'
        "<script>alert(1)</script></p><blockquote>old text</blockquote></body></html>"
    )
    msg = parse_message(mail(f"{BASIC}\nContent-Type: text/html; charset=utf-8", body))
    assert msg.html is not None
    assert "script" not in msg.html and "onclick" not in msg.html and "<b>there</b>" in msg.html
    assert msg.text == "Hi there"
    assert "> old text" in msg.meta["full_text"]


def test_rfc2231_filename_and_attached_message() -> None:
    raw = mail(
        f"{BASIC}\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b",
        "--b\r\nContent-Type: text/plain\r\n\r\nSee files\r\n"
        "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment;"
        " filename*=utf-8''%D0%A1%D1%87%D1%91%D1%82.pdf\r\n\r\n%PDF\r\n"
        "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: Old one\r\n\r\nold body\r\n"
        "--b--\r\n",
    )
    msg = parse_message(raw)
    assert msg.text == "See files"
    assert [(a.filename, a.content_type) for a in msg.attachments] == [
        ("Счёт.pdf", "application/pdf"),
        ("Old one.eml", "message/rfc822"),
    ]
    assert msg.attachments[1].data.rstrip().endswith(b"old body")


def test_line_break_in_a_filename_is_a_space() -> None:
    # "Kontoutskrift 1506\nBedriftskonto.pdf", base64 in an encoded word
    word = "=?UTF-8?B?S29udG91dHNrcmlmdCAxNTA2CkJlZHJpZnRza29udG8ucGRm?="
    raw = mail(
        f"{BASIC}\nMIME-Version: 1.0\nContent-Type: application/pdf\n"
        f'Content-Disposition: attachment; filename="{word}"',
        "%PDF\n",
    )
    assert [a.filename for a in parse_message(raw).attachments] == [
        "Kontoutskrift 1506 Bedriftskonto.pdf"
    ]


def test_uuencoded_body_becomes_attachment() -> None:
    import binascii

    line = binascii.b2a_uu(b"hello file").decode()
    msg = parse_message(mail(BASIC, f"See attached.\n\nbegin 644 note.txt\n{line}`\nend\n"))
    assert msg.text == "See attached."
    assert [(a.filename, a.data) for a in msg.attachments] == [("note.txt", b"hello file")]


def test_winmail_dat_kept_when_not_decodable(corpus: Path) -> None:
    msg = parse_message(load(corpus, "zbateson-mail-mime-parser/m4006.eml"))
    names = [a.filename for a in msg.attachments]
    assert names == ["winmail.dat"]
    assert any("winmail.dat" in w for w in msg.meta["parse_warnings"])


def test_quotes_and_signature_removed_but_kept_in_full_text() -> None:
    body = (
        "Thanks, it works!\n\n-- \nCarla\n\nOn Mon, 1 Mar 2022, Support <s@x> wrote:\n> Try again\n"
    )
    msg = parse_message(mail(BASIC, body))
    assert msg.text == "Thanks, it works!"
    assert msg.meta["full_text"] == body.strip("\n")


def _tnef_attribute(level: int, name: int, kind: int, data: bytes) -> bytes:
    import struct

    head = struct.pack("<BHHI", level, name, kind, len(data))
    return head + data + struct.pack("<H", sum(data) & 0xFFFF)


def _winmail_dat(filename: bytes, content: bytes, body: bytes) -> bytes:
    """A TNEF stream as Outlook writes it: version, code page, body, one file."""
    import struct

    return b"".join((
        struct.pack("<IH", 0x223E9F78, 1),
        _tnef_attribute(1, 0x9006, 0x0008, struct.pack("<I", 0x10000)),  # attTnefVersion
        _tnef_attribute(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0)),  # attOemCodepage
        _tnef_attribute(1, 0x800C, 0x0002, body),  # attBody
        _tnef_attribute(2, 0x9002, 0x0006, bytes(14)),  # attAttachRendData: a file begins
        _tnef_attribute(2, 0x8010, 0x0001, filename + b"\x00"),  # attAttachTitle
        _tnef_attribute(2, 0x800F, 0x0006, content),  # attAttachData
    ))


def test_winmail_dat_files_are_extracted() -> None:
    tnef = _winmail_dat(b"invoice.pdf", b"%PDF-1.4 the invoice", b"Please see the invoice.")
    raw = mail(
        f"{BASIC}\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b",
        "--b\r\nContent-Type: text/plain\r\n\r\nSent from Outlook\r\n"
        "--b\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\n"
        "Content-Disposition: attachment; filename=winmail.dat\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(tnef).decode() + "--b--\r\n",
    )
    msg = parse_message(raw)
    assert [(a.filename, a.content_type, a.data) for a in msg.attachments] == [
        ("invoice.pdf", "application/pdf", b"%PDF-1.4 the invoice")]
    assert msg.text == "Sent from Outlook"
    assert "winmail.dat unpacked into 1 file(s)" in msg.meta["parse_warnings"]
