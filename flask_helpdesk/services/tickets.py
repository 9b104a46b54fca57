"""Tickets: create, read with permission, change fields and status, reassign, merge.

Every change is one transaction that also records a history event per changed
field; events are dispatched after the commit.
"""

from __future__ import annotations

import dataclasses
import typing as t

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import selectinload

from ..channels import InboundAttachment
from ..errors import NotFound
from ..errors import PermissionDenied
from ..errors import ValidationError
from ..i18n import _
from ..i18n import lazy_gettext
from ..models import Agent
from ..models import Customer
from ..models import Message
from ..models import Tag
from ..models import Ticket
from ..models import TicketEvent
from ..models import utcnow
from ..models.ticket import PRIORITIES
from ..models.ticket import STATUSES
from ..models.ticket import SUBJECT_MAX
from ..models.ticket import TRANSITIONS
from . import _validate as v
from ._uow import Actor
from ._uow import record
from ._uow import session
from ._uow import transaction
from .permissions import can_see_ticket
from .search import touch

if t.TYPE_CHECKING:
    from sqlalchemy import CursorResult

#: Longest tag name; tags are lower-case words of letters, digits, ``-``, ``_``.
TAG_MAX = 50

#: A subject as a JSON-schema ``pattern`` (the REST API's OpenAPI document):
#: one line (no NUL, no line break of :meth:`str.splitlines`) with a
#: character that is not a space. A subject becomes an email's ``Subject``.
SUBJECT_PATTERN = r"^(?![\s\S]*[" + "".join(
    f"\\u{ord(c):04x}" for c in "\x00" + v.LINE_BREAKS) + r"])[\s\S]*\S"


def check_subject(value: object, field: str = "subject") -> str:
    """A ticket's subject: text of one line, at most ``SUBJECT_MAX`` characters.

    Ingest folds a subject's line breaks into spaces instead
    (a line break becomes a space); what people type is refused.

    :raises ValidationError: Not text, empty, too long, a line break or NUL.
    """
    return v.line(value, field, max_length=SUBJECT_MAX)


@dataclasses.dataclass
class TicketChanges:
    """What to change on a ticket; fields left :data:`UNSET` stay as they are.

    ``assignee_id`` and ``group_id`` take ``None`` to clear them.
    """

    subject: str = v.UNSET
    status: str = v.UNSET
    priority: str = v.UNSET
    group_id: int | None = v.UNSET
    assignee_id: int | None = v.UNSET
    add_tags: t.Sequence[str] = ()
    remove_tags: t.Sequence[str] = ()
    custom_fields: dict[str, t.Any] = v.UNSET


def _load(ticket_id: int, *, for_update: bool = False) -> Ticket:
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
        raise NotFound(_("Ticket %(id)s does not exist.", id=ticket_id))
    query = select(Ticket).where(Ticket.id == ticket_id).options(
        selectinload(Ticket.tags), joinedload(Ticket.customer),
        joinedload(Ticket.group), joinedload(Ticket.assignee),
    )
    if for_update:
        query = query.with_for_update(of=Ticket)
    ticket = session().scalar(query)
    if ticket is None:
        raise NotFound(_("Ticket %(id)s does not exist.", id=ticket_id))
    return ticket


def get_ticket(ticket_id: int, *, actor: Actor, for_update: bool = False) -> Ticket:
    """Load a ticket with its customer, group, assignee and tags.

    :raises NotFound: No such ticket.
    :raises PermissionDenied: ``actor`` may not see it.
    """
    ticket = _load(ticket_id, for_update=for_update)
    _check_visible(actor, ticket)
    return ticket


def require_visible(ticket_id: int, *, actor: Actor) -> Ticket:
    """Check that ``ticket_id`` exists and ``actor`` may see it; one query, no relations.

    :raises NotFound: No such ticket.
    :raises PermissionDenied: ``actor`` may not see it.
    """
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
        raise NotFound(_("Ticket %(id)s does not exist.", id=ticket_id))
    ticket = session().get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(_("Ticket %(id)s does not exist.", id=ticket_id))
    _check_visible(actor, ticket)
    return ticket


def _check_visible(actor: Actor, ticket: Ticket) -> None:
    if not can_see_ticket(actor, ticket):
        raise PermissionDenied(
            _("Ticket #%(id)s belongs to a group you are not in.", id=ticket.id)
        )


def priority_rank(name: str) -> int:
    return PRIORITIES.index(v.one_of(name, "priority", PRIORITIES))


