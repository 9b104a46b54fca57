"""Classifying a message: auto-reply, bounce, mailing list, spam."""

from __future__ import annotations

import re
import typing as t
from email.message import Message

from ._charsets import decode_header
from ._charsets import storable

_OOO_SUBJECT = re.compile(
    r"""^\s*(?:
        auto(?:matic)?[\s-]?(?:reply|response|answer)|autoreply|autoresponse|auto:\s
      | out\sof\s(?:the\s)?office|on\svacation|vacation\sreply|away\sfrom\s(?:the\s)?office
      | abwesenheitsnotiz|automatische\santwort|réponse\sautomatique|absence\sdu\sbureau
      | resposta\sautomática|ausente\sdo\sescritório|fora\sdo\sescritório
      | respuesta\sautomática|fuera\sde\sla\soficina
      | автоответ|автоматический\sответ|вне\sофиса|меня\sнет\sна\sместе|отпуск
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_BOUNCE_SUBJECT = re.compile(
    r"""(?:undeliver(?:ed|able)|delivery\s(?:status\snotification|failure|has\sfailed)
      |returned\smail|mail\sdelivery\s(?:failed|failure|subsystem)|failure\snotice
      |недоставленное|не\sдоставлено|não\sentregue)""",
    re.IGNORECASE | re.VERBOSE,
)
_ROBOT_LOCAL = re.compile(
    r"^(?:mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|mail-daemon)(?:[+.-].*)?$",
    re.IGNORECASE,
)
_BOUNCE_LOCAL = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon)$", re.IGNORECASE)
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
_SCORE = re.compile(r"(?:score|hits)\s*=\s*(-?\d+(?:\.\d+)?)", re.I)
DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_REQUIRED = re.compile(r"required\s*=\s*(-?\d+(?:\.\d+)?)", re.I)


def classify(
    msg: Message, subject: str, sender: str, warnings: list[str]
) -> dict[str, t.Any]:
    """Return the ``flags`` dict of ``meta`` (without spam, see :func:`spam_score`).

    :param msg: The parsed message (headers read raw).
    :param subject: The decoded subject.
    :param sender: The sender's address, lower case.
    """

    def header(name: str) -> str:
        return decode_header(msg.get(name), warnings, what=name).strip().lower()

    auto_submitted = header("Auto-Submitted")
    precedence = header("Precedence")
    content_type = msg.get_content_type()
    report_type = storable(str(msg.get_param("report-type", "") or "").lower())
    local = sender.rsplit("@", 1)[0] if "@" in sender else sender
    bounce = (
        (content_type == "multipart/report" and report_type == "delivery-status")
        or bool(msg.get("X-Failed-Recipients"))
        or (bool(_BOUNCE_LOCAL.match(local)) and bool(_BOUNCE_SUBJECT.search(subject)))
    )
    auto_reply = (
        (bool(auto_submitted) and auto_submitted != "no")
        or any(msg.get(h) is not None for h in ("X-Autoreply", "X-Autorespond", "X-Autoresponse"))
        or precedence == "auto_reply"
        or bool(_OOO_SUBJECT.search(subject))
        or content_type == "multipart/report"
        or bool(_ROBOT_LOCAL.match(local))
    )
    mailing_list = (
        msg.get("List-Id") is not None
        or msg.get("List-Unsubscribe") is not None
        or precedence in ("list", "bulk")
    )
    return {
        "auto_reply": auto_reply and not bounce,
        "bounce": bounce,
        "mailing_list": mailing_list,
        "precedence": precedence or None,
        "auto_submitted": auto_submitted or None,
        "report_type": report_type or None,
    }


def is_auto(flags: t.Mapping[str, t.Any]) -> bool:
    """Whether no automatic answer may be sent to a message with ``flags``."""
    return bool(
        flags["auto_reply"]
        or flags["bounce"]
        or flags["mailing_list"]
        or flags["precedence"] in ("auto_reply", "bulk", "junk", "list")
    )


def spam_score(msg: Message, raw: bytes, warnings: list[str]) -> float:
    """Return the spam score in 0..1 from the filters' headers (or GTUBE).

    ``X-Spam-Flag: YES`` or ``X-Spam-Status: Yes`` is 1.0. Otherwise a
    SpamAssassin-style score is mapped so that the filter's threshold
    (``required``, 5 when not given) lands on 0.5.
    """
    if GTUBE in raw:
        return 1.0
    flag = decode_header(msg.get("X-Spam-Flag"), warnings).strip().lower()
    status = decode_header(msg.get("X-Spam-Status"), warnings).strip()
    if flag in ("yes", "true", "1") or status.lower().startswith("yes"):
        return 1.0
    score: float | None = None
    required = 5.0
    for text in (status, decode_header(msg.get("X-Spam-Score"), warnings)):
        found = _SCORE.search(text) or re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*", text)
        if found and score is None:
            score = float(found.group(1))
        need = _REQUIRED.search(text)
        if need and float(need.group(1)) > 0:
            required = float(need.group(1))
    level = decode_header(msg.get("X-Spam-Level"), warnings).strip()
    if score is None and level and set(level) == {"*"}:
        score = float(len(level))
    if score is None:
        return 0.0
    return max(0.0, min(1.0, score / (2 * required)))


def bounce_details(msg: Message, warnings: list[str]) -> dict[str, t.Any]:
    """Read failed recipients, status and diagnostic from a DSN."""
    failed: list[str] = []
    status = diagnostic = ""
    for part in msg.walk():
        if part.get_content_type() not in DSN_TYPES:
            continue
        for block in _status_blocks(part):
            recipient = decode_header(
                block.get("Final-Recipient") or block.get("Original-Recipient")
            )
            action = decode_header(block.get("Action")).strip().lower()
            if recipient and action in ("", "failed"):
                failed.append(recipient.split(";", 1)[-1].strip().strip("<>"))
            status = status or decode_header(block.get("Status")).strip()
            diagnostic = diagnostic or decode_header(block.get("Diagnostic-Code")).strip()
    header = decode_header(msg.get("X-Failed-Recipients"), warnings)
    failed.extend(a.strip() for a in header.split(",") if a.strip())
    return {
        "failed_recipients": list(dict.fromkeys(failed)),
        "status": status or None,
        "diagnostic": diagnostic or None,
    }


def _status_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    # Some mailers send the status as a plain body: parse its field blocks.
    from email import message_from_string

    text = payload if isinstance(payload, str) else ""
    return [message_from_string(chunk) for chunk in re.split(r"\n\s*\n", text) if chunk.strip()]
