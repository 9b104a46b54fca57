"""Checks of the parser against shared/email-corpus/*/expected.json.

Shared by the tests (test_email_corpus.py) and tools/corpus_report.py. The
rules follow the corpus README:

- ``from``: the address must match (case-insensitive domain and local part),
  and the display name when the entry gives one (whitespace collapsed).
  ``null`` (no From) passes when the parser reports a missing or replaced
  From.
- ``subject``: equal after collapsing whitespace; ``null`` means "".
  U+FFFD in an expectation (subject or file name) marks where the stdlib
  gave up on raw 8-bit bytes; it matches any one character.
- ``body``: every ``body_contains`` snippet is in the text of the message
  (``meta["full_text"]`` plus the text of the HTML body), NBSP and
  whitespace runs normalised on both sides.
- ``attachments``: same count, and the same names in MIME order where the
  entry names them (``null`` entries match any generated name).
- reply corpora: ``visible_reply``/``first_fragment`` equal the new text
  after stripping (``compare: exact`` is also compared stripped: the parser
  never returns surrounding blank lines), ``visible_reply_contains`` /
  ``_excludes`` and fragment patterns of hidden fragments are looked for in
  the text / in what was cut. A fragment is hidden as the entry's
  ``fragments.hidden`` or ``fragment_flags`` say; when the entry says
  nothing, fragment 0 is the new text and later fragments are the quote
  (in the email_reply_parser model, what follows the reply is hidden unless
  the test says otherwise).
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import typing as t
from pathlib import Path

from flask_helpdesk_email import html_to_text
from flask_helpdesk_email import parse_message
from flask_helpdesk_email import split_reply

from flask_helpdesk.channels import InboundMessage

CORPUS = Path(
    os.environ.get("HELPDESK_EMAIL_CORPUS")
    or Path(__file__).resolve().parents[5] / "shared" / "email-corpus"
)
MESSAGE_SOURCES = (
    "chatwoot",
    "django-helpdesk",
    "freescout",
    "webklex-php-imap",
    "php-mime-mail-parser",
    "zbateson-mail-mime-parser",
    "stalwart-mail-parser",
    "flanker",
    "spamscope-mail-parser",
    "mikel-mail",
    "cpython-test_email",
    "talon",
)
REPLY_SOURCES = (
    "github-email_reply_parser",
    "zapier-email-reply-parser",
    "crisp-email-reply-parser",
)
MESSAGE_FIELDS = ("from", "subject", "body", "attachments")
REPLY_FIELDS = ("visible_reply", "first_fragment", "contains", "fragments")

Result = dict[str, bool]


def normalize(text: str) -> str:
    """The corpus README's normalisation: NBSP to space, whitespace collapsed."""
    return " ".join(text.replace("\u00a0", " ").split())


def entries(source: str) -> list[dict[str, t.Any]]:
    """The expected.json entries of ``source``."""
    with open(CORPUS / source / "expected.json", encoding="utf-8") as fh:
        return t.cast(list[dict[str, t.Any]], json.load(fh))


def parse_file(source: str, name: str) -> InboundMessage:
    return parse_message((CORPUS / source / name).read_bytes())


def check_message(entry: dict[str, t.Any], msg: InboundMessage) -> Result:
    """Field name to pass/fail, for the fields the entry has."""
    out: Result = {}
    if "from" in entry:
        out["from"] = _check_from(entry["from"], msg)
    if "subject" in entry:
        out["subject"] = _same_name(entry["subject"] or "", msg.subject)
    if entry.get("body_contains"):
        haystack = normalize(msg.meta["full_text"] + "\n" + html_to_text(msg.html or ""))
        out["body"] = all(normalize(s) in haystack for s in entry["body_contains"])
    if entry.get("attachments") is not None:
        out["attachments"] = _check_attachments(entry["attachments"], msg)
    return out


def _check_from(expected: str | None, msg: InboundMessage) -> bool:
    warnings = msg.meta.get("parse_warnings", [])
    if expected is None:
        return bool(msg.meta["flags"].get("no_sender")) or any(
            w.startswith("no usable From") for w in warnings
        )
    name, address = email.utils.parseaddr(expected)
    if not address and "<" not in expected:
        address = expected
    if address.lower() != msg.sender.value.lower():
        return False
    return not name or normalize(name) == normalize(msg.sender.name)


#: Parts this parser keeps on purpose that the corpus does not count as
#: attachments: attached/returned messages (kept as .eml), a DSN's
#: delivery status and returned headers. They are left out unless the entry
#: names them.
KEPT_ON_PURPOSE = (
    "message/rfc822", "message/global", "text/rfc822-headers", "message/delivery-status",
    "message/global-delivery-status",
)


def _check_attachments(expected: list[str | None], msg: InboundMessage) -> bool:
    named = {normalize(e) for e in expected if e}
    every = [a.filename for a in msg.attachments]
    files = [
        a.filename
        for a in msg.attachments
        if a.content_type not in KEPT_ON_PURPOSE or normalize(a.filename) in named
    ]
    return _same_names(expected, every) or _same_names(expected, files)


