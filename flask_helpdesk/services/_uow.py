"""The unit of work every service runs in: one transaction, events after commit."""

from __future__ import annotations

import contextlib
import dataclasses
import typing as t

from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select

from ..events import Event
from ..events import dispatch
from ..extension import get_state
from ..models import Agent
from ..models import Customer
from ..models import Ticket
from ..models import TicketEvent
from ..models import utcnow
from ..sqlite import begin_immediate
from .search import flush_index

if t.TYPE_CHECKING:
    from sqlalchemy.orm import Session

_EVENTS = "helpdesk_events"
_DEPTH = "helpdesk_depth"
_IMPORTED = "helpdesk_imported"


@dataclasses.dataclass(frozen=True)
class SystemActor:
    """A non-human actor: the system itself, a rule, an integration.

    :ivar name: Shown in the history ("Rule: pending reminder").
    :ivar kind: ``system`` or ``rule``.
    """

    name: str
    kind: str = "system"


#: The actor of changes the helpdesk makes on its own.
SYSTEM = SystemActor("system")

#: Who may call a service.
Actor = Agent | SystemActor


def session() -> Session:
    """The session services use: the host's ``db.session``."""
    return t.cast("Session", get_state().db.session)


@contextlib.contextmanager
def transaction() -> t.Iterator[Session]:
    """Run the body in one transaction, then dispatch its events.

    Nested uses join the outer transaction. The outermost commits; on an
    exception it rolls back and dispatches nothing.
    """
    s = session()
    depth = s.info.get(_DEPTH, 0)
    events: list[Event] = []
    writer = None
    if depth == 0:
        state = get_state()
        writer = begin_immediate(s, state.db.engines[state.config.database_bind_key])
    s.info[_DEPTH] = depth + 1
    try:
        yield s
        if depth == 0:
            flush_index(s)
            s.flush()
            pending: list[tuple[TicketEvent, int | None] | Event] = s.info.pop(_EVENTS, [])
            events = [item if isinstance(item, Event) else Event.from_row(*item)
                      for item in pending]
            s.commit()
    except BaseException:
        if depth == 0:
            s.info.pop(_EVENTS, None)
            s.rollback()
        raise
    finally:
        s.info[_DEPTH] = depth
        if writer is not None:
            writer.release()
    if events:
        dispatch(get_state(), events)


@contextlib.contextmanager
def imported_history() -> t.Iterator[None]:
    """Mark the events recorded in the body as imported history (``imported: true``).

    Ingest records the events of an imported message
    (:attr:`InboundMessage.imported <flask_helpdesk.InboundMessage.imported>`)
    this way; a channel wraps what it does to an imported message's ticket
    in the same transaction (tags, notes) in it too. Event rules do not run
    on such events (see :ref:`imported-messages`).
    """
    s = session()
    s.info[_IMPORTED] = s.info.get(_IMPORTED, 0) + 1
    try:
        yield
    finally:
        s.info[_IMPORTED] -= 1


def _imported(data: dict[str, t.Any]) -> dict[str, t.Any]:
    return {**data, "imported": True} if session().info.get(_IMPORTED) else data


def record(
    ticket: Ticket, type: str, actor: Actor | Customer, data: dict[str, t.Any] | None = None,
) -> TicketEvent:
    """Append a history event for ``ticket`` to the current transaction."""
    row = TicketEvent(ticket_id=ticket.id, type=type, data=_imported(data or {}), at=utcnow())
    if isinstance(actor, Agent):
        row.actor_kind, row.actor_agent_id, row.actor_name = "agent", actor.id, actor.name
    elif isinstance(actor, Customer):
        row.actor_kind, row.actor_customer_id, row.actor_name = "customer", actor.id, actor.name
    else:
        row.actor_kind, row.actor_name = actor.kind, actor.name
    s = session()
    if ticket.id is None:
        s.flush()
        row.ticket_id = ticket.id
    s.add(row)
    s.info.setdefault(_EVENTS, []).append((row, ticket.group_id))
    return row


def record_rows(rows: list[dict[str, t.Any]], group_ids: list[int | None]) -> list[Event]:
    """Insert many history events at once (set-based ingest) and queue them for dispatch.

    :param rows: Column values of :class:`TicketEvent` rows, in the order they happened.
    :param group_ids: The group of each row's ticket when it happened.
    """
    s = session()
    s.flush()  # events recorded one by one before these keep their order
    for row in rows:
        row["data"] = _imported(row["data"])
    ids = insert_ids(TicketEvent, rows)
    events = [Event(id=i, type=row["type"], ticket_id=row["ticket_id"], group_id=group_id,
                    actor_kind=row["actor_kind"], actor_agent_id=row.get("actor_agent_id"),
                    actor_customer_id=row.get("actor_customer_id"),
                    actor_name=row.get("actor_name", ""), data=dict(row["data"]), at=row["at"])
              for i, row, group_id in zip(ids, rows, group_ids, strict=True)]
    s.info.setdefault(_EVENTS, []).extend(events)
    return events


def insert_ids(model: type[t.Any], rows: list[dict[str, t.Any]]) -> list[int]:
    """Insert ``rows`` of ``model`` in one statement (or a few) and return their ids, in order.

    PostgreSQL returns them (``RETURNING`` sorted by parameter order). SQLite
    cannot batch an ordered ``RETURNING``, so the ids are given: the writer
    holds the database lock from ``BEGIN IMMEDIATE`` on, and should another
    writer slip in anyway (tuning off), the insert fails on the key instead of
    mixing rows up.
    """
    if not rows:
        return []
    s = session()
    table = model.__table__
    if s.get_bind(mapper=model.__mapper__).dialect.name == "sqlite":
        start = s.scalar(select(func.max(table.c.id))) or 0
        for offset, row in enumerate(rows, start + 1):
            row["id"] = offset
        s.execute(insert(table), rows)
        return [row["id"] for row in rows]
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(s.execute(stmt, rows).scalars())
