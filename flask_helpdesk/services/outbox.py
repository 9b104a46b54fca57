"""The outbox: delivery of public replies through the channel plugins.

A reply is committed as a :class:`~flask_helpdesk.models.Message` in state
``queued``; after the commit the event pipeline sends the
``helpdesk.deliver_message`` job (``helpdesk.deliver_messages`` for a batch,
see :func:`enqueue`). :func:`deliver` claims the row atomically
(``queued`` -> ``sending``), calls the ``helpdesk_deliver_message`` hook, and
records ``sent`` or schedules a retry with exponential backoff; after
:data:`HELPDESK_DELIVERY_MAX_ATTEMPTS` the row is ``failed`` and stays visible
to agents, who may :func:`retry` it. :func:`sweep` re-sends due rows and rows
whose ``sending`` lease ran out, so a lost broker message or a crashed worker
loses no reply.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import typing as t

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import selectinload

from ..channels import DeliveryReceipt
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

#: Longest wait between two delivery attempts, in seconds.
MAX_BACKOFF = 6 * 3600


def _claim(message_id: int, now: dt.datetime, lease: int) -> int | None:
    """Atomically move a due row to ``sending`` for ``lease`` seconds.

    One UPDATE with the state and due time in its WHERE clause: of two
    workers, only one changes the row. :return: The attempt number now
    claimed, or ``None`` when the row is not due or someone else has it.
    """
    due = or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now)
    # A write transaction of the services (BEGIN IMMEDIATE on SQLite): a bare
    # UPDATE would start as a read and could fail when another worker commits.
    with transaction() as s:
        result = s.execute(
            update(Message)
            .where(Message.id == message_id, Message.delivery_state.in_(("queued", "sending")),
                   due)
            .values(delivery_state="sending", attempts=Message.attempts + 1,
                    next_attempt_at=now + dt.timedelta(seconds=lease))
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        return s.scalar(select(Message.attempts).where(Message.id == message_id))


def enqueue(message_ids: t.Sequence[int]) -> None:
    """Send the delivery jobs of queued replies, logging (not raising) broker errors.

    One reply gets a ``deliver_message`` job; more get one ``deliver_messages``
    job per :data:`HELPDESK_DELIVERY_BATCH_SIZE` of them, so a mass notice of
    thousands of replies costs the broker a few hundred messages and workers
    still share the batches. A send that fails (the broker is down) leaves its
    replies ``queued`` and due, with :func:`queue_unreachable_error` as
    their last error, so agents and the API see the delay; the sweeper sends them again
    once the broker answers. The log gets one warning line per failed send.
    """
    state = get_state()
    size = state.config.delivery_batch_size
    for start in range(0, len(message_ids), size):
        chunk = list(message_ids[start:start + size])
        try:
            if len(chunk) == 1:
                state.jobs.send("deliver_message", chunk[0])
            else:
                state.jobs.send("deliver_messages", chunk)
        except Exception as exc:
            log.warning("could not enqueue the delivery of messages %s (%s: %s); they stay"
                        " queued and the sweeper sends them within %s seconds of the job queue"
                        " being reachable again (HELPDESK_SWEEP_INTERVAL)",
                        chunk, type(exc).__name__, exc, state.config.sweep_interval)
            _note_unqueued(chunk)


def queue_unreachable_error() -> str:
    """The last error of a reply whose delivery job could not be queued (translated)."""
    return str(_("The job queue cannot be reached: the reply is kept and goes out when it"
                 " is back."))


def _note_unqueued(message_ids: list[int]) -> None:
    """Say on queued replies that their job is not in the queue (never raises)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with transaction() as s:
            s.execute(update(Message)
                      .where(Message.id.in_(message_ids), Message.delivery_state == "queued")
                      .values(last_error=queue_unreachable_error())
                      .execution_options(synchronize_session=False))
    except SQLAlchemyError as exc:
        log.warning("could not note the delay on messages %s: %s", message_ids, exc)


