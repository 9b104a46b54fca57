"""Ingest: turn a channel's :class:`InboundMessage` into a ticket message.

Ingest is idempotent on ``(channel, account, external_id)``: a message seen
before returns the first result and changes nothing. So a channel can fetch
at least once and acknowledge its source only after ingest returned, and
every message becomes exactly one ticket message, with nothing lost on a crash.

Threading, in order: the message's ``thread_keys`` (e.g. In-Reply-To then
References) against stored keys of the same channel and account; then a
``ticket_hint`` (a ticket number in the subject). A key of a message the
helpdesk sent threads any reply; a key of an inbound message and the hint
count only when the sender is an identity of that ticket's customer or one of
the ticket's participants (others the ticket's inbound mail was addressed
to, and senders who joined it by a key of ours: see :func:`remembers_sender`).
Mailing-list mail joins only a ticket of its sender's own customer.
Never by subject text alone.

Status on a customer message: ``pending`` and ``on_hold`` go back to
``open``; ``resolved`` goes back to ``open`` too, unless the ticket's group
opens a follow-up instead (``resolved_reply``); a ``closed`` ticket stays
closed and a new ticket is opened, linked as its follow-up; a merged ticket
forwards to the ticket it was merged into; ``spam`` stays ``spam``. Imported
history written before the ticket's status last changed leaves the status as
it is (:func:`keeps_status`): an archive does not reopen what was resolved
after its mail.

A message with the ``external_id`` of a stored one but another
``content_hash`` is a different message reusing the id: it is stored under
:func:`reused_id` (so fetching it again is still a duplicate), its ticket gets
a ``message.external_id_reused`` event and the log a warning.

An imported message (``imported``) records its events with ``imported: true``
(event rules skip them) and marks the time rules it makes due at once as done
for the ticket's current episode (:func:`~.automation.skip_due`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import typing as t

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..channels import InboundMessage
from ..errors import ValidationError
from ..extension import get_state
from ..i18n import _
from ..models import ContactIdentity
from ..models import Customer
from ..models import Group
from ..models import Message
from ..models import ThreadKey
from ..models import Ticket
from ..models import TicketParticipant
from ..models import utcnow
from ..models.ticket import SUBJECT_MAX
from . import _validate as v
from ._uow import SYSTEM
from ._uow import imported_history
from ._uow import record
from ._uow import session
from ._uow import transaction
from .customers import normalize_identity
from .messages import add_message
from .participants import add_participants
from .participants import normalize_participants
from .tickets import set_status

if t.TYPE_CHECKING:
    import datetime as dt

#: Most thread keys looked at per message (long References chains are cut).
MAX_THREAD_KEYS = 50

log = logging.getLogger("flask_helpdesk.inbound")


@dataclasses.dataclass(frozen=True)
class IngestResult:
    """What ingest did with one message.

    :ivar ticket_id: The ticket the message is on.
    :ivar message_id: The stored message.
    :ivar created: A new ticket was opened for it.
    :ivar duplicate: It was ingested before; nothing changed.
    :ivar follow_up_of: The closed (or resolved, as its group wants) ticket
        this new ticket follows up.
    :ivar reused_id_of: The stored message whose ``external_id`` this
        different message reused (it was stored under :func:`reused_id`).
    """

    ticket_id: int
    message_id: int
    created: bool
    duplicate: bool = False
    follow_up_of: int | None = None
    reused_id_of: int | None = None


def ingest(message: InboundMessage) -> IngestResult:
    """Store one inbound message on the right ticket, exactly once.

    For many messages at once, :func:`ingest_batch` gives the same results
    with far fewer statements.

    :raises ValidationError: The message lacks a channel, id or sender.
    """
    _check(message)
    message, reused_of = _reuse(message)
    existing = _find_existing(message)
    if existing is not None:
        return existing
    try:
        return _ingest(message, reused_of)
    except IntegrityError:
        # Another process ingested the same message concurrently.
        existing = _find_existing(message)
        if existing is None:
            raise
        return existing


def _check(message: InboundMessage) -> None:
    if not isinstance(message, InboundMessage):
        raise ValidationError(_("ingest() takes an InboundMessage."))
    channels = get_state().channels
    if message.channel not in channels:
        raise ValidationError(_("Unknown channel %(channel)s; a plugin must declare it with"
                                " helpdesk_register_channels.", channel=message.channel),
                              field="channel")
    v.text(message.external_id, "external_id", max_length=500)
    v.text(message.account, "account", max_length=100, required=False)
    if message.content_hash is not None:
        v.text(message.content_hash, "content_hash", max_length=100)
    normalize_identity(message.sender.kind, message.sender.value)


def reused_id(external_id: str, content_hash: str) -> str:
    """The id a message is stored under when it reuses another message's ``external_id``."""
    return f"{external_id[:400]}#{content_hash}"


