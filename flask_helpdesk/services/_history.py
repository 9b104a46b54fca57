"""History events for many tickets at once (admin changes to tags and groups).

:func:`~._uow.record` needs a loaded :class:`~flask_helpdesk.models.Ticket`;
renaming a tag used on ten thousand tickets should not load them. Here the
events are built from ticket ids and group ids read with one query, added to
the session in one go (SQLAlchemy inserts them in batches) and dispatched
after the commit like every other service's events.
"""

from __future__ import annotations

import typing as t

from ..models import Agent
from ..models import TicketEvent
from ..models import utcnow
from ._uow import _EVENTS
from ._uow import Actor
from ._uow import session

#: ``(ticket_id, group_id, data)`` of one event.
Change = tuple[int, "int | None", dict[str, t.Any]]


def record_many(actor: Actor, type: str, changes: t.Iterable[Change]) -> int:
    """Append one ``type`` event per change to the current transaction.

    :param actor: Who made the change.
    :param type: The event kind, e.g. ``ticket.tags_changed``.
    :param changes: ``(ticket_id, group_id, data)`` per ticket; ``group_id``
        is where the event is broadcast (the ticket's group after the change).
    :return: How many events were recorded.
    """
    now = utcnow()
    kind, agent_id = (("agent", actor.id) if isinstance(actor, Agent)
                      else (actor.kind, None))
    rows = [(TicketEvent(ticket_id=ticket_id, type=type, data=data, at=now, actor_kind=kind,
                         actor_agent_id=agent_id, actor_name=actor.name), group_id)
            for ticket_id, group_id, data in changes]
    s = session()
    s.add_all([row for row, _group in rows])
    s.info.setdefault(_EVENTS, []).extend(rows)
    return len(rows)
