"""The outbox: delivery of public replies through the channel plugins.

A reply is committed as a :class:`~flask_helpdesk.models.Message` in state
``queued``; after the commit the event pipeline sends the
``helpdesk.deliver_message`` job. :func:`deliver` claims the row atomically
(``queued`` -> ``sending``), calls the ``helpdesk_deliver_message`` hook, and
records ``sent`` or schedules a retry with exponential backoff; after
:data:`HELPDESK_DELIVERY_MAX_ATTEMPTS` the row is ``failed`` and stays visible
to agents, who may :func:`retry` it. :func:`sweep` re-sends due rows and rows
whose ``sending`` lease ran out, so a lost broker message or a crashed worker
loses no reply.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import selectinload

from ..channels import Identity
from ..channels import OutboundAttachment
from ..channels import OutboundMessage
from ..errors import DeliveryError
from ..errors import ValidationError
from ..extension import get_state
from ..i18n import _
from ..models import ContactIdentity
from ..models import Message
from ..models import ThreadKey
from ..models import Ticket
from ..models import utcnow
from ._uow import SYSTEM
from ._uow import Actor
from ._uow import record
from ._uow import session
from ._uow import transaction
from .inbound import add_thread_keys
from .tickets import get_ticket

log = logging.getLogger("flask_helpdesk.outbox")

#: Most rows one sweep re-sends.
SWEEP_BATCH = 500


def _claim(message_id: int, now: dt.datetime, lease: int) -> bool:
    """Atomically move a due row to ``sending``; False if someone else has it."""
    s = session()
    due = or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now)
    result = s.execute(
        update(Message)
        .where(Message.id == message_id, Message.delivery_state.in_(("queued", "sending")), due)
        .values(delivery_state="sending", attempts=Message.attempts + 1,
                next_attempt_at=now + dt.timedelta(seconds=lease))
        .execution_options(synchronize_session=False)
    )
    s.commit()
    return bool(result.rowcount)


def deliver(message_id: int) -> str | None:
    """Deliver one queued reply; returns the new delivery state, or ``None`` if not due.

    Safe to call twice for the same message: only one caller wins the claim.
    """
    state = get_state()
    now = utcnow()
    if not _claim(message_id, now, state.config.delivery_lease):
        session().rollback()
        return None
    message = session().scalar(select(Message).where(Message.id == message_id)
                               .options(selectinload(Message.attachments)))
    assert message is not None
    outbound = _outbound(message)
    try:
        receipt = state.pm.hook.helpdesk_deliver_message(helpdesk=state, message=outbound)
        if receipt is None:
            raise DeliveryError(
                _("No installed plugin delivers messages of the channel %(channel)s.",
                  channel=message.channel), permanent=True)
    except DeliveryError as exc:
        return _failed(message_id, str(exc.message), permanent=exc.permanent)
    except Exception as exc:
        log.exception("delivery of message %s raised", message_id)
        return _failed(message_id, f"{type(exc).__name__}: {exc}", permanent=False)
    with transaction() as s:
        message = s.get(Message, message_id, with_for_update=True)
        ticket = s.get(Ticket, message.ticket_id)
        message.delivery_state, message.sent_at, message.last_error = "sent", utcnow(), None
        message.next_attempt_at = None
        if receipt.external_id and not message.external_id:
            message.external_id = receipt.external_id[:500]
        add_thread_keys(message.channel, message.account,
                        [*receipt.thread_keys, *([receipt.external_id] if receipt.external_id
                                                 else [])], message.ticket_id)
        record(ticket, "message.delivered", SYSTEM,
               {"message_id": message.id, "external_id": receipt.external_id})
    return "sent"


def _failed(message_id: int, error: str, *, permanent: bool) -> str:
    state = get_state()
    session().rollback()
    with transaction() as s:
        message = s.get(Message, message_id, with_for_update=True)
        ticket = s.get(Ticket, message.ticket_id)
        final = permanent or message.attempts >= state.config.delivery_max_attempts
        message.last_error = error[:5000]
        if final:
            message.delivery_state, message.next_attempt_at = "failed", None
        else:
            delay = state.config.delivery_backoff * 2 ** (message.attempts - 1)
            message.delivery_state = "queued"
            message.next_attempt_at = utcnow() + dt.timedelta(seconds=min(delay, 6 * 3600))
        record(ticket, "message.delivery_failed", SYSTEM, {
            "message_id": message.id, "error": message.last_error,
            "attempts": message.attempts, "final": final})
        delay_ms = None if final else int(
            (message.next_attempt_at - utcnow()).total_seconds() * 1000) + 50
    if delay_ms is not None:
        state.jobs.send("deliver_message", message_id, delay_ms=max(delay_ms, 1))
    return message.delivery_state


def _outbound(message: Message) -> OutboundMessage:
    s = session()
    ticket = s.get(Ticket, message.ticket_id)
    assert ticket is not None
    state = get_state()
    recipient = None
    kind = _identity_kind(message.channel)
    identity = s.scalar(
        select(ContactIdentity).where(ContactIdentity.customer_id == ticket.customer_id)
        .order_by((ContactIdentity.kind == kind).desc(), ContactIdentity.id).limit(1))
    if identity is not None:
        recipient = Identity(identity.kind, identity.value, "")
    keys = tuple(s.scalars(select(ThreadKey.key).where(ThreadKey.ticket_id == ticket.id)
                           .order_by(ThreadKey.id).limit(50)))
    return OutboundMessage(
        id=message.id, ticket_id=ticket.id, channel=message.channel, account=message.account,
        recipient=recipient, subject=ticket.subject, text=message.text, html=message.html,
        author_name=message.author_name, in_reply_to=keys,
        attachments=tuple(
            OutboundAttachment(a.filename, a.content_type, a.size,
                               (lambda key=a.storage_key: state.storage.open(key)))
            for a in message.attachments),
        attempt=message.attempts, idempotency_key=f"helpdesk-message-{message.id}",
    )


def _identity_kind(channel: str) -> str:
    return {"email": "email", "telegram": "telegram", "vk": "vk"}.get(channel, channel)


def retry(message_id: int, *, actor: Actor) -> Message:
    """Queue a failed reply again (an agent's "retry" button)."""
    with transaction() as s:
        message = s.get(Message, message_id)
        if message is None or message.kind != "reply":
            raise ValidationError(_("Only replies can be retried."))
        ticket = get_ticket(message.ticket_id, actor=actor)
        if message.delivery_state != "failed":
            raise ValidationError(_("Only a failed reply can be retried."))
        message.delivery_state, message.next_attempt_at = "queued", utcnow()
        message.attempts = 0
        record(ticket, "message.replied", actor,
               {"message_id": message.id, "channel": message.channel, "delivery": "queued",
                "retry": True})
    return message


def sweep(now: dt.datetime | None = None) -> list[int]:
    """Send the delivery job again for every due or stuck reply; returns their ids."""
    now = now or utcnow()
    due = list(session().scalars(
        select(Message.id).where(
            Message.delivery_state.in_(("queued", "sending")),
            Message.next_attempt_at <= now,
        ).order_by(Message.next_attempt_at).limit(SWEEP_BATCH)))
    session().rollback()
    jobs = get_state().jobs
    for message_id in due:
        jobs.send("deliver_message", message_id)
    return due


def stats() -> dict[str, int]:
    """Count of replies per delivery state (for admins' health views)."""
    from sqlalchemy import func

    rows = session().execute(select(Message.delivery_state, func.count())
                             .where(Message.delivery_state.is_not(None))
                             .group_by(Message.delivery_state))
    return {str(state): int(n) for state, n in rows}


__all__ = ["deliver", "retry", "stats", "sweep"]