def stored_meta(message: InboundMessage) -> dict[str, t.Any]:
    """The ``meta`` stored on the message: the channel's, with its ``content_hash``."""
    meta = dict(message.meta)
    if message.content_hash is not None:
        meta["content_hash"] = message.content_hash
    return meta


def differs(stored_hash: str | None, message: InboundMessage) -> bool:
    """Whether a stored message with the same id has other content (both hashes known)."""
    return bool(stored_hash and message.content_hash and stored_hash != message.content_hash)


def warn_reused(message: InboundMessage, first: int, stored: int) -> None:
    log.warning("message %s reuses external id %r of message %s (%s/%s) with different"
                " content; stored as %r", stored, message.external_id.rsplit("#", 1)[0],
                first, message.channel, message.account or "-", message.external_id)


def _reuse(message: InboundMessage) -> tuple[InboundMessage, int | None]:
    """``message`` under :func:`reused_id` when it reuses a stored message's id, and that id."""
    if message.content_hash is None:
        return message, None
    row = session().execute(
        select(Message.id, Message.meta["content_hash"].as_string().label("hash")).where(
            Message.channel == message.channel, Message.account == message.account,
            Message.external_id == message.external_id)
    ).first()
    if row is None or not differs(row.hash, message):
        return message, None
    return dataclasses.replace(message, external_id=reused_id(
        message.external_id, message.content_hash)), row.id


def _find_existing(message: InboundMessage) -> IngestResult | None:
    row = session().execute(
        select(Message.id, Message.ticket_id).where(
            Message.channel == message.channel, Message.account == message.account,
            Message.external_id == message.external_id)
    ).first()
    return None if row is None else IngestResult(row.ticket_id, row.id, False, duplicate=True)


def _ingest(message: InboundMessage, reused_of: int | None = None) -> IngestResult:
    state = get_state()
    with transaction(), imported_history() if message.imported else contextlib.nullcontext():
        customer = _customer(message)
        ticket, by_outbound = _thread(message, customer)
        follow_up_of = None
        stale = ticket is not None and keeps_status(message, ticket.status_changed_at)
        if ticket is not None and follows_up(ticket.status, _resolved_reply(ticket.group_id),
                                             stale=stale):
            follow_up_of = ticket.id
        created = ticket is None or follow_up_of is not None
        if created:
            ticket = _open_ticket(message, customer, state.config.spam_threshold,
                                  follow_up_of)
        else:
            assert ticket is not None
            if ticket.status in ("pending", "on_hold", "resolved") and not stale:
                set_status(ticket, customer, "open")
        assert ticket is not None
        stored = add_message(
            ticket, kind="inbound", actor=customer, text=message.text, html=message.html,
            attachments=message.attachments, meta=stored_meta(message),
            channel=message.channel, account=message.account,
            external_id=message.external_id, created_at=message.received_at,
            event_data={"auto_submitted": message.auto_submitted},
        )
        when = stored.created_at
        ticket.last_customer_message_at = max(ticket.last_customer_message_at or when, when)
        ticket.updated_at = max(ticket.updated_at or when, when)
        _store_keys(message, ticket.id)
        joined = not created and remembers_sender(
            outbound=by_outbound, own=ticket.customer_id == customer.id,
            mailing_list=message.mailing_list)
        add_participants(ticket.id, [*participants_of(message),
                                     *([sender_identity(message)] if joined else [])])
        if reused_of is not None:
            record(ticket, "message.external_id_reused", SYSTEM, {
                "message_id": stored.id, "external_id": message.external_id,
                "first_message_id": reused_of})
            warn_reused(message, reused_of, stored.id)
        if message.imported:
            from .automation import skip_due

            skip_due([ticket.id])
    return IngestResult(ticket.id, stored.id, created, follow_up_of=follow_up_of,
                        reused_id_of=reused_of)


