"""Batch ingest: many inbound messages in one transaction, with set-based SQL.

:func:`ingest_batch` gives every message exactly the result
:func:`~flask_helpdesk.services.inbound.ingest` would give it, one after the
other in the batch's order, but reads and writes with a handful of
statements per batch instead of a dozen per message:

1. *Check* every message in Python (channel, ids, sender, text, files); a
   message that fails is reported and left out.
2. *Read* in bulk what the messages refer to: messages already stored
   (idempotency), senders' identities and customers, thread keys, hinted
   tickets and the tickets they were merged into, their participants and
   groups' ``resolved_reply``.
3. *Plan* in order, in memory: duplicates (also within the batch), new
   customers, the ticket of each message (a reply later in the batch finds a
   ticket opened earlier in it by its keys), status changes, follow-ups of
   closed (or resolved) tickets, the keys and participants to remember
   (also a sender who joined by a key of ours, :func:`~.inbound.remembers_sender`).
4. *Write*: customers, identities, tickets, messages, attachments, keys and
   events inserted a table at a time; changed tickets updated in one
   ``executemany``. The events reach the one event pipeline after commit.

A message that reuses the ``external_id`` of another (stored or earlier in the
batch) with a different ``content_hash`` is stored under
:func:`~.inbound.reused_id`, with a ``message.external_id_reused`` event, as
:func:`~.inbound.ingest` does; an imported message's events carry
``imported: true``.

A ticket hint (``[#123]``) can only name a ticket opened earlier in the same
batch when its number is above every ticket at the start; the batch is then
written up to that message and planned again from there, so the number is
known.
"""

from __future__ import annotations

import dataclasses
import typing as t

from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from ..errors import HelpdeskError
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
from ._uow import SystemActor
from ._uow import insert_ids
from ._uow import record_rows
from ._uow import session
from ._uow import transaction
from .customers import normalize_identity
from .inbound import MAX_THREAD_KEYS
from .inbound import IngestResult
from .inbound import _check
from .inbound import differs
from .inbound import follows_up
from .inbound import ingest
from .inbound import keeps_status
from .inbound import may_thread
from .inbound import participants_of
from .inbound import remembers_sender
from .inbound import reused_id
from .inbound import stored_meta
from .inbound import warn_reused
from .messages import check_attachments
from .messages import message_body
from .messages import save_attachment
from .messages import with_simplified
from .search import touch

if t.TYPE_CHECKING:
    import datetime as dt

    from ..channels import InboundMessage

# The batch reads and writes with Core statements on the tables, so a short
# process (an archive import) compiles no ORM query and never configures the
# mappers: the two took about 0.05 s of each importing process.
_M = Message.__table__
_CI = ContactIdentity.__table__
_C = Customer.__table__
_K = ThreadKey.__table__
_T = Ticket.__table__
_P = TicketParticipant.__table__
_G = Group.__table__

#: Values an ``IN (...)`` list gets at most (SQLite's limit is 32,766).
CHUNK = 500

#: Called inside the transaction that stored them, with ``(index, result)`` pairs.
Finish = t.Callable[[list[tuple[int, IngestResult]]], None]


def ingest_batch(
    messages: t.Sequence[InboundMessage], *, finish: Finish | None = None,
) -> list[IngestResult | Exception]:
    """Store many inbound messages, each exactly once, in one transaction.

    Each message gets the result :func:`ingest` would give it if the messages
    were ingested one after another in this order. Events are dispatched after
    the commit, through the same pipeline.

    :param messages: Messages in the order they arrived.
    :param finish: Called inside the transaction that stored the messages with
        ``(index, result)`` pairs, to make a change with them atomically (e.g.
        advance a channel's cursor, tag the new tickets).
    :return: Per message, in order: its :class:`IngestResult`, or the
        exception that kept it out (the channel quarantines it).

    When the batch's transaction fails (a database error, a ``finish`` that
    raises), it is rolled back and every message is ingested again alone, each
    in its own transaction with its own ``finish`` call, so one bad message
    never holds up the others.

    .. versionadded:: 0.2
    """
    out: list[IngestResult | Exception | None] = [None] * len(messages)
    todo: list[tuple[int, _Checked]] = []
    for index, message in enumerate(messages):
        try:
            todo.append((index, _checked(message)))
        except HelpdeskError as exc:
            out[index] = exc
    if todo:
        batch = _Batch([c for _i, c in todo])
        try:
            with transaction():
                results = batch.store()
                pairs = [(i, r) for (i, _c), r in zip(todo, results, strict=True)]
                if finish is not None:
                    finish(pairs)
            for index, result in pairs:
                out[index] = result
        except Exception:  # noqa: BLE001 - every message is tried again alone
            batch.drop_files()
            for index, _c in todo:
                out[index] = _one(index, messages[index], finish)
    return t.cast("list[IngestResult | Exception]", out)