def deliver_many(message_ids: t.Sequence[int]) -> dict[int, str | None]:
    """Deliver queued replies one after another (the ``deliver_messages`` job).

    Each goes as in :func:`deliver`: claimed, sent and recorded on its own, so
    one failure does not stop the others. After half of
    :data:`HELPDESK_DELIVERY_LEASE` the rest go to a new job, so a slow
    channel never makes the batch outlive the job's time limit.

    :return: Message id -> new delivery state (``None``: nothing done), for
        the replies handled here.
    """
    import time

    state = get_state()
    deadline = time.monotonic() + state.config.delivery_lease / 2
    done: dict[int, str | None] = {}
    for i, message_id in enumerate(message_ids):
        if time.monotonic() > deadline:
            enqueue(message_ids[i:])
            break
        try:
            done[message_id] = deliver(message_id)
        except Exception:
            # A database error: the row stays queued or claimed; the sweeper retries it.
            session().rollback()
            log.exception("delivery of message %s failed; the sweeper will retry", message_id)
            done[message_id] = None
    return done


def deliver(message_id: int) -> str | None:
    """Deliver one queued reply through the ``helpdesk_deliver_message`` hook.

    Safe to call any number of times for the same message: only a caller
    that wins the claim sends, and a sent or failed row is left alone.

    :return: The new delivery state (``sent``, ``queued`` for a retry,
        ``failed``), or ``None`` when nothing was done.
    """
    state = get_state()
    attempt = _claim(message_id, utcnow(), state.config.delivery_lease)
    if attempt is None:
        return None
    message = session().scalar(select(Message).where(Message.id == message_id)
                               .options(selectinload(Message.attachments)))
    if message is None:  # deleted with its ticket meanwhile
        return None
    outbound = _outbound(message)
    # Hold no transaction (nor SQLite read lock) while the channel talks to the network.
    session().commit()
    try:
        receipt = state.pm.hook.helpdesk_deliver_message(helpdesk=state, message=outbound)
        if receipt is None:
            raise DeliveryError(
                _("No installed plugin delivers messages of the channel %(channel)s.",
                  channel=outbound.channel), permanent=True)
    except DeliveryError as exc:
        return _failed(message_id, attempt, str(exc.message), permanent=exc.permanent)
    except Exception as exc:
        log.exception("delivery of message %s raised", message_id)
        return _failed(message_id, attempt, f"{type(exc).__name__}: {exc}", permanent=False)
    return _sent(message_id, receipt)


def _sent(message_id: int, receipt: DeliveryReceipt) -> str | None:
    session().rollback()
    with transaction() as s:
        message = s.get(Message, message_id, with_for_update=True)
        if message is None:
            return None
        if message.delivery_state == "sent":
            # A worker whose lease ran out sent it too; record it once.
            return "sent"
        ticket = s.get(Ticket, message.ticket_id)
        assert ticket is not None
        message.delivery_state, message.sent_at, message.last_error = "sent", utcnow(), None
        message.next_attempt_at = None
        if receipt.external_id and not message.external_id:
            message.external_id = receipt.external_id[:500]
        add_thread_keys(message.channel, message.account,
                        [*receipt.thread_keys, *([receipt.external_id] if receipt.external_id
                                                 else [])], message.ticket_id,
                        outbound=True)
        record(ticket, "message.delivered", SYSTEM,
               {"message_id": message.id, "external_id": receipt.external_id})
    return "sent"