def _customer(message: InboundMessage) -> Customer:
    s = session()
    kind, name = message.sender.kind, message.sender.name.strip()[:200]
    value = normalize_identity(kind, message.sender.value)
    identity = s.scalar(select(ContactIdentity).where(
        ContactIdentity.kind == kind, ContactIdentity.value == value))
    if identity is not None:
        customer = s.get(Customer, identity.customer_id)
        assert customer is not None
        if not customer.name and name:
            customer.name = name
        return customer
    customer = Customer(name=name, notes="", attributes={})
    s.add(customer)
    s.flush()
    s.add(ContactIdentity(customer_id=customer.id, kind=kind, value=value,
                          display=message.sender.value.strip()[:320]))
    return customer


def _thread(message: InboundMessage, customer: Customer) -> tuple[Ticket | None, bool]:
    """The ticket the message joins, and whether a key of ours (``outbound``) led there."""
    s = session()
    sender = sender_identity(message)
    keys = [k for k in message.thread_keys if k][:MAX_THREAD_KEYS]
    if keys:
        rows = s.execute(select(ThreadKey.key, ThreadKey.ticket_id, ThreadKey.outbound).where(
            ThreadKey.channel == message.channel, ThreadKey.account == message.account,
            ThreadKey.key.in_(keys))).all()
        found = {row.key: row for row in rows}
        for key in keys:
            row = found.get(key)
            if row is not None and _may_join(row.ticket_id, message, customer, sender,
                                             outbound=row.outbound):
                return _follow_merges(row.ticket_id), row.outbound
    if message.ticket_hint is not None:
        ticket = s.get(Ticket, message.ticket_hint)
        if ticket is not None and _may_join(ticket.id, message, customer, sender,
                                            outbound=False):
            return _follow_merges(ticket.id), False
    return None, False


def may_thread(*, outbound: bool, own: bool, participant: bool, mailing_list: bool) -> bool:
    """Whether a message may join a ticket that one of its keys (or its hint) names.

    :param outbound: The key is of a message the helpdesk sent.
    :param own: The sender is an identity of the ticket's customer.
    :param participant: The sender is one of the ticket's participants.
    :param mailing_list: The message came through a mailing list.
    """
    if mailing_list:
        return own
    return outbound or own or participant


def remembers_sender(*, outbound: bool, own: bool, mailing_list: bool) -> bool:
    """Whether the sender of a message that joined a ticket becomes its participant.

    Anyone may answer a message the helpdesk sent; who does so once is
    remembered, so that their next message threads by the ticket's other keys
    and its ticket number too, like a participant's. Not the ticket's
    customer (who needs no such entry), and never someone writing through a
    mailing list.

    :param outbound: The message joined the ticket by a key of a message the
        helpdesk sent.
    :param own: The sender is an identity of the ticket's customer.
    :param mailing_list: The message came through a mailing list.

    .. versionadded:: 0.2
    """
    return outbound and not own and not mailing_list


def follows_up(status: str, resolved_reply: str, *, stale: bool = False) -> bool:
    """Whether a customer's message to a ticket in ``status`` opens a follow-up.

    :param stale: The message keeps the ticket's status (:func:`keeps_status`):
        it joins a resolved ticket as history. A closed ticket takes no new
        message, so even old mail opens a follow-up of it.
    """
    return status == "closed" or (
        status == "resolved" and resolved_reply == "follow_up" and not stale)


def keeps_status(message: InboundMessage, status_changed_at: dt.datetime | None) -> bool:
    """Whether a customer's message leaves its ticket's status as it is.

    True for imported history written before the status last changed: a
    resolved, pending or on-hold ticket is not reopened by an archive of
    older mail (nor does such mail open a follow-up of a resolved ticket).
    Live mail, and imported mail written after the change, reopen it as usual.
    """
    return (message.imported and message.received_at is not None
            and status_changed_at is not None and message.received_at <= status_changed_at)


def _may_join(ticket_id: int, message: InboundMessage, customer: Customer,
              sender: tuple[str, str], *, outbound: bool) -> bool:
    chain = _merge_chain(ticket_id)
    own = any(ticket.customer_id == customer.id for ticket in chain)
    participant = False
    if not (own or outbound or message.mailing_list):
        participant = session().scalar(select(TicketParticipant.id).where(
            TicketParticipant.ticket_id.in_([ticket.id for ticket in chain]),
            TicketParticipant.kind == sender[0], TicketParticipant.value == sender[1]
        ).limit(1)) is not None
    return may_thread(outbound=outbound, own=own, participant=participant,
                      mailing_list=message.mailing_list)


