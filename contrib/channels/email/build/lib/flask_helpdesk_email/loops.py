"""Mail loop protection: when an automatic answer must not be sent.

Automatic mail (acknowledgements, out-of-hours answers, CSAT requests) is sent
only to a person. :func:`auto_reply_refusal` names the reason an inbound
message must get no automatic answer; the helpdesk's automatic replies ask it
before they queue one.
"""

from __future__ import annotations

import re
import typing as t

if t.TYPE_CHECKING:
    from flask_helpdesk import InboundMessage

#: Local parts of addresses that never read mail.
NOREPLY = re.compile(
    r"^(?:no-?reply|do-?not-?reply|donotreply|mailer-daemon|postmaster|bounces?|"
    r"notifications?|listserv|majordomo)(?:[+._-].*)?@", re.IGNORECASE)


def auto_reply_refusal(
    message: InboundMessage, *, sent_last_hour: int = 0, limit: int = 5,
    internal_domains: t.Iterable[str] = (),
) -> str | None:
    """Why ``message`` must get no automatic answer, or ``None`` when it may.

    :param message: The inbound message (as :func:`~flask_helpdesk_email.parse_message`
        made it; other channels' messages are judged by ``auto_submitted`` only).
    :param sent_last_hour: Automatic answers sent to this sender in the last hour.
    :param limit: Most automatic answers per sender per hour
        (:data:`HELPDESK_EMAIL_AUTO_REPLY_LIMIT`).
    :param internal_domains: Our own domains; their mail gets no automatic answer.
    :return: ``auto_submitted``, ``bounce``, ``list``, ``precedence``,
        ``noreply``, ``internal`` or ``rate_limit``.
    """
    flags = t.cast("dict[str, t.Any]", message.meta.get("flags") or {})
    address = message.sender.value.strip().lower()
    domain = address.rpartition("@")[2]
    checks = (
        ("bounce", bool(flags.get("bounce"))),
        ("list", bool(flags.get("mailing_list"))),
        ("precedence", flags.get("precedence") in ("bulk", "junk", "list")),
        ("auto_submitted", message.auto_submitted or bool(flags.get("auto_reply"))),
        ("noreply", bool(NOREPLY.match(address)) or bool(flags.get("no_sender"))),
        ("internal", domain in {d.lower().lstrip("@") for d in internal_domains}),
        ("rate_limit", sent_last_hour >= limit),
    )
    return next((reason for reason, hit in checks if hit), None)


def may_auto_reply(message: InboundMessage, **kwargs: t.Any) -> bool:
    """``True`` when :func:`auto_reply_refusal` finds no reason against it."""
    return auto_reply_refusal(message, **kwargs) is None
