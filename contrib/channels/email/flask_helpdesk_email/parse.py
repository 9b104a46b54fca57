"""Turning one raw RFC 822 message into the core's :class:`InboundMessage`.

:func:`parse_message` is a pure function: bytes in, value out, no I/O, and
it never raises. Broken mail degrades part by part: a part that cannot be
decoded is kept as an attachment or guessed, and every repair is described
in ``meta["parse_warnings"]``. Python's ``email`` package does the MIME
walking with the ``compat32`` policy (the most lenient one), but headers are
read raw and decoded here, because the stdlib gives up on raw 8-bit bytes,
unknown charsets and encoded words in broken places.
"""

from __future__ import annotations

import binascii
import datetime as dt
import email
import email.utils
import functools
import hashlib
import mimetypes
import re
import typing as t
from email.errors import MissingHeaderBodySeparatorDefect
from email.message import Message
from email.policy import Compat32

from flask_helpdesk.channels import Identity
from flask_helpdesk.channels import InboundAttachment
from flask_helpdesk.channels import InboundMessage
from flask_helpdesk.services.markup import simplify_html
from flask_helpdesk.services.messages import HTML_MAX

from . import _flags
from ._charsets import codec_for
from ._charsets import decode_bytes
from ._charsets import decode_header
from ._charsets import detect_legacy
from ._charsets import raw_bytes
from ._charsets import repair_words
from ._charsets import storable
from .html import cid_references
from .html import sanitize_simplified
from .html import simplified_text
from .reply import split_reply

#: Header values are cut to this many characters before decoding, so that a
#: 100 KB header costs no more than a normal one.
MAX_HEADER_CHARS = 16_384
#: Longest subject kept (characters).
MAX_SUBJECT_CHARS = 998
#: At most this many ids are read from References / In-Reply-To.
MAX_THREAD_IDS = 100
#: At most this many addresses are read from each address header.
MAX_ADDRESSES = 200
#: Sender used when a message names none.
UNKNOWN_SENDER = "unknown@invalid"


class _RawPolicy(Compat32):
    """compat32, but header values come back exactly as received.

    Raw 8-bit bytes stay as lone surrogates (``surrogateescape``) so that
    :func:`decode_header` can decode them with the right charset.
    """

    def header_fetch_parse(self, name: str, value: str) -> t.Any:
        return value


