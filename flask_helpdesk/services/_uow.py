"""The unit of work every service runs in: one transaction, events after commit."""

from __future__ import annotations

import contextlib
import dataclasses
import typing as t

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
    if depth == 0:
        state = get_state()
        begin_immediate(s, state.db.engines[state.config.database_bind_key])
    s.info[_DEPTH] = depth + 1
    try:
        yield s
        if depth == 0:
            flush_index(s)
            s.flush()
            pending: list[tuple[TicketEvent, int | None]] = s.info.pop(_EVENTS, [])
            events = [Event.from_row(row, group_id) for row, group_id in pending]
            s.commit()
    except BaseException:
        if depth == 0:
            s.info.pop(_EVENTS, None)
            s.rollback()
        raise
    finally:
        s.info[_DEPTH] = depth
    if events:
        dispatch(get_state(), events)


def record(
    ticket: Ticket, type: str, actor: Actor | Customer, data: dict[str, t.Any] | None = None,
) -> TicketEvent:
    """Append a history event for ``ticket`` to the current transaction."""
    row = TicketEvent(ticket_id=ticket.id, type=type, data=data or {}, at=utcnow())
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
