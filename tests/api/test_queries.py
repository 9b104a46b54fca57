"""A list request costs the same number of SQL statements whatever its page size."""

from __future__ import annotations

import contextlib
import typing as t

import sqlalchemy as sa

from flask_helpdesk.extension import get_state
from flask_helpdesk.services import customers
from flask_helpdesk.services import messages
from flask_helpdesk.services import tickets


@contextlib.contextmanager
def count_statements(app: t.Any) -> t.Iterator[list[str]]:
    engine = get_state(app).db.engines[None]
    seen: list[str] = []

    def listener(*args: t.Any) -> None:
        seen.append(args[2])

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)


def _fill(team: t.Any) -> int:
    """30 tickets with a tag and an assignee each, 30 notes on the first, 30 customers."""
    first = None
    for i in range(30):
        ticket = tickets.create_ticket(
            actor=team.manager, customer_id=team.customer.id, subject=f"T{i}", text="x",
            group_id=team.support.id, assignee_id=team.anna.id, tags=[f"t{i}"])
        first = first or ticket.id
        messages.add_note(first, actor=team.anna, text=f"note {i}")
        customers.create_customer(actor=team.anna, name=f"C{i}",
                                  identities=[("email", f"c{i}@example.org")])
    assert first is not None
    return first


PATHS = ("/tickets", "/tickets/{id}/messages", "/tickets/{id}/events", "/customers",
         "/customers/{customer}/tickets", "/tags")


def test_statements_do_not_grow_with_page_size(team, api_as, app) -> None:
    ticket_id = _fill(team)
    api = api_as(team.manager)
    api.get("/tags")  # the first request of a process checks the tables' revision, once
    for path in PATHS:
        url = path.format(id=ticket_id, customer=team.customer.id)
        counts = []
        for size in (5, 25):
            with count_statements(app) as seen:
                response = api.get(url, query_string={"limit": size})
            assert response.status_code == 200, response.json
            assert len(response.json["items"]) == size
            counts.append(len(seen))
        assert counts[0] == counts[1], (path, counts)