def _failed(message_id: int, attempt: int, error: str, *, permanent: bool) -> str | None:
    """Record a failed attempt: retry later with backoff, or give up."""
    state = get_state()
    session().rollback()
    with transaction() as s:
        message = s.get(Message, message_id, with_for_update=True)
        if message is None or message.delivery_state != "sending" or message.attempts != attempt:
            # Our lease ran out and another worker owns the row now.
            log.warning("message %s: attempt %s lost its claim", message_id, attempt)
            return None
        ticket = s.get(Ticket, message.ticket_id)
        assert ticket is not None
        final = permanent or message.attempts >= state.config.delivery_max_attempts
        message.last_error = error[:5000]
        delay = 0.0
        due: dt.datetime | None = None
        if not final:
            delay = min(state.config.delivery_backoff * 2 ** (message.attempts - 1), MAX_BACKOFF)
            due = utcnow() + dt.timedelta(seconds=delay)
        message.delivery_state = "failed" if final else "queued"
        message.next_attempt_at = due
        record(ticket, "message.delivery_failed", SYSTEM, {
            "message_id": message.id, "error": message.last_error,
            "attempts": message.attempts, "final": final,
            "next_attempt_at": None if due is None else due.isoformat() + "Z"})
        new_state = message.delivery_state
    if not final:
        try:
            # A few ms late rather than early: an early message finds the row not due.
            state.jobs.send("deliver_message", message_id, delay_ms=int(delay * 1000) + 20)
        except Exception as exc:
            log.warning("could not schedule the retry of message %s (%s: %s); it stays queued"
                        " and the first sweep after its retry time with the job queue"
                        " reachable (every %s seconds, HELPDESK_SWEEP_INTERVAL) sends it",
                        message_id, type(exc).__name__, exc, state.config.sweep_interval)
    return new_state


def _outbound(message: Message) -> OutboundMessage:
    s = session()
    ticket = s.get(Ticket, message.ticket_id)
    assert ticket is not None
    state = get_state()
    recipient = recipient_of(ticket, message.channel)
    keys = tuple(s.scalars(select(ThreadKey.key).where(ThreadKey.ticket_id == ticket.id)
                           .order_by(ThreadKey.id).limit(50)))
    return OutboundMessage(
        id=message.id, ticket_id=ticket.id, channel=message.channel, account=message.account,
        recipient=recipient, subject=ticket.subject, text=message.text, html=message.html,
        author_name=message.author_name, in_reply_to=keys,
        attachments=tuple(
            OutboundAttachment(a.filename, a.content_type, a.size,
                               functools.partial(state.storage.open, a.storage_key))
            for a in message.attachments),
        attempt=message.attempts, idempotency_key=f"helpdesk-message-{message.id}",
        automatic=bool((message.meta or {}).get("automatic")),
    )


def recipient_of(ticket: Ticket, channel: str) -> Identity | None:
    """The identity of the ticket's customer that a reply through ``channel`` goes to."""
    kind = _identity_kind(channel)
    identity = session().scalar(
        select(ContactIdentity).where(ContactIdentity.customer_id == ticket.customer_id)
        .order_by((ContactIdentity.kind == kind).desc(), ContactIdentity.id).limit(1))
    return None if identity is None else Identity(identity.kind, identity.value, "")


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
    """Send the delivery job again for every due or stuck reply.

    Due: ``queued`` with ``next_attempt_at`` passed (a retry whose broker
    message was lost, a reply queued while the broker was down or before a
    restart). Stuck: ``sending`` past its lease (the worker died mid-delivery).
    A reply whose job is still in the broker gets a second message; the claim
    in :func:`deliver` makes that harmless.

    :param now: The time to compare with (default: now).
    :return: The ids sent, oldest due first, at most :data:`SWEEP_BATCH`.
    """
    now = now or utcnow()
    due = list(session().scalars(
        select(Message.id).where(
            Message.delivery_state.in_(("queued", "sending")),
            or_(Message.next_attempt_at <= now, Message.next_attempt_at.is_(None)),
        ).order_by(Message.next_attempt_at, Message.id).limit(SWEEP_BATCH)))
    session().rollback()
    enqueue(due)
    if due:
        log.info("outbox sweep re-sent %d replies", len(due))
    return due


def stats() -> dict[str, int]:
    """Count of replies per delivery state (for admins' health views)."""
    rows = session().execute(select(Message.delivery_state, func.count())
                             .where(Message.delivery_state.is_not(None))
                             .group_by(Message.delivery_state))
    return {str(state): int(n) for state, n in rows}


def list_failed(limit: int = 20) -> list[Message]:
    """The replies that gave up, newest first, with their ``last_error``."""
    return list(session().scalars(
        select(Message).where(Message.delivery_state == "failed")
        .order_by(Message.id.desc()).limit(limit)))


__all__ = ["deliver", "list_failed", "retry", "stats", "sweep"]
