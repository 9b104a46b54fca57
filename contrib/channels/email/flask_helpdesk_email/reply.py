"""Separating a reply's new text from quoted history and the signature.

No library on PyPI fitted (see docs/contrib/email.rst): mail-parser-reply
knows neither Russian nor Portuguese, quotequail finds quotes but not
signatures, email-reply-parser and talon are English-only and unmaintained.
This module follows github/email_reply_parser's rules and adds what its
corpus and crisp's need:

1. A *quote header* ("On ... wrote:" in several languages, possibly split
   over lines; "-----Original Message-----"; an Outlook ``From:`` / ``Sent:``
   block) followed by unquoted text starts the history: everything from it
   down is cut (Outlook and Gmail mobile style).
2. Otherwise ``>``-quoted blocks, quote headers and blank lines at the bottom
   are cut, while quotes interleaved with answers are kept (bottom posting).
3. A signature is cut from the top-most delimiter ("-- ", a line of
   underscores, "Sent from my iPhone" and its translations) that starts a
   paragraph in what is left.
"""

from __future__ import annotations

import dataclasses
import re

#: Interpolated into verbose patterns, so a space is written ``\s``.
_WROTE = (
    r"wrote|writes|escreveu|escribió|a\sécrit|schrieb|ha\sscritto|scrisse|kirjoitti|skrev|"
    r"написал\(а\)|написала|написал|пишет|написав|schreef|napisał\(a\)|napisał|napsal"
)
#: Words an "On ... wrote:" header starts with.
_LEADS = r"On|Em|Le|Am|El|Il|Op|Den|Dne|W\sdniu"
#: A quote header on one line, once its parts are joined.
QUOTE_HEADER = re.compile(
    rf"""^\s*(?:
        (?:{_LEADS}|On\s\w+,)\s.{{0,300}}?(?:{_WROTE})\s?:
      | .{{0,300}}\s(?:{_WROTE})\s?:                      # "Ivan <a@b> написал(а):"
      | .{{0,200}}\d.{{0,200}}<\s?[^<>\s]+@[^<>\s]+\s?>\s?:  # Gmail ru: "ср, 30 апр. ... <a@b>:"
      | -{{2,}}\s?\w+\s.{{0,300}}(?:{_WROTE})\s?-{{2,}}        # Zoho: "---- On ... wrote ----"
      | -{{2,}}\s?(?:Original\sMessage|Mensagem\soriginal|Исходное\sсообщение|Message\sd'origine|
            Ursprüngliche\sNachricht|Mensaje\soriginal|Messaggio\soriginale|Oorspronkelijk\sbericht|
            Original\smeddelelse|Oprindelig\sbesked|Alkuperäinen\sviesti|Opprinnelig\smelding)\s?-{{2,}}
      | _{{10,}}
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
#: The last character of every quote header QUOTE_HEADER matches.
_HEADER_ENDS = frozenset(":-_")
_FROM = re.compile(r"^\s*\*?(?:From|De|Von|От|Van|Fra|Da|Från|Lähettäjä|Od)\s?:\*?\s", re.I)
_HEADER_FIELD = re.compile(
    r"^\s*\*?(?:Sent|Date|To|Subject|Cc|Enviado|Data|Para|Assunto|Gesendet|Datum|An|Betreff|"
    r"Отправлено|Дата|Кому|Тема|Копия|Envoyé|Objet|À|Verzonden|Aan|Onderwerp|Sendt|Emne|"
    r"Til|Inviato|Oggetto|Fecha|Asunto)\s?:",
    re.I,
)
_SIGNATURE = re.compile(
    r"""^\s*(?:
        --\s*$ | __+\s*$ | —\s*$
      | (?:Sent|Envoyé|Enviado|Gesendet|Inviato|Skickat|Отправлено)\s(?:from|from\smy|do\smeu|
            desde\smi|de\smi|de\smon|depuis\smon|à\spartir\sde|von\smeinem|von|dal\smio|
            från\smin|с|из)\s.{1,60}$
      | Von\smeinem\s.{1,40}\sgesendet\s*$
      | Get\sOutlook\sfor\s\w+.*$
      | Sent\son\sthe\sgo.*$
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_QUOTED = re.compile(r"^\s*>")
#: The first line of a header split over lines: a lead word, or a year or time in it.
_HEADER_START = re.compile(
    rf"^\s*(?:{_LEADS})\s|\b(?:19|20)\d\d\b|\b\d\d?[:.]\d\d\b", re.IGNORECASE
)
#: A separator line ("-----", "====") that mailers put above a quote header.
_RULE = re.compile(r"^\s*([-_=*])\1{3,}\s*$")


@dataclasses.dataclass(frozen=True)
class Reply:
    """A message body split into its parts.

    :ivar text: The sender's new text (quotes and signature removed).
    :ivar quoted: The quoted history that was cut, if any.
    :ivar signature: The signature that was cut, if any.
    """

    text: str
    quoted: str = ""
    signature: str = ""


def split_reply(body: str) -> Reply:
    """Split a plain-text body into new text, quoted history and signature.

    :param body: The decoded plain-text body (any line endings).
    :return: A :class:`Reply`. When cutting would leave nothing (a message
        that is only a quote, or only a signature), the text is kept whole.
    """
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    end = _history_start(lines)
    quoted = lines[end:]
    keep = _strip_bottom_quotes(lines[:end])
    quoted = lines[keep:end] + quoted
    lines = lines[:keep]
    sig_at = _signature_start(lines)
    signature = lines[sig_at:]
    lines = lines[:sig_at]
    text = "\n".join(lines).strip("\n").rstrip()
    if not text.strip():
        return Reply(text=body.strip(), quoted="", signature="")
    return Reply(
        text=text,
        quoted="\n".join(quoted).strip("\n"),
        signature="\n".join(signature).strip("\n"),
    )


def _history_start(lines: list[str]) -> int:
    """Index of a quote header followed by unquoted history, else ``len``."""
    for i, line in enumerate(lines):
        if not line.strip() or _QUOTED.match(line):
            continue
        size = _header_size(lines, i)
        if not size:
            continue
        after = next((x for x in lines[i + size :] if x.strip()), "")
        if i > 0 and not _QUOTED.match(after):
            return _rule_above(lines, i)
    return len(lines)


def _rule_above(lines: list[str], i: int) -> int:
    """``i``, or the separator line just above it (blank lines between)."""
    j = i
    while j > 0 and not lines[j - 1].strip():
        j -= 1
    return j - 1 if j > 1 and _RULE.match(lines[j - 1]) else i


def _header_size(lines: list[str], i: int) -> int:
    """How many lines a quote header starting at ``lines[i]`` spans (0: none)."""
    for size in (1, 2, 3, 4):
        if i + size > len(lines):
            break
        joined = " ".join(x.strip() for x in lines[i : i + size])
        if len(joined) > 400:
            break
        if _is_header(joined):
            if size == 1 or _opens_header(lines, i, size):
                return size
            break
        if size > 1 and not lines[i + size - 1].strip():
            break
    if _FROM.match(lines[i]):
        # An Outlook block: "From:" then "Sent:"/"To:"/"Subject:" lines.
        fields = sum(1 for x in lines[i + 1 : i + 6] if _HEADER_FIELD.match(x))
        if fields >= 2:
            return 1
    return 0


def _is_header(joined: str) -> bool:
    # Every form of QUOTE_HEADER ends in ":", "--" or "___": a cheap test
    # that spares most lines the regular expression.
    return joined.rstrip()[-1:] in _HEADER_ENDS and bool(QUOTE_HEADER.match(joined))


def _opens_header(lines: list[str], i: int, size: int) -> bool:
    """Whether ``lines[i]`` belongs to the header joined from ``size`` lines.

    "... wrote:" matches with any text line joined above it ("Thanks!" /
    "On Mon, Bob wrote:"). When lines below ``lines[i]`` are a header on
    their own, ``lines[i]`` is its first line only if it looks like one (a
    lead word, a year or a time) and does not end a sentence.
    """
    rest = [x.strip() for x in lines[i + 1 : i + size]]
    if not any(_is_header(" ".join(rest[k:])) for k in range(len(rest))):
        return True
    first = lines[i].rstrip()
    return bool(_HEADER_START.search(first)) and first[-1:] not in ".!?:;"


def _strip_bottom_quotes(lines: list[str]) -> int:
    """Index after the last line that is neither quoted nor a quote header.

    A signature or list footer below the last quoted line (``__`` /
    ``-- ``) belongs to the quoted history too.
    """
    end = len(lines)
    last_quoted = max((i for i, x in enumerate(lines) if _QUOTED.match(x)), default=-1)
    if last_quoted >= 0:
        tail = lines[last_quoted + 1 :]
        cut = _signature_start([""] + tail, require_text=False)
        if cut <= len(tail):
            end = last_quoted + cut
    while end > 0:
        line = lines[end - 1]
        if not line.strip() or _QUOTED.match(line):
            end -= 1
            continue
        # A header may reach below ``end`` into lines already cut (the
        # second line of "... <" / "a@b> wrote:" looks quoted).
        size = next(
            (s for s in (1, 2, 3) if end - s >= 0 and _header_size(lines, end - s) >= s), 0
        )
        if size and end < len(lines):
            end -= size
            continue
        break
    return end


def _signature_start(lines: list[str], *, require_text: bool = True) -> int:
    """Index of the top-most signature delimiter that starts a paragraph."""
    for i, line in enumerate(lines):
        if not _SIGNATURE.match(line):
            continue
        if line.strip() in ("--", "-- ") or i == 0 or not lines[i - 1].strip():
            if not require_text or "\n".join(lines[:i]).strip():
                return i
    return len(lines)
