"""Customers and their contact identities; merging two customers into one."""

from __future__ import annotations

import re
import typing as t

from sqlalchemy import select
from sqlalchemy import update

from ..errors import Conflict
from ..errors import NotFound
from ..errors import ValidationError
from ..i18n import _
from ..models import ContactIdentity
from ..models import Customer
from ..models import Ticket
from . import _validate as v
from ._uow import Actor
from ._uow import record
from ._uow import session
from ._uow import transaction
from .permissions import require_role
from .search import touch

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
    *, after: int | None = None, limit: int = 25, query: str | None = None
) -> list[Customer]:
    """Customers by id, keyset-paginated; ``query`` matches name or identity."""
    stmt = select(Customer).where(Customer.merged_into_id.is_(None)).order_by(Customer.id)
    if after is not None:
        stmt = stmt.where(Customer.id > after)
    if query:
        like = f"%{query.lower()}%"
        ids = select(ContactIdentity.customer_id).where(ContactIdentity.value.like(like))
        stmt = stmt.where(Customer.name.ilike(like) | Customer.id.in_(ids))
    return list(session().scalars(stmt.limit(limit)))


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
    s = session()
    normalized = normalize_identity(kind, value)
    owner = s.scalar(select(ContactIdentity.customer_id).where(
        ContactIdentity.kind == kind, ContactIdentity.value == normalized))
    if owner == customer.id:
        raise Conflict(_("The customer already has %(value)s.", value=normalized),
                       field="value")
    if owner is not None:
        raise Conflict(
            _("%(value)s belongs to customer %(id)s; merge the two customers instead.",
              value=normalized, id=owner),
            field="value", details={"customer_id": owner},
        )
    identity = ContactIdentity(customer_id=customer.id, kind=kind, value=normalized,
                               display=value.strip()[:320])
    s.add(identity)
    return identity


def remove_identity(identity_id: int, *, actor: Actor) -> None:
    with transaction() as s:
        identity = s.get(ContactIdentity, identity_id)
        if identity is None:
            raise NotFound(_("Identity %(id)s does not exist.", id=identity_id))
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