def create_ticket(
    *, actor: Actor, customer_id: int, subject: str, text: str = "", html: str | None = None,
    channel: str = "web", account: str = "", group_id: int | None = None,
    assignee_id: int | None = None, priority: str = "normal", status: str = "open",
    tags: t.Sequence[str] = (), attachments: t.Sequence[InboundAttachment] = (),
) -> Ticket:
    """Open a ticket for a customer, with their request as its first message.

    Agents open tickets on a customer's behalf (a phone call, a walk-in); the
    first message is recorded as the customer's, entered by that agent.
    """
    from .customers import get_customer
    from .messages import add_message

    subject = check_subject(subject)
    status = v.one_of(status, "status", ("open", "pending", "on_hold"))
    with transaction() as s:
        customer = get_customer(customer_id)
        if customer.merged_into_id is not None:
            customer = get_customer(customer.merged_into_id)
        now = utcnow()
        ticket = Ticket(
            subject=subject, status=status, priority=priority_rank(priority),
            channel=_channel(channel), account=account, customer_id=customer.id,
            created_at=now, updated_at=now, status_changed_at=now,
            last_customer_message_at=now, custom_fields={},
        )
        ticket.tags = _tags(tags)
        s.add(ticket)
        s.flush()
        _set_group_and_assignee(ticket, actor, group_id, assignee_id, record_events=False)
        if isinstance(actor, Agent) and not can_see_ticket(actor, ticket):
            raise PermissionDenied(_("You may only open tickets in your own groups."))
        record(ticket, "ticket.created", actor, {
            "subject": subject, "channel": ticket.channel, "status": status,
            "priority": priority, "group_id": ticket.group_id,
            "assignee_id": ticket.assignee_id, "tags": [tg.name for tg in ticket.tags],
        })
        add_message(ticket, kind="inbound", actor=customer, text=text, html=html,
                    attachments=attachments,
                    meta={"entered_by_agent_id": actor.id} if isinstance(actor, Agent) else {})
    return _load(ticket.id)


def update_ticket(ticket_id: int, *, actor: Actor, changes: TicketChanges) -> Ticket:
    """Apply ``changes`` to a ticket, one history event per changed field.

    :raises ValidationError: A value is invalid or the status change is not allowed.
    """
    with transaction():
        ticket = get_ticket(ticket_id, actor=actor, for_update=True)
        if ticket.merged_into_id is not None:
            raise ValidationError(
                _("Ticket #%(id)s was merged into #%(into)s; change that one.",
                  id=ticket.id, into=ticket.merged_into_id))
        if changes.subject is not v.UNSET:
            subject = check_subject(changes.subject)
            if subject != ticket.subject:
                record(ticket, "ticket.updated", actor,
                       {"field": "subject", "old": ticket.subject, "new": subject})
                ticket.subject = subject
                touch(ticket.id)
        if changes.priority is not v.UNSET:
            rank = priority_rank(changes.priority)
            if rank != ticket.priority:
                record(ticket, "ticket.updated", actor, {
                    "field": "priority", "old": ticket.priority_name, "new": changes.priority})
                ticket.priority = rank
        if changes.group_id is not v.UNSET or changes.assignee_id is not v.UNSET:
            _set_group_and_assignee(ticket, actor, changes.group_id, changes.assignee_id)
        if changes.add_tags or changes.remove_tags:
            _change_tags(ticket, actor, changes.add_tags, changes.remove_tags)
        if changes.custom_fields is not v.UNSET:
            _change_custom_fields(ticket, actor, changes.custom_fields)
        if changes.status is not v.UNSET:
            set_status(ticket, actor, changes.status)
        ticket.updated_at = utcnow()
    return _load(ticket.id)


def set_status(ticket: Ticket, actor: Actor | Customer, status: str) -> None:
    """Move a ticket to ``status`` inside the current transaction.

    :raises ValidationError: ``status`` is unknown or not reachable from the current one.
    """
    v.one_of(status, "status", STATUSES)
    if status == ticket.status:
        return
    if status not in TRANSITIONS[ticket.status]:
        if ticket.status == "closed":
            message = _("Ticket #%(id)s is closed; closed tickets cannot change. A new message"
                        " opens a follow-up ticket.", id=ticket.id)
        else:
            message = _("A ticket cannot go from %(old)s to %(new)s.",
                        old=status_label(ticket.status), new=status_label(status))
        raise ValidationError(message, field="status")
    record(ticket, "ticket.status_changed", actor, {"old": ticket.status, "new": status})
    ticket.status = status
    ticket.status_changed_at = utcnow()


