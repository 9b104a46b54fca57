"""Who may see and change what. Pages, the API and sockets all ask here."""

from __future__ import annotations

import typing as t

from sqlalchemy import false
from sqlalchemy import or_
from sqlalchemy import true

from ..errors import PermissionDenied
from ..i18n import _
from ..models import Agent
from ..models import Ticket

if t.TYPE_CHECKING:
    from sqlalchemy import ColumnElement

    from ._uow import Actor


def can_see_ticket(actor: Actor, ticket: Ticket) -> bool:
    """Agents see their groups' tickets, tickets without a group and their own.

    Managers, admins and system actors see everything.
    """
    return can_see(actor, group_id=ticket.group_id, assignee_id=ticket.assignee_id)


def can_see(actor: Actor, *, group_id: int | None, assignee_id: int | None) -> bool:
    """:func:`can_see_ticket` for a ticket known by its group and assignee only
    (set-based code that read those columns, not the ticket)."""
    if not isinstance(actor, Agent):
        return True
    if not actor.active:
        return False
    if actor.sees_all:
        return True
    return group_id is None or group_id in actor.group_ids or assignee_id == actor.id


def visible_tickets(actor: Actor) -> ColumnElement[bool]:
    """The SQL condition matching the tickets ``actor`` may see."""
    if not isinstance(actor, Agent) or actor.sees_all:
        return true() if not isinstance(actor, Agent) or actor.active else false()
    if not actor.active:
        return false()
    clauses = [Ticket.group_id.is_(None), Ticket.assignee_id == actor.id]
    if actor.group_ids:
        clauses.append(Ticket.group_id.in_(sorted(actor.group_ids)))
    return or_(*clauses)


def require_role(actor: Actor, role: str) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` has ``role`` or more."""
    if isinstance(actor, Agent) and (not actor.active or not actor.has_role(role)):
        raise PermissionDenied(_("Only a %(role)s may do this.", role=_role_label(role)))


def _role_label(role: str) -> str:
    labels = {"agent": _("agent"), "manager": _("manager"), "admin": _("administrator")}
    return str(labels[role])
