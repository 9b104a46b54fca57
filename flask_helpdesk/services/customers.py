"""Customers and their contact identities; merging two customers into one.

Also the read side of the customer profile: search by name or any identity
(case-insensitive in every script, on SQLite too), ticket counts that respect
visibility, and the customer's requests with the unsolved ones first.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import not_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from ..errors import Conflict
from ..errors import NotFound
from ..errors import ValidationError
from ..i18n import _
from ..models import ContactIdentity
from ..models import Customer
from ..models import Ticket
from ..models.ticket import STATUSES
from ..models.ticket import UNSOLVED
from . import _validate as v
from . import views
from ._uow import Actor
from ._uow import record
from ._uow import session
from ._uow import transaction
from .permissions import require_role
from .permissions import visible_tickets
from .search import touch

if t.TYPE_CHECKING:
    from sqlalchemy import ColumnElement

_KIND = re.compile(r"[a-z][a-z0-9_-]{0,29}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def normalize_identity(kind: str, value: str) -> str:
    """The canonical form of an identity value, used for lookups.

    Emails are lower-cased, phones keep ``+`` and digits, Telegram and VK
    handles lose a leading ``@`` and are lower-cased.

    :raises ValidationError: The kind or value is malformed.
    """
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise ValidationError(_("%(kind)s is not a valid identity kind.", kind=kind),
                              field="kind")
    if kind in ("email", "telegram", "vk") and isinstance(value, str):
        value = value.lower()  # before the length check: lower() may lengthen text
    value = v.text(value, "value", max_length=320)
    if kind == "email":
        if not _EMAIL.fullmatch(value):
            raise ValidationError(_("%(value)s is not an email address.", value=value),
                                  field="value")
        return value.lower()
    if kind == "phone":
        digits = re.sub(r"[^\d]", "", value)
        if not 5 <= len(digits) <= 15:
            raise ValidationError(_("%(value)s is not a phone number.", value=value),
                                  field="value")
        return ("+" if value.lstrip().startswith("+") else "") + digits
    if kind in ("telegram", "vk"):
        return value.lstrip("@").lower()
    return value


def get_customer(customer_id: int) -> Customer:
    customer = session().get(Customer, customer_id)
    if customer is None:
        raise NotFound(_("Customer %(id)s does not exist.", id=customer_id))
    return customer


def find_by_identity(kind: str, value: str) -> Customer | None:
    """The customer who owns an identity (following merges), or ``None``."""
    value = normalize_identity(kind, value)
    identity = session().scalar(
        select(ContactIdentity).where(ContactIdentity.kind == kind,
                                      ContactIdentity.value == value)
    )
    return None if identity is None else get_customer(identity.customer_id)


def list_customers(
    *, after: int | None = None, cursor: str | None = None, limit: int = 25,
    query: str | None = None,
) -> list[Customer]:
    """Customers by id, keyset-paginated (merged-away ones left out).

    :param after: Return customers whose id is greater than this.
    :param cursor: ``after`` as a request's text.
    :param query: Part of the name or of any identity (value as stored or as
        written, so ``+7 916`` and ``@Olga`` match). Case-insensitive in every
        script: ``ОЛЬГА`` finds ``Ольга``.
    """
    if cursor:
        after = v.id_cursor(cursor)
    stmt = select(Customer).where(Customer.merged_into_id.is_(None)).order_by(Customer.id)
    if after is not None:
        stmt = stmt.where(Customer.id > after)
    query = (query or "").strip()
    if query:
        stmt = stmt.where(_matching(query[:200]))
    return list(session().scalars(stmt.limit(limit)))


def _matching(query: str) -> ColumnElement[bool]:
    """Customers whose name or one of whose identities contains ``query``."""
    lower = _lower_function()
    like = "%" + re.sub(r"([\\%_])", r"\\\1", query.lower()) + "%"
    found = [lower(ContactIdentity.value).like(like, escape="\\"),
             lower(ContactIdentity.display).like(like, escape="\\")]
    digits = re.sub(r"\D", "", query)
    if len(digits) >= 3 and re.fullmatch(r"[\d\s()+.-]+", query):
        found.append(ContactIdentity.value.like(f"%{digits}%"))  # phones keep digits only
    ids = select(ContactIdentity.customer_id).where(or_(*found))
    return or_(lower(Customer.name).like(like, escape="\\"), Customer.id.in_(ids))


def _lower_function() -> t.Callable[[t.Any], t.Any]:
    """SQL ``lower()`` that folds every script.

    SQLite's own ``lower()`` and ``LIKE`` fold ASCII only, so on SQLite the
    connection gets ``hd_lower``, Python's :meth:`str.lower`.
    """
    s = session()
    connection = s.connection(bind_arguments={"mapper": Customer})
    if connection.dialect.name != "sqlite":
        return func.lower
    raw = connection.connection.dbapi_connection
    if raw is not None:
        raw.create_function("hd_lower", 1, _py_lower, deterministic=True)
    return func.hd_lower


def _py_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def create_customer(
    *, actor: Actor, name: str = "", identities: t.Sequence[tuple[str, str]] = (),
    notes: str = "", attributes: dict[str, t.Any] | None = None,
) -> Customer:
    """Create a customer with identities ``[(kind, value), ...]``.

    :raises Conflict: An identity already belongs to another customer.
    """
    customer = Customer(
        name=v.text(name, "name", max_length=200, required=False),
        notes=v.text(notes, "notes", max_length=20000, required=False),
        attributes=dict(attributes or {}),
    )
    with transaction() as s:
        s.add(customer)
        s.flush()
        for kind, value in identities:
            _add_identity(customer, kind, value)
    return customer


def update_customer(
    customer_id: int, *, actor: Actor, name: str = v.UNSET, notes: str = v.UNSET,
    attributes: dict[str, t.Any] = v.UNSET,
) -> Customer:
    with transaction():
        customer = get_customer(customer_id)
        if name is not v.UNSET:
            customer.name = v.text(name, "name", max_length=200, required=False)
        if notes is not v.UNSET:
            customer.notes = v.text(notes, "notes", max_length=20000, required=False)
        if attributes is not v.UNSET:
            if not isinstance(attributes, dict):
                raise ValidationError(_("attributes must be an object."), field="attributes")
            customer.attributes = dict(attributes)
        _touch_customer_tickets(customer.id)
    return customer


def add_identity(customer_id: int, *, actor: Actor, kind: str, value: str) -> ContactIdentity:
    """Give a customer one more way to reach them.

    :raises Conflict: The identity belongs to another customer (merge them).
    """
    with transaction():
        customer = get_customer(customer_id)
        identity = _add_identity(customer, kind, value)
        _touch_customer_tickets(customer.id)
    return identity


def _add_identity(customer: Customer, kind: str, value: str) -> ContactIdentity:
    normalized = normalize_identity(kind, value)
    _check_free(customer.id, kind, normalized)
    identity = ContactIdentity(customer_id=customer.id, kind=kind, value=normalized,
                               display=value.strip()[:320])
    session().add(identity)
    return identity


def _check_free(customer_id: int, kind: str, normalized: str) -> None:
    """Refuse an identity value someone already has, naming the owner."""
    owner = session().scalar(select(ContactIdentity.customer_id).where(
        ContactIdentity.kind == kind, ContactIdentity.value == normalized))
    if owner == customer_id:
        raise Conflict(_("The customer already has %(value)s.", value=normalized),
                       field="value")
    if owner is not None:
        raise Conflict(
            _("%(value)s belongs to customer %(id)s; merge the two customers instead.",
              value=normalized, id=owner),
            field="value", details={"customer_id": owner},
        )


def get_identity(identity_id: int) -> ContactIdentity:
    """One contact identity.

    :raises NotFound: No such identity.
    """
    identity = session().get(ContactIdentity, identity_id)
    if identity is None:
        raise NotFound(_("Identity %(id)s does not exist.", id=identity_id))
    return identity


def update_identity(
    identity_id: int, *, actor: Actor, value: str = v.UNSET, display: str = v.UNSET,
) -> ContactIdentity:
    """Change an identity's value or the way it is shown.

    A new ``value`` is normalized like :func:`add_identity` does and, unless
    ``display`` is given too, is also shown as typed. The kind never changes:
    remove the identity and add another instead.

    :param value: The new value, in any form the kind accepts.
    :param display: How to show it; empty means "as the value".
    :raises ValidationError: The value is malformed or the display too long.
    :raises Conflict: Another customer has the value (merge the two), or this
        customer has it already.

    .. versionadded:: 0.1
    """
    with transaction():
        identity = get_identity(identity_id)
        if value is not v.UNSET:
            normalized = normalize_identity(identity.kind, value)
            if normalized != identity.value:
                _check_free(identity.customer_id, identity.kind, normalized)
                identity.value = normalized
            identity.display = value.strip()[:320]
        if display is not v.UNSET:
            shown = v.text(display, "display", max_length=320, required=False)
            identity.display = shown or identity.value
        _touch_customer_tickets(identity.customer_id)
    return identity


def remove_identity(identity_id: int, *, actor: Actor) -> None:
    with transaction() as s:
        identity = get_identity(identity_id)
        _touch_customer_tickets(identity.customer_id)
        s.delete(identity)


def merge_customers(source_id: int, into_id: int, *, actor: Actor) -> Customer:
    """Move every identity and ticket of ``source`` to ``into``.

    The source row stays, marked as merged, so its history still resolves.
    Each moved ticket gets a ``customer.merged`` event. Managers and admins only.
    """
    require_role(actor, "manager")
    if source_id == into_id:
        raise ValidationError(_("A customer cannot be merged into itself."))
    with transaction() as s:
        source, into = get_customer(source_id), get_customer(into_id)
        if source.merged_into_id is not None or into.merged_into_id is not None:
            raise Conflict(_("That customer was already merged into another one."))
        s.execute(update(ContactIdentity).where(ContactIdentity.customer_id == source.id)
                  .values(customer_id=into.id))
        tickets = list(s.scalars(select(Ticket).where(Ticket.customer_id == source.id)))
        for ticket in tickets:
            ticket.customer_id = into.id
            record(ticket, "customer.merged", actor,
                   {"from_customer_id": source.id, "into_customer_id": into.id})
        # every ticket of the survivor is now findable by the moved identities
        _touch_customer_tickets(into.id)
        source.merged_into_id = into.id
        if not into.name and source.name:
            into.name = source.name
        if source.notes:
            into.notes = (into.notes + "\n\n" + source.notes).strip()
        s.expire(into, ["identities"])
    return into


def _touch_customer_tickets(customer_id: int) -> None:
    for ticket_id in session().scalars(select(Ticket.id).where(Ticket.customer_id == customer_id)):
        touch(ticket_id)


# ------------------------------------------------------------ the profile page


@dataclasses.dataclass(frozen=True)
class TicketCounts:
    """How many tickets a customer has, as one agent sees them.

    :ivar unsolved: Visible tickets that still need work (open, pending, on hold).
    :ivar solved: Visible tickets that are resolved, closed or spam.
    :ivar hidden: Tickets in groups the agent cannot see (never listed).
    """

    unsolved: int
    solved: int
    hidden: int

    @property
    def visible(self) -> int:
        return self.unsolved + self.solved


#: Segments of :func:`list_requests`: unsolved first, then the rest.
SOLVED = tuple(s for s in STATUSES if s not in UNSOLVED)
_SEGMENTS = {"unsolved": (UNSOLVED,), "solved": (SOLVED,), "all": (UNSOLVED, SOLVED)}


def ticket_counts(customer_id: int, *, actor: Actor) -> TicketCounts:
    """The customer's tickets by kind, in one statement (merged tickets left out)."""
    seen, open_ = visible_tickets(actor), Ticket.status.in_(UNSOLVED)
    # Hidden = all - visible: NOT(visible) would be NULL for a NULL assignee.
    row = session().execute(select(
        func.count(case((seen & open_, 1))), func.count(case((seen & not_(open_), 1))),
        func.count(),
    ).where(Ticket.customer_id == customer_id, Ticket.merged_into_id.is_(None))).one()
    unsolved, solved = int(row[0]), int(row[1])
    return TicketCounts(unsolved, solved, int(row[2]) - unsolved - solved)