#: Status names as people read them (translated when shown).
STATUS_LABELS = {
    "open": lazy_gettext("open"), "pending": lazy_gettext("pending"),
    "on_hold": lazy_gettext("on hold"), "resolved": lazy_gettext("resolved"),
    "closed": lazy_gettext("closed"), "spam": lazy_gettext("spam"),
}


def status_label(status: str) -> str:
    """The translated name of a status (one catalog lookup: pages call it per row)."""
    label = STATUS_LABELS.get(status)
    return status if label is None else str(label)


def _channel(channel: str) -> str:
    from ..extension import get_state

    channels = get_state().channels
    if channel not in channels:
        raise ValidationError(
            _("Unknown channel %(channel)s; known: %(known)s.", channel=channel,
              known=", ".join(sorted(channels))), field="channel")
    return channel


def _set_group_and_assignee(
    ticket: Ticket, actor: Actor, group_id: int | None, assignee_id: int | None,
    *, record_events: bool = True,
) -> None:
    from .agents import get_agent
    from .agents import get_group

    old_group, old_assignee = ticket.group_id, ticket.assignee_id
    new_group = old_group if group_id is v.UNSET else group_id
    new_assignee = old_assignee if assignee_id is v.UNSET else assignee_id
    group = None if new_group is None else get_group(v.integer(new_group, "group_id"))
    if new_assignee is not None:
        agent = get_agent(v.integer(new_assignee, "assignee_id"))
        if not agent.active:
            raise ValidationError(_("%(name)s is deactivated and cannot be assigned.",
                                    name=agent.name), field="assignee_id")
        if group is not None and not agent.sees_all and group.id not in agent.group_ids:
            if assignee_id is v.UNSET:
                new_assignee = None  # moved to a group the assignee is not in
            else:
                raise ValidationError(
                    _("%(name)s is not a member of the group %(group)s.",
                      name=agent.name, group=group.name), field="assignee_id")
    ticket.group_id, ticket.assignee_id = new_group, new_assignee
    ticket.group, ticket.assignee = group, (None if new_assignee is None else get_agent(
        new_assignee))
    if record_events and (old_group, old_assignee) != (new_group, new_assignee):
        record(ticket, "ticket.assigned", actor, {
            "old": old_assignee, "new": new_assignee,
            "group_old": old_group, "group_new": new_group,
        })


def normalize_tag(name: object) -> str:
    tag = v.text(name, "tags", max_length=TAG_MAX).lower().replace(" ", "-")
    if any(not (c.isalnum() or c in "-_.:") for c in tag):
        raise ValidationError(_("Tag %(tag)s may contain only letters, digits and - _ . :",
                                tag=tag), field="tags")
    return tag


def _tags(names: t.Iterable[str]) -> list[Tag]:
    if isinstance(names, str):
        raise ValidationError(_("tags must be a list."), field="tags")
    wanted = sorted({normalize_tag(n) for n in names})
    if not wanted:
        return []
    s = session()
    existing = {tag.name: tag for tag in s.scalars(select(Tag).where(Tag.name.in_(wanted)))}
    missing = [name for name in wanted if name not in existing]
    if missing:
        # Two transactions may create the same new tag at once: insert what is
        # missing, ignoring names another transaction inserted first.
        s.execute(_insert_ignore(s, Tag).values([{"name": name} for name in missing]))
        existing.update({tag.name: tag for tag in s.scalars(
            select(Tag).where(Tag.name.in_(missing)))})
    return [existing[n] for n in wanted]


def _insert_ignore(s: t.Any, model: type[Tag]) -> t.Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for SQLite and PostgreSQL."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects import sqlite

    dialect = s.get_bind(mapper=model.__mapper__).dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing(index_elements=["name"])
    if dialect == "sqlite":
        return sqlite.insert(model).on_conflict_do_nothing(index_elements=["name"])
    from sqlalchemy import insert  # pragma: no cover - other databases

    return insert(model)


def _change_tags(
    ticket: Ticket, actor: Actor, add: t.Sequence[str], remove: t.Sequence[str]
) -> None:
    current = {tag.name: tag for tag in ticket.tags}
    removed = sorted({normalize_tag(n) for n in remove} & set(current))
    added = [tag for tag in _tags(add) if tag.name not in current and tag.name not in removed]
    if not added and not removed:
        return
    ticket.tags = [tag for tag in ticket.tags if tag.name not in removed] + added
    record(ticket, "ticket.tags_changed", actor,
           {"added": [tag.name for tag in added], "removed": removed})