def _merge_chain(ticket_id: int) -> list[Ticket]:
    """The ticket and the tickets it was merged into, in turn."""
    s = session()
    chain: list[Ticket] = []
    ticket = s.get(Ticket, ticket_id)
    while ticket is not None and ticket not in chain:
        chain.append(ticket)
        ticket = s.get(Ticket, ticket.merged_into_id) if ticket.merged_into_id else None
    return chain


def _resolved_reply(group_id: int | None) -> str:
    if group_id is None:
        return "reopen"
    return session().scalar(select(Group.resolved_reply).where(Group.id == group_id)) or "reopen"


def sender_identity(message: InboundMessage) -> tuple[str, str]:
    """The message's sender as a normalized ``(kind, value)``."""
    return message.sender.kind, normalize_identity(message.sender.kind, message.sender.value)


def participants_of(message: InboundMessage) -> list[tuple[str, str]]:
    """The message's participants, normalized, without its sender; none for list mail.

    A participant that is not a valid identity is left out.
    """
    return normalize_participants(message.participants, without={sender_identity(message)},
                                  mailing_list=message.mailing_list)


def _follow_merges(ticket_id: int) -> Ticket:
    s = session()
    ticket = s.get(Ticket, ticket_id, with_for_update=True)
    seen = set()
    while ticket is not None and ticket.merged_into_id is not None and ticket.id not in seen:
        seen.add(ticket.id)
        ticket = s.get(Ticket, ticket.merged_into_id, with_for_update=True)
    assert ticket is not None
    return ticket


def _open_ticket(
    message: InboundMessage, customer: Customer, spam_threshold: float, follow_up_of: int | None
) -> Ticket:
    from .agents import get_group_by_name

    state = get_state()
    scores = [message.spam_score, *[
        score for score in state.pm.hook.helpdesk_spam_score(helpdesk=state, message=message)
        if score is not None]]
    spam = max(scores) >= spam_threshold
    when = message.received_at or utcnow()
    subject = v.fold_line(message.subject or "")[:SUBJECT_MAX].strip()
    group = get_group_by_name(message.group) if message.group else None
    ticket = Ticket(
        subject=subject or _("(no subject)"), status="spam" if spam else "open", priority=1,
        channel=message.channel, account=message.account, customer_id=customer.id,
        group_id=group.id if group else None, created_at=when, updated_at=when,
        status_changed_at=when, follow_up_of_id=follow_up_of, custom_fields={},
    )
    s = session()
    s.add(ticket)
    s.flush()
    record(ticket, "ticket.created", customer, {
        "subject": ticket.subject, "channel": ticket.channel, "status": ticket.status,
        "priority": "normal", "group_id": ticket.group_id, "assignee_id": None,
        "spam_score": max(scores), "follow_up_of": follow_up_of,
    })
    if follow_up_of is not None:
        closed = s.get(Ticket, follow_up_of)
        assert closed is not None
        record(closed, "ticket.follow_up_created", SYSTEM, {"follow_up_id": ticket.id})
    return ticket


def _store_keys(message: InboundMessage, ticket_id: int) -> None:
    add_thread_keys(message.channel, message.account, message.own_keys, ticket_id)


def add_thread_keys(channel: str, account: str, keys: t.Iterable[str], ticket_id: int,
                    *, outbound: bool = False) -> None:
    """Remember keys that thread later messages of a channel into ``ticket_id``.

    :param outbound: The keys are of a message the helpdesk sent: they thread
        any reply. Keys of inbound messages thread only the ticket's customer
        and participants.

    Keys already known (to any ticket) are left as they are.
    """
    wanted = sorted({k[:500] for k in keys if k})
    if not wanted:
        return
    s = session()
    known = set(s.scalars(select(ThreadKey.key).where(
        ThreadKey.channel == channel, ThreadKey.account == account, ThreadKey.key.in_(wanted))))
    s.add_all(ThreadKey(channel=channel, account=account, key=k, ticket_id=ticket_id,
                        outbound=outbound) for k in wanted if k not in known)


from ._batch_ingest import ingest_batch as ingest_batch  # noqa: E402 - builds on the above