def _one(index: int, message: InboundMessage, finish: Finish | None) -> IngestResult | Exception:
    try:
        with transaction():
            result = ingest(message)
            if finish is not None:
                finish([(index, result)])
        return result
    except Exception as exc:  # noqa: BLE001 - reported to the caller
        return exc


@dataclasses.dataclass
class _Checked:
    """A message that passed the checks, with its normalized parts."""

    message: InboundMessage
    identity: tuple[str, str]
    name: str
    text: str
    html: str | None
    #: The message whose external id this one reuses (stored, or planned in the batch).
    reused_of: int | _Stored | None = None
    #: What simplifying its HTML left out (see :func:`message_body`).
    simplified: dict[str, int] = dataclasses.field(default_factory=dict)


def _checked(message: InboundMessage) -> _Checked:
    _check(message)
    check_attachments(message.attachments)
    text, html, simplified = message_body(message.text, message.html,
                                          attachments=bool(message.attachments))
    kind = message.sender.kind
    return _Checked(message, (kind, normalize_identity(kind, message.sender.value)),
                    message.sender.name.strip()[:200], text, html, simplified=simplified)


class _Customer:
    def __init__(self, id: int | None, name: str, display: str = "") -> None:
        self.id, self.name, self.display, self.renamed = id, name, display, False
        self.new = id is None


class _Ticket:
    def __init__(self, **row: t.Any) -> None:
        self.id: int | None = row.get("id")
        self.status: str = row["status"]
        self.customer_id: int | None = row.get("customer_id")
        self.group_id: int | None = row.get("group_id")
        self.merged_into_id: int | None = row.get("merged_into_id")
        self.last_customer_message_at: dt.datetime | None = row.get("last_customer_message_at")
        self.updated_at: dt.datetime = row["updated_at"]
        self.status_changed_at: dt.datetime = row["status_changed_at"]
        self.new, self.changed = self.id is None, False
        #: Its participants' ``(kind, value)`` (all of them: read, then planned).
        self.participants: set[tuple[str, str]] = set()
        #: Columns of a new ticket (``customer_id`` is filled in on insert).
        self.row: dict[str, t.Any] = {}
        self.customer: _Customer | None = None


class _Stored:
    """A planned message row; ``id`` is known once inserted."""

    def __init__(self, checked: _Checked, ticket: _Ticket, customer: _Customer) -> None:
        self.checked, self.ticket, self.customer = checked, ticket, customer
        self.id: int | None = None
        self.created = False
        self.follow_up_of: int | None = None
        self.when = checked.message.received_at or utcnow()