def _change_custom_fields(ticket: Ticket, actor: Actor, fields: dict[str, t.Any]) -> None:
    if not isinstance(fields, dict):
        raise ValidationError(_("custom_fields must be an object."), field="custom_fields")
    merged = dict(ticket.custom_fields or {})
    for key, value in fields.items():
        v.text(key, "custom_fields", max_length=64)
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, str | int | float | bool):
            merged[key] = value
        else:
            raise ValidationError(_("Custom field %(key)s must be text, a number or true/false.",
                                    key=key), field="custom_fields")
        if merged.get(key) != (ticket.custom_fields or {}).get(key):
            record(ticket, "ticket.updated", actor, {
                "field": f"custom_fields.{key}",
                "old": (ticket.custom_fields or {}).get(key), "new": merged.get(key)})
    ticket.custom_fields = merged


def reassign(
    ticket_id: int, *, actor: Actor, group_id: int | None = v.UNSET,
    assignee_id: int | None = v.UNSET, note: str,
) -> Ticket:
    """Hand a ticket to another group or agent with an internal note, in one action.

    The note tells the colleagues what is needed ("please send the payment logs").
    """
    from .messages import add_message

    text = v.text(note, "note", max_length=100_000)
    with transaction():
        ticket = get_ticket(ticket_id, actor=actor, for_update=True)
        if ticket.status == "closed":
            set_status(ticket, actor, "open")  # raises: closed is final
        _set_group_and_assignee(ticket, actor, group_id, assignee_id)
        add_message(ticket, kind="note", actor=actor, text=text)
        ticket.updated_at = utcnow()
    return _load(ticket.id)


def merge_tickets(source_id: int, into_id: int, *, actor: Actor) -> Ticket:
    """Move every message of ``source`` into ``into`` and close ``source``.

    Both tickets must belong to the same customer. Agents may merge tickets
    they can see.
    """
    if source_id == into_id:
        raise ValidationError(_("A ticket cannot be merged into itself."))
    with transaction() as s:
        source = get_ticket(source_id, actor=actor, for_update=True)
        into = get_ticket(into_id, actor=actor, for_update=True)
        for ticket in (source, into):
            if ticket.merged_into_id is not None:
                raise ValidationError(_("Ticket #%(id)s was already merged.", id=ticket.id))
        if into.status == "closed":
            raise ValidationError(_("Ticket #%(id)s is closed; merge into an open ticket.",
                                    id=into.id))
        if source.customer_id != into.customer_id:
            raise ValidationError(_("Only tickets of the same customer can be merged."))
        moved = t.cast("CursorResult[t.Any]", s.execute(
            update(Message).where(Message.ticket_id == source.id).values(ticket_id=into.id)
        )).rowcount
        _change_tags(into, actor, [tag.name for tag in source.tags], ())
        source.merged_into_id = into.id
        if source.status != "closed":
            record(source, "ticket.status_changed", actor, {"old": source.status,
                                                            "new": "closed"})
            source.status, source.status_changed_at = "closed", utcnow()
        record(source, "ticket.merged", actor, {"into": into.id})
        record(into, "ticket.merge_received", actor, {"source": source.id, "messages": moved})
        into.updated_at = source.updated_at = utcnow()
        touch(source.id)
        touch(into.id)
    return _load(into.id)


def list_events(
    ticket_id: int, *, actor: Actor, after: int | None = None, cursor: str | None = None,
    limit: int = 100,
) -> list[TicketEvent]:
    """The ticket's history, oldest first, keyset-paginated by event id.

    :param cursor: ``after`` as a request's text, read after the permission check.
    :raises ValidationError: A cursor that is not an id.
    """
    require_visible(ticket_id, actor=actor)
    if cursor:
        after = v.id_cursor(cursor)
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    if after is not None:
        query = query.where(TicketEvent.id > after)
    return list(session().scalars(query.order_by(TicketEvent.id).limit(limit)))



def related_tickets(ticket: Ticket, *, actor: Actor, limit: int = 10) -> list[Ticket]:
    """Tickets an agent wants beside this one, newest first, in one statement.

    The ticket it follows up and its own follow-ups, the tickets merged into
    it, and the customer's other requests; only those ``actor`` may see.
    Follow-ups and merged tickets belong to the same customer (merging
    customers moves their tickets), so the customer index finds them all.
    """
    from .permissions import visible_tickets

    links = [Ticket.customer_id == ticket.customer_id]
    if ticket.follow_up_of_id is not None:
        links.append(Ticket.id == ticket.follow_up_of_id)
    query = (select(Ticket).where(or_(*links), Ticket.id != ticket.id, visible_tickets(actor))
             .order_by(Ticket.id.desc()).limit(limit))
    return list(session().scalars(query))
