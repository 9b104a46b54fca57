"""Presence: who is viewing a ticket and who is writing on it, with permissions.

The Socket.IO namespace calls these for every browser tab; the store
(:mod:`flask_helpdesk.presence`) keeps the entries. An agent may only be
present on a ticket they may see; everything else about the entry (who, when)
comes from the server, never from the browser.
"""

from __future__ import annotations

import time
import typing as t

from sqlalchemy import select

from ..errors import ValidationError
from ..extension import get_state
from ..i18n import _
from ..models import Agent
from ..models import Ticket
from ..presence import ACTIVITIES
from ..presence import Presence
from ..presence import summarize
from ._uow import session
from .permissions import visible_tickets
from .tickets import require_visible

#: Most tickets one presence query may ask about (an inbox page holds fewer).
QUERY_MAX = 200


def enter(ticket_id: int, *, actor: Agent, sid: str, activity: str = "viewing"
          ) -> tuple[Ticket, bool]:
    """Record that ``actor``'s tab ``sid`` is on the ticket, doing ``activity``.

    :return: The ticket and whether what others see changed.
    :raises PermissionDenied: The agent may not see the ticket.
    :raises ValidationError: ``activity`` is unknown.
    """
    if activity not in ACTIVITIES:
        raise ValidationError(_("Unknown activity %(activity)s.", activity=activity),
                              field="activity")
    ticket = require_visible(ticket_id, actor=actor)
    ttl = get_state().config.presence_ttl
    changed = get_state().presence.put(Presence(
        ticket_id=ticket.id, sid=sid, agent_id=actor.id, name=actor.name, activity=activity,
        expires=time.time() + ttl))
    return ticket, changed


def leave(ticket_id: int, *, sid: str) -> bool:
    """Forget tab ``sid`` on the ticket; ``True`` when it was there."""
    return get_state().presence.remove(ticket_id, sid)


def on_ticket(ticket_id: int) -> list[dict[str, t.Any]]:
    """Who is on the ticket, one line per agent, writers first."""
    return summarize(get_state().presence.on_ticket(ticket_id))


def on_tickets(ticket_ids: t.Sequence[int], *, actor: Agent) -> dict[int, list[dict[str, t.Any]]]:
    """Presence on several tickets the actor may see (for marking inbox rows).

    :raises ValidationError: Too many ids, or ids that are not numbers.
    """
    if len(ticket_ids) > QUERY_MAX or not all(
            isinstance(x, int) and not isinstance(x, bool) for x in ticket_ids):
        raise ValidationError(_("Ask about at most %(max)d ticket numbers.", max=QUERY_MAX),
                              field="ticket_ids")
    visible = set(session().scalars(select(Ticket.id).where(
        Ticket.id.in_(ticket_ids), visible_tickets(actor))))
    found = get_state().presence.on_tickets(sorted(visible))
    return {ticket_id: summarize(entries) for ticket_id, entries in found.items()}


def expire() -> set[int]:
    """Drop the entries whose tabs stopped beating; the tickets that changed."""
    return get_state().presence.expire()


def group_of(ticket_id: int) -> int | None:
    """The group of a ticket (for the inbox room its presence goes to)."""
    return session().scalar(select(Ticket.group_id).where(Ticket.id == ticket_id))