def unsolved_counts(customer_ids: t.Sequence[int], *, actor: Actor) -> dict[int, int]:
    """Visible unsolved tickets per customer id, in one grouped statement."""
    if not customer_ids:
        return {}
    rows = session().execute(
        select(Ticket.customer_id, func.count()).where(
            Ticket.customer_id.in_(list(customer_ids)), Ticket.status.in_(UNSOLVED),
            Ticket.merged_into_id.is_(None), visible_tickets(actor))
        .group_by(Ticket.customer_id))
    return {int(cid): int(n) for cid, n in rows}


def list_requests(
    customer_id: int, *, actor: Actor, show: str = "all", channel: str | None = None,
    cursor: str | None = None, limit: int = 25,
) -> views.Page:
    """A page of the customer's tickets that ``actor`` may see.

    Unsolved tickets come first, then solved ones, each by last activity,
    newest first; the cursor carries on across both.

    :param show: ``"all"``, ``"unsolved"`` or ``"solved"``.
    :param channel: Only tickets that came in through this channel.
    :raises ValidationError: Unknown ``show`` or a bad cursor.
    """
    segments = _SEGMENTS[v.one_of(show, "show", tuple(_SEGMENTS))]
    index, inner = _split_cursor(cursor, len(segments))
    channels = (channel,) if channel else ()
    items: list[Ticket] = []
    while index < len(segments):
        filters = views.TicketFilter(customer=customer_id, status=segments[index],
                                     channel=channels)
        page = views.list_tickets(actor=actor, filters=filters, sort="-updated",
                                  cursor=inner, limit=limit - len(items))
        items += page.items
        if page.next_cursor:
            return views.Page(items, f"{index}.{page.next_cursor}")
        index, inner = index + 1, None
        if len(items) >= limit:
            break
    more = index < len(segments) and views.count_tickets(actor=actor, filters=views.TicketFilter(
        customer=customer_id, status=segments[index], channel=channels)) > 0
    return views.Page(items, f"{index}." if more else None)


def _split_cursor(cursor: str | None, segments: int) -> tuple[int, str | None]:
    if not cursor:
        return 0, None
    head, _dot, inner = cursor.partition(".")
    index = v.whole_number(head, maximum=segments - 1)
    if index is None or not _dot:
        raise ValidationError(_("The page cursor is invalid; start from the first page."),
                              field="cursor")
    return index, inner or None
