from __future__ import annotations

import contextlib
import datetime as dt

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from flask_helpdesk.extension import get_state
from flask_helpdesk.models import SavedView
from flask_helpdesk.models import Ticket
from flask_helpdesk.services import TicketFilter
from flask_helpdesk.services import search
from flask_helpdesk.services import views
from flask_helpdesk.services._uow import session
from tests.search.conftest import found

BASE = dt.datetime(2026, 1, 1)


@pytest.fixture
def twelve(team, new_ticket):
    return [new_ticket(f"Printer ticket {i}", group=team.support if i % 3 else team.billing)
            for i in range(12)]


def _expected(rows: dict[int, dict], sort: str) -> list[int]:
    keys = views.SORTS[sort]

    def value(row: dict, attr: str):
        if attr == "last_customer_message_at":
            return row[attr] or row["created_at"]
        return row[attr]

    ordered = sorted(rows, reverse=keys[-1][1])  # the id tie-breaker
    for attr, desc in reversed(keys):
        ordered.sort(key=lambda i, a=attr: value(rows[i], a), reverse=desc)
    return ordered


def _walk(actor, sort: str, limit: int, f: TicketFilter | None = None) -> list[int]:
    ids, cursor = [], None
    for _ in range(100):
        page = views.list_tickets(actor=actor, filters=f, sort=sort, cursor=cursor, limit=limit)
        ids += [ticket.id for ticket in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return ids
    raise AssertionError("pagination does not end")


row_values = st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 2),
                       st.one_of(st.none(), st.integers(0, 2)))


@settings(max_examples=6, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(row_values, min_size=12, max_size=12))
def test_keyset_pages_return_every_ticket_once_in_order(team, twelve, values) -> None:
    rows = {}
    for ticket, (priority, created, updated, last) in zip(twelve, values, strict=True):
        rows[ticket.id] = {
            "priority": priority, "created_at": BASE + dt.timedelta(days=created),
            "updated_at": BASE + dt.timedelta(days=updated),
            "last_customer_message_at": None if last is None else BASE + dt.timedelta(days=last),
        }
        session().execute(sa.update(Ticket).where(Ticket.id == ticket.id).values(**rows[ticket.id]))
    session().commit()
    visible = {t.id for t in twelve if t.group_id == team.support.id}
    for sort in views.SORTS:
        expected = _expected(rows, sort)
        for limit in (1, 5):
            assert _walk(team.admin, sort, limit) == expected, (sort, limit)
        assert _walk(team.anna, sort, 2) == [i for i in expected if i in visible], sort
        assert _walk(team.admin, sort, 4, TicketFilter(q="printer")) == expected, sort


@contextlib.contextmanager
def statements():
    engine = get_state().db.engine
    seen: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("q", [None, "printer", "#1"])
@pytest.mark.parametrize("sort", ["priority", "-updated", "last_customer_message"])
def test_statement_count_does_not_grow_with_the_page(team, new_ticket, q, sort) -> None:
    for i in range(30):
        new_ticket(f"Printer {i}", tags=[f"tag{i % 4}", "printer"],
                   assignee_id=team.anna.id if i % 2 else team.manager.id)
    counts = []
    for limit in (5, 25):
        session().remove()
        with statements() as seen:
            page = views.list_tickets(actor=team.anna, filters=TicketFilter(q=q), sort=sort,
                                      limit=limit)
            for ticket in page.items:  # what a serializer reads
                _ = (ticket.customer.identities, ticket.group, ticket.assignee, ticket.tags)
                _ = ticket.assignee and ticket.assignee.groups
        assert len(page.items) == limit if q != "#1" else len(page.items) >= 1
        counts.append(len(seen))
    assert counts[0] == counts[1] <= 7


def test_common_words_take_the_sort_index_path(team, twelve) -> None:
    rare = session().scalars(sa.select(Ticket.id).where(search.narrowed("printer", cap=100))
                             .order_by(Ticket.id)).all()
    common = session().scalars(sa.select(Ticket.id).where(search.narrowed("printer", cap=1))
                               .order_by(Ticket.id)).all()
    assert rare == common == sorted(t.id for t in twelve)
    number = twelve[0].id
    assert number in session().scalars(sa.select(Ticket.id).where(
        search.narrowed(f"#{number}", cap=1))).all()


def test_view_counts_in_one_statement(team, twelve) -> None:
    shared = [
        SavedView(name="Open", filters={"status": ["open"]}, sort="-updated"),
        SavedView(name="Billing", filters={"group": [team.billing.id]}, sort="-updated"),
        SavedView(name="Printer 3", filters={"q": "ticket 3"}, sort="-updated"),
        SavedView(name="Unassigned", filters={"assignee": ["none"]}, sort="-updated"),
    ]
    session().add_all(shared)
    session().commit()
    _ = [view.filters for view in shared], team.anna.group_ids  # loaded, as on a page
    with statements() as seen:
        counts = views.view_counts(actor=team.anna, views=shared)
    assert len(seen) == 1
    anna_sees = {t.id for t in twelve if t.group_id == team.support.id}
    assert counts == {shared[0].id: len(anna_sees), shared[1].id: 0,
                      shared[2].id: len(found(team.anna, "ticket 3")),
                      shared[3].id: len(anna_sees)}
    assert views.view_counts(actor=team.admin, views=shared)[shared[1].id] == 4