_POLICY = _RawPolicy()
_ID = re.compile(r"<([^<>\s]+)>")
_BODY_TYPES = ("text/plain", "text/html")
#: Text types that are files even without a name.
_TEXT_FILES = frozenset(
    {"text/calendar", "text/rfc822-headers", "text/x-vcard", "text/vcard", "text/csv", "text/xml"}
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_UUENCODED = re.compile(r"(?ms)^begin [0-7]{3,4} ([^\n]+)\n(.*?)^end[ \t]*$\n?")


def parse_message(
    raw: bytes,
    *,
    account: str = "",
    ticket_token: re.Pattern[str] | str = r"\[#(\d+)\]",
) -> InboundMessage:
    """Parse one raw message into an :class:`~flask_helpdesk.channels.InboundMessage`.

    :param raw: The message exactly as fetched (RFC 822 bytes, any line
        endings).
    :param account: The mailbox it came through, copied to ``account``.
    :param ticket_token: Pattern whose first group is a ticket number in
        the subject, for ``ticket_hint``.
    :return: The inbound message. Never raises: whatever cannot be read is
        replaced by a placeholder and named in ``meta["parse_warnings"]``.

    .. versionadded:: 0.1
    """
    warnings: list[str] = []
    try:
        return _Parser(raw, account, ticket_token, warnings).parse()
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises"
        warnings.append(f"message could not be parsed ({type(exc).__name__}: {exc}); kept as text")
        return _fallback(raw, account, warnings)


class _Parser:
    """One parse; holds the message, the warnings and what was collected."""

    def __init__(
        self, raw: bytes, account: str, token: re.Pattern[str] | str, warnings: list[str]
    ) -> None:
        self.raw = raw
        self.account = account
        self.token = re.compile(token) if isinstance(token, str) else token
        self.warnings = warnings
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[InboundAttachment] = []
        if b"\x00" in raw:
            raw = raw.replace(b"\x00", b"")
            warnings.append("NUL bytes removed from the message")
        self.msg = email.message_from_bytes(raw, policy=_POLICY)
        if any(isinstance(d, MissingHeaderBodySeparatorDefect) for d in self.msg.defects):
            repaired = _repair_header_block(raw, warnings)
            if repaired is not None:
                raw = repaired
                self.msg = email.message_from_bytes(repaired, policy=_POLICY)
        self.parsed = raw
        #: Split multiparts into their bytes only when a message part needs them.
        self.keep_raw = any(
            p.get_content_maintype() == "message" for p in self.msg.walk() if p is not self.msg)
        self.tld = _sender_tld(self.msg.get("From") or self.msg.get("Sender"))
        #: The charset raw 8-bit header bytes are read in: the message's first
        #: declared one (US-ASCII declares none), else what the bytes of all
        #: its address and subject headers together look like.
        self.charset = next(
            (c for c in (_charset(p) for p in self.msg.walk())
             if c and c.lower() not in _ASCII_LABELS), None
        ) or self.detect_header_charset()
        #: Mailers that write UTF-7 (``unicode-1-1-utf-7``) write headers in it too.
        self.utf7 = codec_for(self.charset) == "utf-7"

    # -- headers -------------------------------------------------------------

    def detect_header_charset(self) -> str | None:
        """The legacy charset of the raw 8-bit bytes in the message's headers.

        A subject or a name alone is a few bytes, too few to tell GBK from
        Shift_JIS or Korean; a mailer writes all its headers in one charset.
        """
        sample = []
        for name in _TEXT_HEADERS:
            for value in self.msg.get_all(name) or ():
                text = str(value)[:MAX_HEADER_CHARS]
                if not text.isascii():
                    data = raw_bytes(text)
                    try:
                        data.decode("utf-8")
                    except UnicodeDecodeError:
                        sample.append(data)
        return detect_legacy(b"\n".join(sample), self.tld) if sample else None

    def header(self, name: str) -> str:
        """Decoded value of the first ``name`` header, ``""`` when absent."""
        return self.from_utf7(decode_header(
            self._bounded(name, self.msg.get(name)), self.warnings, fallback=self.charset,
            what=name, tld=self.tld,
        ), name)

    def from_utf7(self, text: str, what: str) -> str:
        """``Fr+APY-sche`` is ``Frösche`` in a message written in UTF-7."""
        if not self.utf7 or "+" not in text or not text.isascii():
            return text
        try:
            decoded = text.encode("ascii").decode("utf-7")
        except UnicodeDecodeError:
            return text
        if decoded.isascii() or decoded == text:
            return text
        self.warnings.append(f"{what}: UTF-7 without encoded words decoded")
        return storable(decoded)

    def _bounded(self, name: str, value: t.Any) -> str:
        text = "" if value is None else str(value)
        if len(text) > MAX_HEADER_CHARS:
            self.warnings.append(f"{name}: {len(text)} characters long, cut")
            text = text[:MAX_HEADER_CHARS]
        return text

    def addresses(self, name: str) -> list[tuple[str, str]]:
        """``(display name, address)`` pairs of every ``name`` header."""
        values = tuple(
            _bracket_bare_addresses(repair_words(self._bounded(name, v)))
            for v in self.msg.get_all(name) or ()
        )
        try:
            pairs = _getaddresses(values) if values else ()
            if any("(" in v for v in values):
                pairs = _without_comments(values, pairs)
        except Exception:  # noqa: BLE001
            self.warnings.append(f"{name}: unparsable address list")
            pairs = ()
        out = []
        for display, address in pairs[:MAX_ADDRESSES]:
            display = self.from_utf7(decode_header(
                display, self.warnings, fallback=self.charset, what=name, tld=self.tld), name)
            address = decode_header(address, self.warnings, fallback=self.charset, what=name,
                                    tld=self.tld)
            address = _normalize_address(address)
            if address or display:
                out.append((" ".join(display.split()), address))
        return out

    def ids(self, name: str) -> list[str]:
        """Message ids in every ``name`` header, in order, without brackets."""
        found: list[str] = []
        for value in self.msg.get_all(name) or ():
            found.extend(_ids(self._bounded(name, value)))
        return list(dict.fromkeys(found))

    def sender(self) -> tuple[Identity, bool]:
        from_pairs = self.addresses("From")
        robot = next((p for p in from_pairs if _ROBOT.fullmatch(p[1])), None)
        if robot is not None and not any("@" in a for _, a in from_pairs):
            # "From: MAILER-DAEMON (Mail Delivery System)": the bounce of a
            # mail server that does not qualify its own address.
            domain = (self.message_id() or "").rpartition("@")[2].strip().lower()
            domain = domain if re.fullmatch(r"[a-z0-9.-]+\.[a-z0-9-]+", domain) else "invalid"
            self.warnings.append(f"From {robot[1]} has no domain; {domain} assumed")
            return Identity("email", f"{robot[1].lower()}@{domain}", robot[0]), False
        for name in ("From", "Sender", "Return-Path", "Reply-To"):
            for display, address in from_pairs if name == "From" else self.addresses(name):
                if "@" in address:
                    if name != "From":
                        self.warnings.append(f"no usable From, sender taken from {name}")
                    return Identity("email", address, display), False
        display = from_pairs[0][0] or from_pairs[0][1] if from_pairs else ""
        self.warnings.append("no sender address; placeholder used")
        return Identity("email", UNKNOWN_SENDER, display), True

    def message_id(self) -> str | None:
        values = [self._bounded("Message-ID", v) for v in self.msg.get_all("Message-ID") or ()]
        ids = list(dict.fromkeys(i for v in values for i in (_ids(v) or _bare_ids(v))))
        if len(ids) == 1 and len(ids[0]) <= 900:
            if len(values) > 1:
                self.warnings.append("Message-ID header repeated")
            return ids[0]
        if values:
            self.warnings.append("Message-ID unusable; a hash of the message is the id")
        return None

    def received_at(self, value: str) -> dt.datetime | None:
        if not value.strip():
            return None
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            self.warnings.append(f"Date unparsable: {value[:80]!r}")
            return None
        if when.tzinfo is not None:
            when = when.astimezone(dt.UTC).replace(tzinfo=None)
        return when

    # -- body ----------------------------------------------------------------

    def visit(self, part: Message, depth: int = 0, raw: bytes | None = None) -> None:
        """Collect body texts and attachments of ``part`` and its children.

        :param raw: The part's bytes as received (headers and body), when
            known: an attached message keeps them.
        """
        ctype = storable(part.get_content_type())
        if ctype in ("message/rfc822", "message/global") and depth > 0:
            self.attach_message(part, raw)
        elif ctype in _flags.DSN_TYPES:
            # Read by bounce_details() into meta["bounce"], and kept as a file.
            data = _body_of(raw) if raw is not None else _dsn_bytes(part)
            if not data.strip():
                return
            self.attachments.append(InboundAttachment(
                filename=self.filename(part) or "delivery-status.txt", content_type=ctype,
                data=data, content_id=_content_id(part), inline=False))
        elif ctype.startswith("multipart/") and not part.is_multipart() and depth < 50:
            self.visit(self.repair_multipart(part), depth + 1)
        elif part.is_multipart():
            subs = part.get_payload()
            raws = _split_parts(raw, part.get_boundary(), len(subs)) if self.keep_raw else None
            for index, sub in enumerate(subs):
                if isinstance(sub, Message) and depth < 50:
                    self.visit(sub, depth + 1, raws[index] if raws else None)
        else:
            try:
                self.leaf(part, ctype)
            except Exception as exc:  # noqa: BLE001 - lose one part, not the mail
                self.warnings.append(f"{ctype} part skipped ({type(exc).__name__}: {exc})")

    def leaf(self, part: Message, ctype: str) -> None:
        disposition = _disposition(part)
        filename = self.filename(part)
        data = self.payload(part)
        if _is_body(ctype, disposition, filename):
            label = _charset(part)
            if ctype == "text/html" and not label:
                found = _META_CHARSET.search(data[:4096])
                label = found.group(1).decode("ascii") if found else None
            text = decode_bytes(data, label, self.warnings, what=f"{ctype} body")
            if ctype == "text/html":
                self.html.append(text)
            else:
                self.plain.append(self.extract_uuencoded(text))
            return
        if _is_tnef(ctype, filename) and self.attach_tnef(data):
            return
        if not data and not filename:
            return
        self.attachments.append(
            InboundAttachment(
                filename=filename or self.default_name(ctype),
                content_type=ctype,
                data=data,
                content_id=_content_id(part),
                inline=disposition == "inline",
            )
        )

    def default_name(self, ctype: str) -> str:
        """A name for a nameless part from its type: ``image.gif``, ``image-2.gif``."""
        name = _default_name(ctype)
        stem, dot, ext = name.rpartition(".")
        taken = {a.filename for a in self.attachments}
        number = 2
        while name in taken:
            name = f"{stem}-{number}{dot}{ext}"
            number += 1
        return name

    def repair_multipart(self, part: Message) -> Message:
        """Re-read a multipart whose boundary is missing or wrong.

        The first ``--line`` of the body is taken as the boundary; when there
        is none the body becomes a plain text part.
        """
        data = self.payload(part)
        found = re.search(rb"^--([^\r\n]{1,200}?)[ \t]*\r?$", data, re.MULTILINE)
        self.warnings.append(f"{part.get_content_type()} without a usable boundary, repaired")
        if found and not found.group(1).endswith(b"--"):
            head = b'Content-Type: multipart/mixed; boundary="' + found.group(1) + b'"\n\n'
        else:
            head = b"Content-Type: text/plain\n\n"
        return email.message_from_bytes(head + data, policy=_POLICY)

    def payload(self, part: Message) -> bytes:
        try:
            data = part.get_payload(decode=True)
        except Exception as exc:  # noqa: BLE001
            self.warnings.append(f"transfer encoding not decodable ({exc}); raw bytes kept")
            data = None
        if data is None:
            payload = part.get_payload()
            data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
        cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
        if cte in ("x-uuencode", "uuencode", "x-uue") and not data:
            found = _UUENCODED.search(str(part.get_payload()).replace("\r\n", "\n"))
            data = (_uudecode(found.group(2)) if found else None) or b""
        if part.defects:
            names = sorted({type(d).__name__ for d in part.defects})
            self.warnings.append(f"{part.get_content_type()} part defects: {', '.join(names)}")
        return t.cast(bytes, data)

    def filename(self, part: Message) -> str | None:
        for value in (
            part.get_param("filename", None, "content-disposition"),
            part.get_param("name", None, "content-type"),
        ):
            if value is None:
                continue
            if isinstance(value, tuple):  # RFC 2231: (charset, language, text)
                charset, _lang, text = value
                data = _latin1_bytes(text)
                name = decode_bytes(data, charset or None, self.warnings, what="filename")
                name = decode_header(name, self.warnings, what="filename")
            else:
                name = decode_header(
                    email.utils.unquote(str(value)), self.warnings, fallback=self.charset,
                    what="filename", tld=self.tld,
                )
            # A line break or tab in a name separates words: it becomes a space.
            name = " ".join(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", name).split())
            if name:
                return name
        return None

    def attach_message(self, part: Message, raw: bytes | None = None) -> None:
        """Attach a message/rfc822 part as ``<subject>.eml`` with its bytes as received."""
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
        if isinstance(inner, Message):
            if raw is not None and cte not in ("base64", "quoted-printable"):
                data = _body_of(raw)
            else:
                try:
                    data = inner.as_bytes()
                except Exception:  # noqa: BLE001
                    data = inner.as_string().encode("utf-8", "surrogateescape")
            subject = decode_header(inner.get("Subject"), self.warnings, what="attached Subject")
        else:
            data, subject = self.payload(part), ""
        name = self.filename(part) or (_safe_name(subject) or "message") + ".eml"
        self.attachments.append(
            InboundAttachment(
                filename=name,
                content_type=part.get_content_type(),
                data=data,
                content_id=_content_id(part),
                inline=False,
            )
        )

    def attach_tnef(self, data: bytes) -> bool:
        """Add the files inside a winmail.dat; ``False`` keeps it as is."""
        try:
            import tnefparse
        except ImportError:  # pragma: no cover - a declared dependency
            return False
        try:
            tnef = tnefparse.TNEF(data)
            files = [(a.long_filename() or a.name, bytes(a.data)) for a in tnef.attachments]
        except Exception as exc:  # noqa: BLE001
            self.warnings.append(f"winmail.dat not decodable ({type(exc).__name__}); kept as is")
            return False
        for name, content in files:
            name = name if isinstance(name, str) else decode_bytes(name, None)
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            self.attachments.append(InboundAttachment(name, ctype, content))
        body = getattr(tnef, "body", None)
        if body and not self.plain:
            text = body if isinstance(body, str) else decode_bytes(body, None, self.warnings)
            self.plain.append(text)
        self.warnings.append(f"winmail.dat unpacked into {len(files)} file(s)")
        return True

    def extract_uuencoded(self, text: str) -> str:
        """Move uuencoded blocks inside a text body to attachments."""
        if "begin " not in text:
            return text

        def repl(match: re.Match[str]) -> str:
            data = _uudecode(match.group(2))
            if data is None:
                return match.group(0)
            name = match.group(1).strip()
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            self.attachments.append(InboundAttachment(name, ctype, data))
            self.warnings.append(f"uuencoded {name!r} taken out of the body")
            return ""

        return _UUENCODED.sub(repl, text.replace("\r\n", "\n"))

    # -- assembling ----------------------------------------------------------

    def parse(self) -> InboundMessage:
        msg = self.msg
        subject = " ".join(self.header("Subject").split())
        if len(subject) > MAX_SUBJECT_CHARS:
            subject = subject[:MAX_SUBJECT_CHARS]
            self.warnings.append("Subject cut")
        sender, no_sender = self.sender()
        message_id = self.message_id()
        in_reply_to = self.ids("In-Reply-To")[:MAX_THREAD_IDS]
        references = self.ids("References")[-MAX_THREAD_IDS:]
        self.visit(msg, raw=self.parsed)
        html_source = "\n".join(self.html)
        simple, html, simplified = _html_body(html_source)
        full_text = "\n\n".join(
            p.replace("\r\n", "\n").strip("\n") for p in self.plain if p.strip())
        if not full_text and simple:
            full_text = simplified_text(simple)
        full_text = full_text.replace("\r\n", "\n")
        attachments = self.mark_inline(html_source)
        flags = _flags.classify(msg, subject, sender.value, self.warnings)
        spam = _flags.spam_score(msg, self.raw, self.warnings)
        date = self.header("Date")
        own = message_id or None
        to, cc = self.addresses("To"), self.addresses("Cc")
        meta: dict[str, t.Any] = {
            "to": _pairs(to),
            "cc": _pairs(cc),
            "reply_to": _pairs(self.addresses("Reply-To")),
            "message_id": own,
            "in_reply_to": in_reply_to,
            "references": references,
            "date": date or None,
            "flags": {
                "auto_reply": flags["auto_reply"],
                "bounce": flags["bounce"],
                "mailing_list": flags["mailing_list"],
                "spam": spam >= 0.5,
                "precedence": flags["precedence"],
                "no_sender": no_sender,
            },
            "auto_submitted_header": flags["auto_submitted"],
            "report_type": flags["report_type"],
            "bounce": _flags.bounce_details(msg, self.warnings) if flags["bounce"] else None,
            "full_text": full_text,
            "parse_warnings": list(dict.fromkeys(self.warnings)),
        }
        if simplified:
            meta["html_simplified"] = simplified
        meta = _storable_tree(meta)
        thread = [i for i in dict.fromkeys([*in_reply_to, *reversed(references)]) if i != own]
        return InboundMessage(
            channel="email",
            external_id=own or _hash_id(self.raw),
            sender=sender,
            text=split_reply(full_text).text if full_text else "",
            subject=subject,
            html=html,
            account=self.account,
            received_at=self.received_at(date),
            thread_keys=tuple(thread),
            own_keys=(own,) if own else (),
            ticket_hint=_ticket_hint(self.token, subject),
            participants=tuple(dict.fromkeys(
                Identity("email", address, name) for name, address in [*to, *cc] if address)),
            mailing_list=bool(flags["mailing_list"]),
            attachments=tuple(attachments),
            auto_submitted=_flags.is_auto(flags),
            spam_score=spam,
            meta=meta,
            content_hash=content_hash(self.raw),
        )

    def mark_inline(self, html_source: str) -> list[InboundAttachment]:
        """Flag attachments the HTML shows through ``cid:`` as inline."""
        used = cid_references(html_source) if html_source else set()
        out = []
        for item in self.attachments:
            inline = bool(item.content_id and item.content_id.lower() in used)
            if inline != item.inline:
                item = InboundAttachment(
                    item.filename, item.content_type, item.data, item.content_id, inline
                )
            out.append(item)
        return out


# -- helpers -----------------------------------------------------------------


def _html_body(source: str) -> tuple[str, str | None, dict[str, int]]:
    """The HTML body simplified, then sanitized, and what was left out of it.

    The first :data:`~flask_helpdesk.services.messages.HTML_MAX` characters
    are read (the core stores no more); nesting deeper than
    :data:`~flask_helpdesk.services.markup.MAX_DEPTH` is flattened, the text
    kept. Sanitized HTML longer than ``HTML_MAX`` (nh3 quotes and closes
    what the sender did not, and adds ``rel`` to links) is cut before a
    tag. ``cut_at`` in the counts is the length of HTML kept when some was cut.
    """
    if not source.strip():
        return "", None, {}
    notes: dict[str, int] = {}
    if len(source) > HTML_MAX:
        source, notes["cut_at"] = source[:HTML_MAX], HTML_MAX
    simple = simplify_html(source)
    notes.update(simple.summary())
    html = sanitize_simplified(simple.html)
    if len(html) > HTML_MAX:
        # Cut before a tag: what is left is sanitized HTML whose last elements
        # are not closed; the core closes them when it stores the message.
        cut = max(html.rfind("<", 0, HTML_MAX + 1), 0)
        html, notes["cut_at"] = html[:cut], cut
    return simple.html, html, notes


def _fallback(raw: bytes, account: str, warnings: list[str]) -> InboundMessage:
    text = decode_bytes(raw, None, warnings, what="message")
    return InboundMessage(
        channel="email",
        external_id=_hash_id(raw),
        sender=Identity("email", UNKNOWN_SENDER),
        text=text,
        account=account,
        meta={"full_text": text, "parse_warnings": warnings, "flags": {"no_sender": True}},
        content_hash=content_hash(raw),
    )


def _storable_tree(value: t.Any) -> t.Any:
    """``value`` (meta: dicts, lists, strings) with every string :func:`storable`."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(k): _storable_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable_tree(v) for v in value]
    return value


_HEADER_LINE = re.compile(rb"([!-9;-~]+)[ \t]*:")
#: Headers that tell a header block from body text that follows the headers
#: without a blank line.
_KNOWN_HEADERS = frozenset({
    b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"mime-version",
    b"content-type", b"content-transfer-encoding", b"reply-to", b"received", b"return-path",
    b"in-reply-to", b"references", b"sender",
})
#: Headers a stray line cannot continue (it would become part of an address or id).
_STRUCTURED = frozenset({
    b"from", b"to", b"cc", b"bcc", b"reply-to", b"sender", b"return-path", b"message-id",
    b"in-reply-to", b"references", b"date", b"mime-version",
})


def _repair_header_block(raw: bytes, warnings: list[str]) -> bytes | None:
    """Read on past lines in the header block that are no header.

    Mailers write a header folded without its leading blank, a fuzzed name
    (``Fro :x``) or a stray line; the stdlib ends the headers there and the
    Subject and To below it become body text. When real headers follow such
    lines (at least as many as the stray lines, one a well-known one) and then
    the blank line, a stray line continues the header above it when that is
    text (Subject, Received, X-...) and is left out otherwise, ``Name :``
    loses its blank, and the message is read again. ``None``: it was body
    text after all (a message without the blank line after its headers).
    """
    found = re.search(rb"\r?\n\r?\n", raw)
    head, rest = (raw[: found.start()], raw[found.start():]) if found else (raw, b"")
    out: list[bytes] = []
    stray: list[bytes] = []
    after = known = spaced = 0
    previous = b""
    for index, line in enumerate(head.split(b"\n")):
        match = _HEADER_LINE.match(line)
        if match or line[:1] in (b" ", b"\t") or (index == 0 and line.startswith(b"From ")):
            if match:
                previous = match.group(1).lower()
                spaced += match.end() != len(match.group(1)) + 1
                line = match.group(1) + b":" + line[match.end():]
                if stray:
                    after += 1
                    known += previous in _KNOWN_HEADERS
            out.append(line)
            continue
        stray.append(line)
        if out and previous and previous not in _STRUCTURED:
            out.append(b" " + line.lstrip())
    if stray and (not known or after < len(stray)):
        return None
    if not stray and not spaced:
        return None
    if stray:
        first = stray[0].decode("utf-8", "replace").strip()[:80]
        warnings.append(f"{len(stray)} line(s) in the header block are no header, read on past "
                        f"them (the first: {first!r})")
    if spaced:
        warnings.append("blanks between a header name and its colon removed")
    return b"\n".join(out) + rest


def _hash_id(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


#: Headers whose values :func:`content_hash` covers (others are added on the way).
_HASHED_HEADERS = (b"from", b"to", b"cc", b"date", b"subject", b"message-id")
_BODY_SPLIT = re.compile(rb"\r?\n\r?\n")


def content_hash(raw: bytes) -> str:
    """``sha256:<hex>`` of what makes a mail this mail, for ``InboundMessage.content_hash``.

    It covers the From, To, Cc, Date, Subject and Message-ID headers and the
    body, with line endings, folding, trailing blanks and mbox ``>From ``
    quoting evened out, so the same mail fetched over IMAP, saved as .eml or
    read from an mbox (which adds ``Status`` headers) hashes the same, and a
    different mail that reuses a Message-ID does not.

    .. versionadded:: 0.2
    """
    parts = _BODY_SPLIT.split(raw, maxsplit=1)
    head, body = parts[0], parts[1] if len(parts) > 1 else b""
    unfolded = re.sub(rb"\r?\n[ \t]+", b" ", head.replace(b"\r\n", b"\n"))
    fields = []
    for line in unfolded.split(b"\n"):
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() in _HASHED_HEADERS:
            fields.append(name.strip().lower() + b":" + b" ".join(value.split()))
    text = re.sub(rb"(?m)^>+(From )", rb"\1", body.replace(b"\r\n", b"\n"))
    text = re.sub(rb"[ \t]+\n", b"\n", text).rstrip()
    digest = hashlib.sha256(b"\n".join(sorted(fields)) + b"\n\n" + text)
    return "sha256:" + digest.hexdigest()


def _ids(value: str) -> list[str]:
    # Raw 8-bit bytes in an id become text the same way every time
    # (storable), so the key is stored and a reply naming it finds it.
    found = _ID.findall(value.replace("\r", "").replace("\n", ""))
    return [storable(i) for i in found if i.strip("<>")]


def _bare_ids(value: str) -> list[str]:
    return [storable(w.strip("<>,;")) for w in value.split() if "@" in w and "<" not in w]


@functools.lru_cache(maxsize=256)
def _getaddresses(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """:func:`email.utils.getaddresses`, remembered: mail to one mailbox repeats its headers.

    The stdlib's address parser is pure Python and the slowest part of
    reading the headers; the ``To`` of most messages, and the ``From`` of a
    conversation, are the same text again.
    """
    return tuple(email.utils.getaddresses(list(values)))


#: Mail servers' own mailboxes, which some write without a domain.
_ROBOT = re.compile(r"(?i)mailer-daemon|postmaster|mail-daemon")
#: An address between blanks or commas, not in brackets or quotes: a fast test.
_UNBRACKETED = re.compile(r"(?:^|[\s,])[^\s<>\"(),;:@]+@[^\s<>\"(),;:@]+(?=$|[\s,])")
#: An address written without brackets: one ``@`` and no blanks.
_BARE_ADDRESS = re.compile(r"[^@\s\"(),<>;:]+@[^@\s\"(),<>;:]+")


def _address_tokens(value: str) -> t.Iterator[tuple[str, str]]:
    """``(kind, text)`` of an address header at its top level.

    Kinds: ``quoted``, ``comment``, ``angle``, ``comma``, ``space`` and
    ``word``. Quotes, comments and brackets are read with their backslash
    escapes and nesting, so a comma inside them separates nothing.
    """
    pos, end = 0, len(value)
    while pos < end:
        char = value[pos]
        if char in "\"(<":
            close = {"\"": "\"", "(": ")", "<": ">"}[char]
            depth, i = 1, pos + 1
            while i < end and depth:
                if value[i] == "\\" and char != "<":
                    i += 2
                    continue
                if char == "(" and value[i] == "(":
                    depth += 1
                elif value[i] == close:
                    depth -= 1
                i += 1
            kind = {"\"": "quoted", "(": "comment", "<": "angle"}[char]
            yield kind, value[pos:i]
            pos = i
        elif char == ",":
            yield "comma", char
            pos += 1
        elif char.isspace():
            i = pos
            while i < end and value[i].isspace():
                i += 1
            yield "space", value[pos:i]
            pos = i
        else:
            i = pos
            while i < end and not value[i].isspace() and value[i] not in "\"(<,":
                i += 1
            yield "word", value[pos:i]
            pos = i


def _bracket_bare_addresses(value: str) -> str:
    """Put brackets around addresses written without them.

    ``Name addr@example.com`` becomes ``Name <addr@example.com>``, and two
    addresses without a comma (``a@x b@y``) become a list, so that the
    stdlib's parser finds the name and every address. Other values come
    back unchanged.
    """
    if "@" not in value or not _UNBRACKETED.search(value):
        return value
    elements: list[list[tuple[str, str]]] = [[]]
    for token in _address_tokens(value):
        if token[0] == "comma":
            elements.append([])
        else:
            elements[-1].append(token)
    changed, out = False, []
    for tokens in elements:
        text = "".join(v for _, v in tokens)
        bare = [v for k, v in tokens if k == "word" and _BARE_ADDRESS.fullmatch(v)]
        others = [v for k, v in tokens if k in ("word", "quoted") and v not in bare]
        if any(k == "angle" for k, _ in tokens) or not bare or (len(bare) == 1 and not others):
            out.append(text)
            continue
        changed = True
        if len(bare) > 1:
            out.extend(bare)
        else:
            name = "".join(v for k, v in tokens if k != "word" or v not in bare).strip()
            out.append(f"{name} <{bare[0]}>")
    return ", ".join(o.strip() for o in out) if changed else value


def _strip_comments(value: str) -> str:
    return "".join(
        re.sub(r"\([^()<>]*\)", "", v) if k == "angle" else v
        for k, v in _address_tokens(value) if k != "comment"
    )


def _without_comments(
    values: tuple[str, ...], pairs: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """Display names without the comments the stdlib folds into them.

    ``Pete(A wonderful \\) chap) <pete(his account)@silly.test>`` is Pete;
    a comment is the name only when there is no other (``addr (Name)``).
    """
    bare = _getaddresses(tuple(_strip_comments(v) for v in values))
    if len(bare) != len(pairs):
        return pairs
    return tuple(
        (name or old_name, address or old_address)
        for (name, address), (old_name, old_address) in zip(bare, pairs, strict=True)
    )


def _normalize_address(address: str) -> str:
    address = address.strip().strip("<>").strip()
    if "@" not in address:
        return address
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def _pairs(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "address": address} for name, address in pairs if address]


#: Charset labels that declare no 8-bit byte at all.
_ASCII_LABELS = frozenset({"us-ascii", "ascii", "ansi_x3.4-1968", "us_ascii", "7bit"})
#: Headers whose raw 8-bit bytes are text in the sender's charset.
_TEXT_HEADERS = ("Subject", "From", "To", "Cc", "Reply-To", "Sender")
_TLD = re.compile(r"@[^<>@\s,;]*?\.([A-Za-z][A-Za-z0-9-]{0,62})\s*(?:>|$|[\s,;(])")


def _sender_tld(value: t.Any) -> str | None:
    """The top-level domain of the first address in ``value`` (``"cn"``), a charset hint."""
    found = _TLD.search(str(value or "")[:1000])
    return found.group(1).lower() if found else None


def _charset(part: Message) -> str | None:
    try:
        value = part.get_param("charset")
    except Exception:  # noqa: BLE001
        return None
    if isinstance(value, tuple):
        value = value[2]
    return str(value).strip().strip("\"'") or None if value else None


def _disposition(part: Message) -> str | None:
    value = part.get("Content-Disposition")
    if not value:
        return None
    return str(value).split(";", 1)[0].strip().lower() or None


def _content_id(part: Message) -> str | None:
    value = part.get("Content-ID")
    if not value:
        return None
    found = _ID.search(str(value))
    cid = found.group(1) if found else str(value).strip().strip("<>")
    return storable(cid) or None


def _latin1_bytes(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


def _is_body(ctype: str, disposition: str | None, filename: str | None) -> bool:
    # A named text part shown inline is body text (stdlib and most mailers);
    # named parts without a disposition are files.
    if disposition == "attachment" or (filename and disposition != "inline"):
        return False
    if ctype in _BODY_TYPES:
        return True
    return ctype.startswith("text/") and ctype not in _TEXT_FILES and not filename


def _is_tnef(ctype: str, filename: str | None) -> bool:
    return ctype in ("application/ms-tnef", "application/vnd.ms-tnef") or (
        (filename or "").lower() == "winmail.dat"
    )


def _default_name(ctype: str) -> str:
    """``image.gif``, ``document.html``, ``file.bin``: a nameless part's name."""
    if ctype == "text/rfc822-headers":
        return "returned-headers.txt"
    major = ctype.partition("/")[0]
    stem = major if major in ("image", "audio", "video") else (
        "document" if major == "text" or ctype in _DOCUMENTS else "file")
    return stem + (mimetypes.guess_extension(ctype) or ".bin")


#: Application types named ``document.*`` when nameless.
_DOCUMENTS = frozenset({
    "application/pdf", "application/msword", "application/rtf", "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint", "application/vnd.oasis.opendocument.text",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
})


def _safe_name(subject: str) -> str:
    # Only path separators and control characters go: the core keeps the
    # rest of a file name (":" in "Re: Invoice.eml" too) and stores files
    # under keys of its own.
    return re.sub(r"[\\/\x00-\x1f\x7f]+", " ", subject).strip()[:100]


_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def _body_of(raw: bytes) -> bytes:
    """The body of a part's bytes: what follows its header block."""
    if raw.startswith((b"\n", b"\r\n")):
        return raw[2 if raw.startswith(b"\r\n") else 1 :]
    found = _BLANK_LINE.search(raw)
    return raw[found.end() :] if found else b""


def _split_parts(raw: bytes | None, boundary: str | None, count: int) -> list[bytes] | None:
    """The bytes of each part of a multipart, as the stdlib splits it; ``None`` when unsure.

    The line break before a delimiter line belongs to the delimiter (RFC
    2046), so each part's bytes are exactly what its sender wrote.
    """
    if raw is None or not boundary:
        return None
    body = _body_of(raw)
    mark = re.escape(boundary.encode("utf-8", "surrogateescape"))
    lines = list(re.finditer(rb"(?m)^--" + mark + rb"(--)?[ \t]*\r?$", body))
    parts: list[bytes] = []
    for index, line in enumerate(lines):
        if line.group(1):  # the close delimiter
            break
        start = line.end() + (2 if body[line.end() : line.end() + 2] == b"\r\n" else 1)
        if index + 1 < len(lines):
            stop = lines[index + 1].start()
            stop -= 2 if body[stop - 2 : stop] == b"\r\n" else 1
        else:
            stop = len(body)
        parts.append(body[start : max(start, stop)])
    return parts if len(parts) == count else None


def _dsn_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, list):
        return b"\n".join(
            p.as_bytes() if isinstance(p, Message) else b"" for p in payload
        )
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _uudecode(block: str) -> bytes | None:
    out = bytearray()
    for line in block.split("\n"):
        if not line.strip() or line.strip() == "`":
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Some encoders pad short lines wrong; decode what the length byte says.
            try:
                nbytes = (((ord(line[0]) - 32) & 63) * 4 + 5) // 3
                out += binascii.a2b_uu(line[:nbytes])
            except (binascii.Error, IndexError, ValueError):
                return None
    return bytes(out)


def _ticket_hint(token: re.Pattern[str], subject: str) -> int | None:
    found = token.search(subject)
    if not found:
        return None
    try:
        number = int(found.group(1))
    except (IndexError, ValueError):
        return None
    return number if 0 < number < 2**63 else None