class _Batch:
    """One batch being planned and written (see the module docstring)."""

    def __init__(self, items: list[_Checked]) -> None:
        self.items = items
        self.state = get_state()
        self.s = session()
        self.results: list[IngestResult | None] = [None] * len(items)
        #: Tickets and customers changed with SQL: their ORM objects are stale.
        self.touched: set[int] = set()
        self.renamed: set[int] = set()
        #: Planned imported messages (time rules due at once are skipped for their tickets).
        self.imported: list[_Stored] = []
        #: Storage keys of the files this batch stored (removed if it is rolled back).
        self.saved_keys: list[str] = []

    def store(self) -> list[IngestResult]:
        self.s.flush()
        start = 0
        while start < len(self.items):
            start = self._chunk(start)
        if self.imported:
            from .automation import skip_due

            skip_due([t.cast("int", p.ticket.id) for p in self.imported])
        self._expire()
        return t.cast("list[IngestResult]", self.results)

    # ------------------------------------------------------------ reading

    def _read(self, items: list[_Checked]) -> None:
        self.stored, self.hashes = self._existing(items, lambda c: c.message.external_id)
        reusing = [c for c in items if differs(self.hashes.get(_key(c.message)), c.message)]
        if reusing:
            found, hashes = self._existing(reusing, _reused_key)
            self.stored.update(found)
            self.hashes.update(hashes)
        self.customers = self._customers(items)
        self.keys = self._keys(items)
        hinted = {c.message.ticket_hint for c in items if c.message.ticket_hint is not None}
        self.tickets: dict[int, _Ticket] = {}
        self._load_tickets({*(ticket_id for ticket_id, _o in self.keys.values()), *hinted})
        self._load_participants()
        self.resolved_replies = self._resolved_replies()
        self.max_ticket: int | None = None
        self.groups: dict[str, int | None] = {}

    def _existing(self, items: list[_Checked], ids_of: t.Callable[[_Checked], str]) -> tuple[
            dict[tuple[str, str, str], IngestResult], dict[tuple[str, str, str], str | None]]:
        """Stored messages with these ids, and their content hashes."""
        found, hashes = {}, {}
        for (channel, account), ids in _grouped(items, ids_of).items():
            for part in _chunks(ids):
                for row in self.s.execute(select(
                        _M.c.external_id, _M.c.id, _M.c.ticket_id,
                        _M.c.meta["content_hash"].as_string().label("hash")).where(
                        _M.c.channel == channel, _M.c.account == account,
                        _M.c.external_id.in_(part))):
                    key = (channel, account, row.external_id)
                    found[key] = IngestResult(row.ticket_id, row.id, False, duplicate=True)
                    hashes[key] = row.hash
        return found, hashes

    def _customers(self, items: list[_Checked]) -> dict[tuple[str, str], _Customer]:
        by_kind: dict[str, set[str]] = {}
        for c in items:
            by_kind.setdefault(c.identity[0], set()).add(c.identity[1])
        owners: dict[tuple[str, str], int] = {}
        for kind, values in by_kind.items():
            for part in _chunks(sorted(values)):
                owners.update(((kind, row.value), row.customer_id) for row in self.s.execute(
                    select(_CI.c.value, _CI.c.customer_id).where(
                        _CI.c.kind == kind, _CI.c.value.in_(part))))
        names: dict[int, _Customer] = {}
        for part in _chunks(sorted(set(owners.values()))):
            for row in self.s.execute(select(_C.c.id, _C.c.name).where(
                    _C.c.id.in_(part))):
                names[row.id] = _Customer(row.id, row.name)
        return {identity: names[cid] for identity, cid in owners.items()}

    def _keys(self, items: list[_Checked]) -> dict[tuple[str, str, str], tuple[int, bool]]:
        """``(ticket id, outbound)`` of each stored key the messages name."""
        found = {}
        for (channel, account), keys in _grouped(items, _lookup_keys).items():
            for part in _chunks(keys):
                for row in self.s.execute(select(
                        _K.c.key, _K.c.ticket_id, _K.c.outbound).where(
                        _K.c.channel == channel, _K.c.account == account,
                        _K.c.key.in_(part))):
                    found[(channel, account, row.key)] = (row.ticket_id, row.outbound)
        return found

    def _load_tickets(self, ids: t.Iterable[int]) -> None:
        """Load tickets and, following merges, the tickets they went into."""
        wanted = sorted(set(ids) - set(self.tickets))
        while wanted:
            for part in _chunks(wanted):
                query = select(_T.c.id, _T.c.status, _T.c.customer_id, _T.c.group_id,
                               _T.c.merged_into_id, _T.c.last_customer_message_at,
                               _T.c.updated_at, _T.c.status_changed_at
                               ).where(_T.c.id.in_(part)).with_for_update()
                for row in self.s.execute(query):
                    self.tickets[row.id] = _Ticket(**row._asdict())
            wanted = sorted({tk.merged_into_id for tk in self.tickets.values()
                             if tk.merged_into_id is not None} - set(self.tickets))

    def _load_participants(self) -> None:
        for part in _chunks(sorted(self.tickets)):
            for row in self.s.execute(select(_P.c.ticket_id, _P.c.kind, _P.c.value)
                                      .where(_P.c.ticket_id.in_(part))):
                self.tickets[row.ticket_id].participants.add((row.kind, row.value))

    def _resolved_replies(self) -> dict[int | None, str]:
        """``resolved_reply`` of the groups of the resolved tickets read."""
        wanted = sorted({tk.group_id for tk in self.tickets.values()
                         if tk.status == "resolved" and tk.group_id is not None})
        if not wanted:
            return {}
        rows = self.s.execute(select(_G.c.id, _G.c.resolved_reply).where(_G.c.id.in_(wanted)))
        return {row.id: row.resolved_reply for row in rows}

    # ----------------------------------------------------------- planning

    def _chunk(self, start: int) -> int:
        """Plan and write messages from ``start``; the index to go on from."""
        items = self.items[start:]
        self._read(items)
        self.plan: list[_Stored] = []
        self.events: list[tuple[_Ticket, str, _Customer | SystemActor, dict[str, t.Any]]] = []
        self.new_keys: list[tuple[str, str, str, _Ticket]] = []
        self.new_participants: list[tuple[_Ticket, str, str]] = []
        self.batch_keys: dict[tuple[str, str, str], _Ticket] = {}
        seen: dict[tuple[str, str, str], _Stored] = {}
        placed: list[tuple[int, _Stored, bool]] = []
        end = len(self.items)
        for offset, checked in enumerate(items):
            index = start + offset
            self._reuse(checked, seen)
            m = checked.message
            key = _key(m)
            if key in self.stored:
                self.results[index] = self.stored[key]
            elif key in seen:
                placed.append((index, seen[key], True))
            elif offset > 0 and self._must_split(checked):
                end = index
                break
            else:
                first_event = len(self.events)
                seen[key] = self._place(checked)
                self._mark(checked, seen[key], first_event)
                self.plan.append(seen[key])
                placed.append((index, seen[key], False))
        self._write()
        for index, planned, duplicate in placed:
            assert planned.ticket.id is not None and planned.id is not None
            reused = planned.checked.reused_of
            first = reused.id if isinstance(reused, _Stored) else reused
            self.results[index] = IngestResult(
                planned.ticket.id, planned.id, planned.created and not duplicate,
                duplicate=duplicate, follow_up_of=None if duplicate else planned.follow_up_of,
                reused_id_of=None if duplicate else first)
            if first is not None and not duplicate:
                warn_reused(planned.checked.message, first, planned.id)
        return end

    def _reuse(self, checked: _Checked, seen: dict[tuple[str, str, str], _Stored]) -> None:
        """Give a message that reuses another's external id (other content) its own id."""
        m = checked.message
        key = _key(m)
        if key in self.stored:
            first: int | _Stored = self.stored[key].message_id
            stored_hash = self.hashes.get(key)
        elif key in seen:
            first = seen[key]
            stored_hash = seen[key].checked.message.content_hash
        else:
            return
        if differs(stored_hash, m):
            checked.message = dataclasses.replace(m, external_id=_reused_key(checked))
            checked.reused_of = first

    def _mark(self, checked: _Checked, planned: _Stored, first_event: int) -> None:
        """Record the reuse of an external id; flag an imported message's events."""
        if checked.reused_of is not None:
            self.events.append((planned.ticket, "message.external_id_reused", SYSTEM, {
                "message_id": planned, "external_id": checked.message.external_id,
                "first_message_id": checked.reused_of}))
        if checked.message.imported:
            self.imported.append(planned)
            for *_event, data in self.events[first_event:]:
                data["imported"] = True

    def _must_split(self, checked: _Checked) -> bool:
        """Whether the hint may name a ticket this batch opened (its number is not known yet)."""
        hint = checked.message.ticket_hint
        if hint is None or hint in self.tickets or not any(p.created for p in self.plan):
            return False
        if self.max_ticket is None:
            self.max_ticket = self.s.scalar(select(func.max(_T.c.id))) or 0
        return hint > self.max_ticket

    def _place(self, checked: _Checked) -> _Stored:
        m = checked.message
        customer = self.customers.get(checked.identity)
        if customer is None:
            customer = self.customers[checked.identity] = _Customer(
                None, checked.name, m.sender.value.strip()[:320])
        elif not customer.name and checked.name:
            customer.name, customer.renamed = checked.name, not customer.new
        ticket, by_outbound = self._thread(checked, customer)
        now = utcnow()
        follow_up_of = None
        stale = ticket is not None and keeps_status(m, ticket.status_changed_at)
        if ticket is not None and follows_up(
                ticket.status, self.resolved_replies.get(ticket.group_id, "reopen"), stale=stale):
            follow_up_of = ticket.id
        created = ticket is None or follow_up_of is not None
        if created:
            ticket = self._open(checked, customer, follow_up_of)
        else:
            assert ticket is not None
            if ticket.status in ("pending", "on_hold", "resolved") and not stale:
                self.events.append((ticket, "ticket.status_changed", customer,
                                    {"old": ticket.status, "new": "open"}))
                ticket.status, ticket.status_changed_at, ticket.changed = "open", now, True
        stored = _Stored(checked, ticket, customer)
        stored.created, stored.follow_up_of = created, follow_up_of
        self.events.append((ticket, "message.received", customer, {
            "message_id": stored, "channel": m.channel, "auto_submitted": m.auto_submitted}))
        when = stored.when
        ticket.last_customer_message_at = max(ticket.last_customer_message_at or when, when)
        ticket.updated_at = max(ticket.updated_at or when, when)
        ticket.changed = True
        for k in sorted({k[:500] for k in m.own_keys if k}):
            name = (m.channel, m.account, k)
            if name not in self.keys and name not in self.batch_keys:
                self.batch_keys[name] = ticket
                self.new_keys.append((*name, ticket))
        joined = not created and remembers_sender(
            outbound=by_outbound, own=self._owns(ticket, customer), mailing_list=m.mailing_list)
        for kind, value in [*participants_of(m), *([checked.identity] if joined else [])]:
            if (kind, value) not in ticket.participants:
                ticket.participants.add((kind, value))
                self.new_participants.append((ticket, kind, value))
        return stored

    def _thread(self, checked: _Checked, customer: _Customer) -> tuple[_Ticket | None, bool]:
        """The ticket the message joins, and whether a key of ours led there."""
        m = checked.message
        for key in [k for k in m.thread_keys if k][:MAX_THREAD_KEYS]:
            name = (m.channel, m.account, key)
            if name in self.batch_keys:
                ticket, outbound = self.batch_keys[name], False
            elif name in self.keys:
                ticket_id, outbound = self.keys[name]
                ticket = self.tickets[ticket_id]
            else:
                continue
            if self._may_join(ticket, checked, customer, outbound=outbound):
                return self._follow(ticket), outbound
        if m.ticket_hint is not None:
            hinted = self.tickets.get(m.ticket_hint)
            if hinted is not None and self._may_join(hinted, checked, customer, outbound=False):
                return self._follow(hinted), False
        return None, False

    def _may_join(self, ticket: _Ticket, checked: _Checked, customer: _Customer, *,
                  outbound: bool) -> bool:
        """The rule of :func:`~.inbound.may_thread` for the ticket and its merge targets."""
        chain = [ticket]
        while chain[-1].merged_into_id is not None:
            target = self.tickets[chain[-1].merged_into_id]
            if target in chain:
                break
            chain.append(target)
        own = any(self._owns(tk, customer) for tk in chain)
        participant = any(checked.identity in tk.participants for tk in chain)
        return may_thread(outbound=outbound, own=own, participant=participant,
                          mailing_list=checked.message.mailing_list)

    @staticmethod
    def _owns(ticket: _Ticket, customer: _Customer) -> bool:
        """Whether ``customer`` is the ticket's customer (also when both are new)."""
        return ticket.customer is customer or (
            customer.id is not None and ticket.customer_id == customer.id)

    def _follow(self, ticket: _Ticket) -> _Ticket:
        seen = set()
        while ticket.merged_into_id is not None and ticket.id not in seen:
            seen.add(ticket.id)
            ticket = self.tickets[ticket.merged_into_id]
        return ticket

    def _open(self, checked: _Checked, customer: _Customer, follow_up_of: int | None) -> _Ticket:
        m, state = checked.message, self.state
        scores = [m.spam_score, *[
            score for score in state.pm.hook.helpdesk_spam_score(helpdesk=state, message=m)
            if score is not None]]
        status = "spam" if max(scores) >= state.config.spam_threshold else "open"
        when = m.received_at or utcnow()
        subject = v.fold_line(m.subject or "")[:SUBJECT_MAX].strip()
        group_id = self._group(m.group)
        ticket = _Ticket(status=status, group_id=group_id, updated_at=when,
                         status_changed_at=when)
        ticket.customer = customer
        ticket.row = {
            "subject": subject or _("(no subject)"), "status": status, "priority": 1,
            "channel": m.channel, "account": m.account, "group_id": group_id,
            "created_at": when, "status_changed_at": when,
            "follow_up_of_id": follow_up_of, "custom_fields": {},
        }
        self.events.append((ticket, "ticket.created", customer, {
            "subject": ticket.row["subject"], "channel": m.channel, "status": status,
            "priority": "normal", "group_id": group_id, "assignee_id": None,
            "spam_score": max(scores), "follow_up_of": follow_up_of,
        }))
        if follow_up_of is not None:
            self.events.append((self.tickets[follow_up_of], "ticket.follow_up_created", SYSTEM,
                                {"follow_up_id": ticket}))
        return ticket

    def _group(self, name: str | None) -> int | None:
        if not name:
            return None
        if name not in self.groups:
            from .agents import get_group_by_name

            group = get_group_by_name(name)
            self.groups[name] = group.id if group else None
        return self.groups[name]

    # ------------------------------------------------------------ writing

    def _write(self) -> None:
        customers = [c for c in self.customers.values() if c.id is None]
        ids = insert_ids(Customer, [{"name": c.name, "notes": "", "attributes": {}}
                                    for c in customers])
        for customer, new_id in zip(customers, ids, strict=True):
            customer.id = new_id
        fresh = {id(c) for c in customers}
        self._insert(ContactIdentity, [
            {"customer_id": c.id, "kind": kind, "value": value, "display": c.display}
            for (kind, value), c in self.customers.items() if id(c) in fresh])
        renamed = [c for c in self.customers.values() if c.renamed]
        self._update(Customer, [{"b_id": c.id, "name": c.name} for c in renamed])
        self.renamed.update(t.cast("int", c.id) for c in renamed)
        tickets = list({id(p.ticket): p.ticket for p in self.plan}.values())
        opened = [tk for tk in tickets if tk.new]
        for ticket in opened:
            assert ticket.customer is not None
            ticket.customer_id = ticket.customer.id
            ticket.row.update(customer_id=ticket.customer_id, updated_at=ticket.updated_at,
                              last_customer_message_at=ticket.last_customer_message_at)
        for ticket, new_id in zip(opened, insert_ids(Ticket, [tk.row for tk in opened]),
                                  strict=True):
            ticket.id = new_id
        self._write_messages()
        self._insert(ThreadKey, [{"channel": c, "account": a, "key": k, "ticket_id": tk.id,
                                  "outbound": False} for c, a, k, tk in self.new_keys])
        self._insert(TicketParticipant, [
            {"ticket_id": tk.id, "kind": kind, "value": value}
            for tk, kind, value in self.new_participants])
        self._update(Ticket, [
            {"b_id": tk.id, "status": tk.status, "status_changed_at": tk.status_changed_at,
             "last_customer_message_at": tk.last_customer_message_at,
             "updated_at": tk.updated_at}
            for tk in tickets if not tk.new])
        self._write_events()
        for ticket in tickets:
            assert ticket.id is not None
            touch(ticket.id)
            self.touched.add(ticket.id)

    def _write_messages(self) -> None:
        rows = []
        for p in self.plan:
            m, c = p.checked.message, p.customer
            rows.append({
                "ticket_id": p.ticket.id, "kind": "inbound", "channel": m.channel,
                "account": m.account, "external_id": m.external_id,
                "author_customer_id": c.id, "author_name": c.name, "text": p.checked.text,
                "html": p.checked.html,
                "meta": with_simplified(stored_meta(m), p.checked.simplified),
                "created_at": p.when,
                "attempts": 0,
            })
        for planned, new_id in zip(self.plan, insert_ids(Message, rows), strict=True):
            planned.id = new_id
        from ..models import Attachment

        storage = self.state.storage
        files = []
        for p in self.plan:
            for item in p.checked.message.attachments:
                files.append({"message_id": p.id, **save_attachment(item, storage)})
                self.saved_keys.append(files[-1]["storage_key"])
        self._insert(Attachment, files)

    def drop_files(self) -> None:
        """Remove the files this batch stored: its transaction was rolled back."""
        for key in self.saved_keys:
            self.state.storage.delete(key)
        self.saved_keys = []

    def _write_events(self) -> None:
        rows, groups = [], []
        for ticket, kind, actor, data in self.events:
            row: dict[str, t.Any] = {
                "ticket_id": ticket.id, "type": kind, "at": utcnow(),
                "data": {k: getattr(v, "id", v) if isinstance(v, _Stored | _Ticket) else v
                         for k, v in data.items()}}
            if isinstance(actor, _Customer):
                row.update(actor_kind="customer", actor_customer_id=actor.id,
                           actor_name=actor.name)
            else:
                row.update(actor_kind=actor.kind, actor_name=actor.name)
            rows.append(row)
            groups.append(ticket.group_id)
        record_rows(rows, groups)

    def _insert(self, model: type[t.Any], rows: list[dict[str, t.Any]]) -> None:
        if rows:
            from sqlalchemy import insert

            self.s.execute(insert(model.__table__), rows)

    def _update(self, model: type[t.Any], rows: list[dict[str, t.Any]]) -> None:
        if not rows:
            return
        table = model.__table__
        columns = [k for k in rows[0] if k != "b_id"]
        stmt = update(table).where(table.c.id == bindparam("b_id")).values(
            {k: bindparam(k) for k in columns})
        self.s.execute(stmt, rows)

    def _expire(self) -> None:
        """Objects of the session that the set-based writes made stale."""
        for obj in list(self.s.identity_map.values()):
            if (isinstance(obj, Ticket) and obj.id in self.touched) or (
                    isinstance(obj, Customer) and obj.id in self.renamed):
                self.s.expire(obj)


def _key(m: InboundMessage) -> tuple[str, str, str]:
    return (m.channel, m.account, m.external_id)


def _reused_key(c: _Checked) -> str:
    return reused_id(c.message.external_id, t.cast("str", c.message.content_hash))


def _lookup_keys(c: _Checked) -> list[str]:
    m = c.message
    return [*[k for k in m.thread_keys if k][:MAX_THREAD_KEYS],
            *{k[:500] for k in m.own_keys if k}]


def _grouped(items: list[_Checked], keys: t.Callable[[_Checked], str | list[str]]
             ) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for c in items:
        found = keys(c)
        out.setdefault((c.message.channel, c.message.account), set()).update(
            [found] if isinstance(found, str) else found)
    return {k: sorted(v) for k, v in out.items()}


def _chunks(values: t.Sequence[t.Any]) -> t.Iterator[t.Sequence[t.Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]