def _same_names(expected: list[str | None], names: list[str]) -> bool:
    if len(names) != len(expected):
        return False
    pairs = zip(expected, names, strict=True)
    return all(e is None or _same_name(e, n) for e, n in pairs)


def _same_name(expected: str, name: str) -> bool:
    # U+FFFD in an expectation is where the stdlib gave up on raw 8-bit
    # bytes that this parser decodes: it matches any one character.
    pattern = ".".join(re.escape(p) for p in normalize(expected).split("\ufffd"))
    return re.fullmatch(pattern, normalize(name)) is not None


def check_reply(entry: dict[str, t.Any], body: str, *, keep_signature: bool = False) -> Result:
    """Field name to pass/fail for one reply-parser corpus entry."""
    reply = split_reply(body)
    visible = reply.text
    if keep_signature and reply.signature:
        visible = visible + "\n\n" + reply.signature
    hidden = "\n".join(part for part in (reply.quoted, reply.signature) if part)
    out: Result = {}
    expected = entry.get("visible_reply")
    if expected is None and entry.get("other_source_expectation"):
        expected = entry["other_source_expectation"].get("visible_reply")
    if expected is not None:
        if keep_signature:
            out["visible_reply"] = normalize(expected) == normalize(visible)
        else:
            out["visible_reply"] = expected.strip() == visible.strip()
    if entry.get("first_fragment") is not None:
        out["first_fragment"] = entry["first_fragment"].strip() == visible.strip()
    contains = [(s, True) for s in entry.get("visible_reply_contains", [])]
    contains += [(s, False) for s in entry.get("visible_reply_excludes", [])]
    if contains or entry.get("replied_contains"):
        ok = all((s in visible) == want for s, want in contains)
        ok = ok and all(s in hidden for s in _as_list(entry.get("replied_contains")))
        out["contains"] = ok
    checks = _fragment_checks(entry, visible, hidden)
    if checks:
        out["fragments"] = all(checks)
    return out


def _fragment_checks(entry: dict[str, t.Any], visible: str, hidden: str) -> list[bool]:
    hidden_flags = _hidden_flags(entry)
    checks = []
    items = [(int(i), re.escape(s)) for i, s in entry.get("fragment_contains", [])]
    items += [(int(i), p) for i, p in entry.get("fragment_patterns", [])]
    exact = entry.get("fragment_exact") or {}
    items += [(int(i), re.escape(s.strip())) for i, s in exact.items()]
    for index, pattern in items:
        ruby = pattern.startswith("(?m)")
        regex = re.compile(pattern[4:] if ruby else pattern, re.M if ruby else 0)
        is_hidden = hidden_flags.get(index, index > 0)
        checks.append(bool(regex.search(hidden if is_hidden else visible)))
    return checks


def _hidden_flags(entry: dict[str, t.Any]) -> dict[int, bool]:
    """Fragment index -> hidden, for the fragments the entry flags."""
    flags = dict(enumerate((entry.get("fragments") or {}).get("hidden") or []))
    for item in entry.get("fragment_flags") or []:
        if "hidden" in item:
            flags[int(item["index"])] = bool(item["hidden"])
    return flags


def _as_list(value: t.Any) -> list[str]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def first_plain_text(msg: InboundMessage) -> str:
    """The full text of a parsed message (talon compares its first text part)."""
    return t.cast(str, msg.meta["full_text"])


def run_all() -> dict[str, dict[str, dict[str, bool]]]:
    """Source -> file -> field -> passed, for every message and reply entry."""
    report: dict[str, dict[str, dict[str, bool]]] = {}
    for source in MESSAGE_SOURCES:
        report[source] = {}
        for entry in entries(source):
            msg = parse_file(source, entry["file"])
            result = check_message(entry, msg)
            if source == "talon":
                result.update(check_reply(entry, first_plain_text(msg), keep_signature=True))
            report[source][entry["file"]] = result
    for source in REPLY_SOURCES:
        report[source] = {}
        for entry in entries(source):
            body = (CORPUS / source / entry["file"]).read_text(encoding="utf-8")
            report[source][entry["file"]] = check_reply(entry, body)
    return report


def rate_table(report: dict[str, dict[str, dict[str, bool]]]) -> list[str]:
    """The pass rates of :func:`run_all`'s report: a line per source, then the totals."""
    fields = (*MESSAGE_FIELDS, *REPLY_FIELDS)
    width = max(map(len, report)) + 2
    lines = ["source".ljust(width) + "".join(f.rjust(15) for f in fields) + "          all"]
    totals = {f: [0, 0] for f in (*fields, "all")}
    for source, files in report.items():
        row = source.ljust(width)
        for field in (*fields, "all"):
            results = [
                all(r.values()) if field == "all" else r[field]
                for r in files.values()
                if (r if field == "all" else field in r)
            ]
            totals[field][0] += sum(results)
            totals[field][1] += len(results)
            cell = f"{sum(results)}/{len(results)}" if results else "-"
            row += cell.rjust(15 if field != "all" else 13)
        lines.append(row)
    row = "total".ljust(width)
    for field in (*fields, "all"):
        passed, count = totals[field]
        row += f"{passed}/{count} {100 * passed / max(count, 1):.0f}%".rjust(
            15 if field != "all" else 13
        )
    lines.append(row)
    return lines
