from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from flask_helpdesk.services import TicketFilter
from flask_helpdesk.services import tickets
from flask_helpdesk.services import views


def found(actor: t.Any, q: str, **filters: t.Any) -> set[int]:
    """Ids of every ticket ``actor`` finds with the text ``q`` (all pages)."""
    ids: set[int] = set()
    cursor = None
    while True:
        page = views.list_tickets(actor=actor, filters=TicketFilter(q=q, **filters),
                                  cursor=cursor, limit=100)
        ids.update(ticket.id for ticket in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return ids


@pytest.fixture
def new_ticket(team: t.Any) -> t.Callable[..., t.Any]:
    """``new_ticket(subject, text, group=team.support)`` opened by the admin."""

    def make(subject: str, text: str = "Hello", *, group: t.Any = None, **kw: t.Any) -> t.Any:
        return tickets.create_ticket(
            actor=team.admin, customer_id=kw.pop("customer_id", team.customer.id),
            subject=subject, text=text, group_id=(group or team.support).id, **kw)

    return make


@pytest.fixture
def dialect(app: Flask) -> str:
    from flask_helpdesk.extension import get_state

    return str(get_state(app).db.engine.dialect.name)
