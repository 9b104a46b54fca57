"""Mail loop protection: when an automatic answer must not be sent.

Automatic mail (acknowledgements, out-of-hours answers, rule replies, the
answer about dropped attachments) is sent only to a person.
:func:`auto_reply_refusal` names the reason an inbound message must get no
automatic answer. The plugin's ``helpdesk_allow_automatic_reply``
implementation (:func:`allow_automatic_reply`) asks it for the customer's
last message whenever the core or a plugin is about to queue one.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import typing as t

if t.TYPE_CHECKING:
    from flask_helpdesk import Identity
    from flask_helpdesk import InboundMessage

log = logging.getLogger("flask_helpdesk_email.loops")

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
    return refusal(flags, message.sender.value, auto_submitted=message.auto_submitted,
                   sent_last_hour=sent_last_hour, limit=limit,
                   internal_domains=internal_domains)


def refusal(
    flags: t.Mapping[str, t.Any], address: str, *, auto_submitted: bool = False,
    sent_last_hour: int = 0, limit: int = 5, internal_domains: t.Iterable[str] = (),
) -> str | None:
    """:func:`auto_reply_refusal` from a stored message's ``meta["flags"]`` and its sender."""
    address = address.strip().lower()
    domain = address.rpartition("@")[2]
    checks = (
        ("bounce", bool(flags.get("bounce"))),
        ("list", bool(flags.get("mailing_list"))),
        ("precedence", flags.get("precedence") in ("bulk", "junk", "list")),
        ("auto_submitted", auto_submitted or bool(flags.get("auto_reply"))
         or flags.get("precedence") == "auto_reply"),
        ("noreply", bool(NOREPLY.match(address)) or bool(flags.get("no_sender"))),
        ("internal", domain in {d.lower().lstrip("@") for d in internal_domains}),
        ("rate_limit", sent_last_hour >= limit),
    )
    return next((reason for reason, hit in checks if hit), None)


def allow_automatic_reply(ticket: t.Any, message: t.Any, recipient: Identity | None
                          ) -> bool | None:
    """The ``helpdesk_allow_automatic_reply`` answer for email tickets (``None`` for others).

    Refuses when :func:`refusal` names a reason for the customer's last
    message; the per-hour count is every automatic reply queued to the
    customer in the last hour
    (:func:`flask_helpdesk.services.messages.count_automatic_replies`).
    """
    if ticket.channel != "email":
        return None
    from flask_helpdesk import get_state
    from flask_helpdesk.services import messages

    config = get_state().config.values
    meta = (message.meta or {}) if message is not None else {}
    address = recipient.value if recipient is not None and recipient.kind == "email" else ""
    since = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)
    reason = refusal(
        t.cast("dict[str, t.Any]", meta.get("flags") or {}), address,
        sent_last_hour=messages.count_automatic_replies(ticket.customer_id, since=since),
        limit=int(config["HELPDESK_EMAIL_AUTO_REPLY_LIMIT"]),
        internal_domains=_internal_domains(ticket.account, config))
    if reason is not None:
        log.info("no automatic reply on ticket %s: %s", ticket.id, reason)
    return False if reason is not None else None


def _internal_domains(account: str, config: t.Mapping[str, t.Any]) -> list[str]:
    from flask_helpdesk import NotFound
    from flask_helpdesk.services import SYSTEM
    from flask_helpdesk.services import channels

    from .accounts import account_config
    from .filters import internal_domains

    try:
        found = channels.find_account("email", account, actor=SYSTEM)
    except NotFound:
        return internal_domains(config, {})
    return internal_domains(config, account_config(found))


def may_auto_reply(message: InboundMessage, **kwargs: t.Any) -> bool:
    """``True`` when :func:`auto_reply_refusal` finds no reason against it."""
    return auto_reply_refusal(message, **kwargs) is None
