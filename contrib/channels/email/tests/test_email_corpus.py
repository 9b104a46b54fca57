"""The parser against every message of shared/email-corpus.

(a) every .eml parses without an exception into a sane InboundMessage;
(b) every expected.json entry's from/subject/body/attachments match, except
the differences listed in KNOWN_DIFFERENCES, each with its reason. The table
is strict both ways: a listed field that starts to pass fails the test too,
so the table (and docs/contrib/email.rst) must be updated with the fix.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import email_corpus_check as check
import pytest
from flask_helpdesk_email import parse_message

# Reasons, shared by several entries.
NO_ADDRESS = "From has no address with a domain: the parser uses the unknown@invalid placeholder"
SOURCE_NAMES = (
    "the source invents names for nameless parts (hashes, 'noname1'); we name them by their "
    "type (image.png, file.bin)"
)
PATHS = "the source strips path characters from file names; we keep them (the core sanitizes)"
INNER_TEXT = "text inside an attached message stays in its .eml attachment, not in the body"
STALWART = "mail-parser counts empty/nameless and nested message parts as attachments"
INLINE_TEXT = "a named text part with 'Content-Disposition: inline' is body text here (as stdlib)"
STDLIB_BREAK = (
    "a line in the header block is no header; the expectation, read with the stdlib, ends "
    "the headers there (no From, no Subject, the headers in the body); we read on past it"
)
EMAIL_REPLY = (
    "email_reply_parser keeps quote fragments above new text and treats '-name' lines as "
    "signatures; this parser cuts the history at the first quote header and does not"
)
BOTTOM_POST = (
    "bottom posting: a quote followed by the sender's answer stays in the text as its "
    "context; the source cuts every quote, or makes each block a fragment"
)
WRAPPED_QUOTE = (
    "quoted lines wrapped without '>' read as answers between quotes, so the quote and "
    "its header stay (bottom posting)"
)

#: (source, file) -> {field: reason}. Fields: from, subject, body, attachments
#: (messages); visible_reply, first_fragment, contains, fragments (replies).
KNOWN_DIFFERENCES: dict[tuple[str, str], dict[str, str]] = {
    ("chatwoot", "attachments_without_filename.eml"): {
        "attachments": "a part lacks the blank line after its headers; the two images "
        "after it are read as that part's header block",
    },
    ("chatwoot", "bounced_with_no_from.eml"): {"from": NO_ADDRESS},
    ("webklex-php-imap", "attachment_long_filename.eml"): {
        "attachments": "Content-Type name and Content-Disposition filename differ ('XXXX' / "
        "'XXXXX'; '????' where ISO-8859-15 lacks the letters): webklex lists the name, "
        "we take the filename (RFC 2183)",
    },
    ("webklex-php-imap", "attachment_no_disposition.eml"): {"attachments": SOURCE_NAMES},
    ("webklex-php-imap", "email_address.eml"): {"from": NO_ADDRESS},
    ("webklex-php-imap", "embedded_email_without_content_disposition.eml"): {
        "attachments": SOURCE_NAMES,
    },
    ("webklex-php-imap", "example_bounce.eml"): {"attachments": SOURCE_NAMES},
    ("webklex-php-imap", "imap_mime_header_decode_returns_false.eml"): {
        "subject": "broken base64 encoded word: padding repaired differently",
    },
    ("webklex-php-imap", "inline_attachment.eml"): {"attachments": SOURCE_NAMES},
    ("webklex-php-imap", "issue-275.eml"): {"from": NO_ADDRESS},
    ("webklex-php-imap", "issue-40.eml"): {
        "from": STDLIB_BREAK + " (continuation lines start with a literal '\\t'); the "
        "source's own test reads faked_sender@sender_domain.pl, as we do",
    },
    ("webklex-php-imap", "issue-414.eml"): {"attachments": PATHS},
    ("webklex-php-imap", "issue-462.eml"): {
        "from": "quoted local part with a space; Python's getaddresses drops the quotes",
    },
    ("webklex-php-imap", "references.eml"): {"from": NO_ADDRESS},
    ("php-mime-mail-parser", "failure.eml"): {
        "body": "the expectation keeps the stdlib's '?' for GBK bytes labelled GB2312; "
        "we decode them as GB18030",
    },
    ("php-mime-mail-parser", "issue84.eml"): {
        "from": STDLIB_BREAK + " (Received lines folded without a blank)",
        "subject": STDLIB_BREAK, "body": STDLIB_BREAK,
    },
    ("php-mime-mail-parser", "issue133.eml"): {"attachments": PATHS},
    ("php-mime-mail-parser", "issue250.eml"): {
        "attachments": "the encoded file name holds a line break; php-mime-mail-parser "
        "makes it '_', we make it a space",
    },
    ("php-mime-mail-parser", "m0010.eml"): {"attachments": SOURCE_NAMES},
    ("php-mime-mail-parser", "m0014.eml"): {"attachments": INLINE_TEXT},
    ("php-mime-mail-parser", "m0016.eml"): {"attachments": INLINE_TEXT},
    ("php-mime-mail-parser", "m0020.eml"): {"attachments": SOURCE_NAMES},
    ("php-mime-mail-parser", "m0027.eml"): {"attachments": PATHS},
    ("php-mime-mail-parser", "m0124.eml"): {
        "from": "unbalanced quotes in the display name are read differently",
    },
    ("zbateson-mail-mime-parser", "m0018.eml"): {
        "attachments": "the entry lists no names but the source counts 3 attachments; "
        "we return the 3 images",
    },
    ("zbateson-mail-mime-parser", "m1005.eml"): {"attachments": PATHS},
    ("zbateson-mail-mime-parser", "m1006.eml"): {"attachments": PATHS},
    ("zbateson-mail-mime-parser", "m1011.eml"): {
        "body": "UTF-7 body with bytes the strict codec refuses; the guess is wrong",
    },
    ("zbateson-mail-mime-parser", "m4004.eml"): {"attachments": PATHS},
    ("zbateson-mail-mime-parser", "m4008.eml"): {"attachments": PATHS},
    ("stalwart-mail-parser", "rfc-000.eml"): {"attachments": STALWART},
    ("stalwart-mail-parser", "rfc-001.eml"): {"from": NO_ADDRESS, "attachments": STALWART},
    ("stalwart-mail-parser", "rfc-003.eml"): {"attachments": STALWART},
    ("stalwart-mail-parser", "rfc-004.eml"): {"from": NO_ADDRESS},
    ("stalwart-mail-parser", "thirdparty-000.eml"): {
        "body": "the expectation contains a NUL character; the parser removes NULs",
    },
    ("stalwart-mail-parser", "thirdparty-002.eml"): {"attachments": STALWART},
    ("stalwart-mail-parser", "thirdparty-007.eml"): {"from": NO_ADDRESS},
    ("stalwart-mail-parser", "thirdparty-008.eml"): {"attachments": STALWART},
    ("stalwart-mail-parser", "thirdparty-009.eml"): {"attachments": STALWART},
    ("stalwart-mail-parser", "thirdparty-012.eml"): {"attachments": STALWART},
    **{
        ("stalwart-mail-parser", f"malformed-{n:03}.eml"): {"attachments": STALWART}
        for n in (1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 16)
    },
    ("flanker", "enclosed-bad-encoding.eml"): {"body": INNER_TEXT},
    ("flanker", "long-header.eml"): {"subject": "subjects are cut at 998 characters"},
    ("flanker", "torture-part.eml"): {"body": INNER_TEXT},
    ("flanker", "torture.eml"): {"attachments": "nested message parts are counted differently"},
    ("spamscope-mail-parser", "mail_test_9.eml"): {
        "subject": "GB2312 label, GBK bytes: we decode '屄，' where the stdlib has 3 U+FFFD",
    },
    ("mikel-mail", "attachment_emails__attachment_message_rfc822.eml"): {
        "attachments": "the mail gem lists the PDF inside the attached message; "
        "we keep the message whole as one .eml",
    },
    ("mikel-mail", "attachment_emails__attachment_with_encoded_name.eml"): {
        "attachments": "RFC 2231 name labelled iso-2022-jp holds an 8-bit byte; "
        "our CP932 fallback reads a kanji where the source gives up",
    },
    ("mikel-mail", "error_emails__bad_subject.eml"): {
        "from": "whitespace between encoded words is dropped (RFC 2047 6.2), the source keeps it",
    },
    ("mikel-mail", "error_emails__content_transfer_encoding_7-bit.eml"): {
        "body": "8-bit bytes labelled us-ascii: Windows-1252 here, Latin-1 in the source",
    },
    ("mikel-mail", "mime_emails__raw_email_with_binary_encoded.eml"): {
        "attachments": "derived from policy.default, which cuts the unquoted boundary "
        "'----=_Part_...' at '=' and finds no part; compat32 reads it whole and we "
        "return the named image part",
    },
    ("mikel-mail", "mime_emails__raw_email_with_mimepart_without_content_type.eml"): {
        "body": INNER_TEXT,
    },
    ("mikel-mail", "multipart_report_emails__multipart_report_multiple_status.eml"): {
        "body": INNER_TEXT,
    },
    ("mikel-mail", "plain_emails__mix_caps_content_type.eml"): {
        "from": "'From: Big Bug bb@bug.com' without brackets: the source reads the address "
        "'\"Big Bug bb\"@bug.com', we read the name Big Bug and the address bb@bug.com",
    },
    ("mikel-mail", "plain_emails__raw_email_incorrect_header.eml"): {
        "from": STDLIB_BREAK, "subject": STDLIB_BREAK, "body": STDLIB_BREAK,
    },
    ("mikel-mail", "rfc2822__example13.eml"): {
        "from": STDLIB_BREAK + " (obsolete 'From  :' with blanks before the colon)",
        "subject": STDLIB_BREAK,
    },
    ("mikel-mail", "plain_emails__raw_email8.eml"): {
        "attachments": "RFC 2231 name labelled iso-2022-jp holds an 8-bit byte (as above)",
    },
    ("cpython-test_email", "msg_05.eml"): {"from": NO_ADDRESS},
    ("cpython-test_email", "msg_16.eml"): {"body": INNER_TEXT},
    ("cpython-test_email", "msg_34.eml"): {"body": INNER_TEXT},
    ("cpython-test_email", "msg_43.eml"): {
        "from": NO_ADDRESS,
        "body": "the returned headers of a DSN are an attachment (returned-headers.txt)",
    },
    ("talon", "thunderbird.eml"): {"visible_reply": BOTTOM_POST},
}
KNOWN_REPLY_DIFFERENCES: dict[tuple[str, str], dict[str, str]] = {
    ("github-email_reply_parser", "email_1_1.txt"): {
        "first_fragment": EMAIL_REPLY, "fragments": EMAIL_REPLY,
    },
    ("github-email_reply_parser", "email_1_2.txt"): {"first_fragment": BOTTOM_POST},
    ("github-email_reply_parser", "email_1_3.txt"): {"fragments": EMAIL_REPLY},
    ("github-email_reply_parser", "email_sent_from_my_not_signature.txt"): {
        "visible_reply": "'Sent from my desk, ...' is taken for a mobile signature",
    },
    ("zapier-email-reply-parser", "email_sent_from_my_not_signature.txt"): {
        "visible_reply": "'Sent from my desk, ...' is taken for a mobile signature",
    },
    ("crisp-email-reply-parser", "email_2.txt"): {
        "first_fragment": BOTTOM_POST, "contains": BOTTOM_POST, "fragments": BOTTOM_POST,
    },
    ("crisp-email-reply-parser", "email_emoji.txt"): {
        "visible_reply": "a line of one em dash '—' starts a signature here (GitHub "
        "notifications put their footer under one); crisp keeps it as text",
    },
    ("crisp-email-reply-parser", "email_sent_from_my_not_signature.txt"): {
        "visible_reply": "'Sent from my desk, ...' is taken for a mobile signature",
    },
    ("crisp-email-reply-parser", "email_with_regards.txt"): {
        "first_fragment": "closings such as 'Regards,' are not treated as a signature",
    },
    ("crisp-email-reply-parser", "email_24.txt"): {
        "first_fragment": "the quote header has no colon ('On ... <john@doe.com> wrote'); "
        "without one, an 'On ... wrote' line is too close to a sentence to cut",
    },
    ("crisp-email-reply-parser", "email_7.txt"): {"first_fragment": WRAPPED_QUOTE},
    ("crisp-email-reply-parser", "email_8.txt"): {"first_fragment": WRAPPED_QUOTE},
    ("crisp-email-reply-parser", "email_9.txt"): {
        "first_fragment": "a French webmail block ('====', 'Message du : <date>', 'De :', "
        "'A :', 'Sujet :') is neither a quote header nor an Outlook block we know",
    },
}


def _eml_files() -> list[Path]:
    return sorted(check.CORPUS.glob("*/*.eml"))


def _entries(sources: tuple[str, ...]) -> list[tuple[str, dict[str, t.Any]]]:
    if not check.CORPUS.is_dir():
        return []
    return [(s, e) for s in sources for e in check.entries(s)]


@pytest.mark.parametrize("path", _eml_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_message_parses(corpus: Path, path: Path) -> None:
    msg = parse_message(path.read_bytes(), account="support@example.test")
    assert msg.channel == "email"
    assert msg.account == "support@example.test"
    assert msg.external_id and (msg.own_keys == (msg.external_id,) or not msg.own_keys)
    assert "@" in msg.sender.value
    assert msg.received_at is None or msg.received_at.tzinfo is None
    assert 0.0 <= msg.spam_score <= 1.0
    assert "\x00" not in msg.text + msg.subject + (msg.html or "")
    assert msg.meta["message_id"] not in msg.thread_keys or msg.meta["message_id"] is None
    json.dumps(dict(msg.meta))  # JSON-serializable, as the contract requires


def test_corpus_is_complete(corpus: Path) -> None:
    assert len(_eml_files()) == 517


@pytest.mark.parametrize(
    ("source", "entry"),
    _entries(check.MESSAGE_SOURCES),
    ids=lambda v: v["file"] if isinstance(v, dict) else v,
)
def test_expected_fields(corpus: Path, source: str, entry: dict[str, t.Any]) -> None:
    msg = check.parse_file(source, entry["file"])
    result = check.check_message(entry, msg)
    if source == "talon":
        result.update(check.check_reply(entry, check.first_plain_text(msg), keep_signature=True))
    failing = {field for field, ok in result.items() if not ok}
    assert failing == set(KNOWN_DIFFERENCES.get((source, entry["file"]), {}))


@pytest.mark.parametrize(
    ("source", "entry"),
    _entries(check.REPLY_SOURCES),
    ids=lambda v: v["file"] if isinstance(v, dict) else v,
)
def test_reply_corpus(corpus: Path, source: str, entry: dict[str, t.Any]) -> None:
    body = (corpus / source / entry["file"]).read_text(encoding="utf-8")
    result = check.check_reply(entry, body)
    failing = {field for field, ok in result.items() if not ok}
    assert failing == set(KNOWN_REPLY_DIFFERENCES.get((source, entry["file"]), {}))


def test_known_differences_name_real_entries(corpus: Path) -> None:
    for table, sources in (
        (KNOWN_DIFFERENCES, check.MESSAGE_SOURCES),
        (KNOWN_REPLY_DIFFERENCES, check.REPLY_SOURCES),
    ):
        known = {(s, e["file"]) for s, e in _entries(sources)}
        assert set(table) <= known
        assert all(reason for fields in table.values() for reason in fields.values())
