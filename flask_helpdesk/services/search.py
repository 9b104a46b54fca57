"""Keeping the search documents up to date, in the same transaction as the change.

Services call :func:`touch` for every ticket whose subject, messages or
customer identities changed; the unit of work calls :func:`flush_index` just
before it commits, which rebuilds those tickets' documents with set-based
queries (no query per ticket).
"""

from __future__ import annotations

import typing as t

from sqlalchemy import delete
from sqlalchemy import select

from ..models import ContactIdentity
from ..models import Message
from ..models import SearchDocument
from ..models import Ticket
from ..models import utcnow

if t.TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

_TOUCHED = "helpdesk_search_touched"


def touch(ticket_id: int) -> None:
    """Mark a ticket's search document stale in the current transaction."""
    from ._uow import session

    session().info.setdefault(_TOUCHED, set()).add(ticket_id)


def flush_index(s: Session) -> None:
    """Rebuild the documents of every touched ticket (called before commit)."""
    touched: set[int] = s.info.pop(_TOUCHED, set())
    if not touched:
        return
    s.flush()
    ids = sorted(touched)
    for start in range(0, len(ids), 500):
        _rebuild(s, ids[start:start + 500])


def _rebuild(s: Session, ids: list[int]) -> None:
    parts: dict[int, list[str]] = {i: [] for i in ids}
    customers: dict[int, list[int]] = {}
    for ticket_id, subject, customer_id in s.execute(
        select(Ticket.id, Ticket.subject, Ticket.customer_id).where(Ticket.id.in_(ids))
    ):
        parts[ticket_id].append(subject)
        customers.setdefault(customer_id, []).append(ticket_id)
    for ticket_id, text in s.execute(
        select(Message.ticket_id, Message.text).where(Message.ticket_id.in_(ids))
        .order_by(Message.ticket_id, Message.id)
    ):
        parts[ticket_id].append(text)
    if customers:
        for customer_id, value in s.execute(
            select(ContactIdentity.customer_id, ContactIdentity.value)
            .where(ContactIdentity.customer_id.in_(list(customers)))
        ):
            for ticket_id in customers[customer_id]:
                parts[ticket_id].append(value)
    s.execute(delete(SearchDocument).where(SearchDocument.ticket_id.in_(ids)))
    now = utcnow()
    s.add_all(
        SearchDocument(ticket_id=i, document="\n".join(p for p in parts[i] if p), updated_at=now)
        for i in ids if parts[i]
    )


def matching(q: str) -> ColumnElement[bool]:
    """The condition on ``Ticket.id`` for tickets matching the text ``q``.

    Case- and Unicode-insensitive substring match over the search document.
    """
    from sqlalchemy import func

    needle = q.strip().lower()
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return Ticket.id.in_(
        select(SearchDocument.ticket_id).where(
            func.lower(SearchDocument.document).like(pattern, escape="\\"))
    )
