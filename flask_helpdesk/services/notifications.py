"""Agent notifications: the rules' ``notify`` action telling agents about a ticket.

A ``notify`` action creates one :class:`~flask_helpdesk.models.AgentNotification`
per recipient in the rule's transaction (:func:`plan` picks them, :func:`rows`
shapes the rows) and records a ``rule.notified`` event naming them. After the
commit, :func:`announce` (called by the event dispatch) tells each recipient's
open tabs through the Socket.IO room ``agent:<id>`` and sends the
``notify_agents_email`` job, whose body is :func:`send_emails`.

Each agent reads only their own notifications: :func:`list_notifications`,
:func:`unread_count`, :func:`mark_read` and :func:`mark_all_read`.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import joinedload

from ..errors import DeliveryError
from ..errors import NotFound
from ..errors import PermissionDenied
from ..extension import get_state
from ..i18n import _
from ..models import Agent
from ..models import AgentNotification
from ..models import Ticket
from ..models import agent_groups
from ..models import utcnow
from ._uow import session
from ._uow import transaction
from .permissions import can_see

if t.TYPE_CHECKING:
    from ..events import Event
    from ..state import HelpdeskState
    from ._uow import Actor

log = logging.getLogger("flask_helpdesk.notifications")

#: Who a ``notify`` action tells: the assignee (the ticket's group when
#: unassigned), the ticket's group, or chosen agents.
TARGETS = ("assignee", "group", "agents")

#: Most notifications one ``notify_agents_email`` job mails.
EMAIL_BATCH = 100

#: Most notifications :func:`list_notifications` returns.
LIST_LIMIT = 200


class TicketFacts(t.NamedTuple):
    """What choosing the recipients needs of a ticket."""

    id: int
    group_id: int | None
    assignee_id: int | None


# ------------------------------------------------------------ creating them

def plan(action: t.Mapping[str, t.Any], tickets: t.Sequence[TicketFacts]
         ) -> dict[int, list[Agent]]:
    """The recipients of ``action`` on each ticket, by ticket id, in agent id order.

    Two queries for any number of tickets. Only active agents who may see the
    ticket (:func:`~flask_helpdesk.services.permissions.can_see`) are chosen:
    a chosen agent outside the ticket's group is left out.
    """
    to = action.get("to", "assignee")
    if to == "agents":
        chosen = _active(Agent.id.in_(list(action.get("agent_ids") or [])))
        found = {tk.id: list(chosen.values()) for tk in tickets}
    else:
        groups = sorted({tk.group_id for tk in tickets if tk.group_id is not None})
        members = _members(groups)
        assignees = _active(Agent.id.in_(sorted(
            {tk.assignee_id for tk in tickets if tk.assignee_id is not None}))) if (
            to == "assignee") else {}
        found = {}
        for tk in tickets:
            assignee = assignees.get(tk.assignee_id) if tk.assignee_id is not None else None
            if assignee is not None:
                found[tk.id] = [assignee]
            else:
                found[tk.id] = list(members.get(tk.group_id, [])) if tk.group_id else []
    return {tk.id: sorted((a for a in found[tk.id] if can_see(
        a, group_id=tk.group_id, assignee_id=tk.assignee_id)), key=lambda a: a.id)
        for tk in tickets}


def _active(where: t.Any) -> dict[int | None, Agent]:
    return {a.id: a for a in session().scalars(
        select(Agent).where(where, Agent.active.is_(True)))}


def _members(group_ids: list[int]) -> dict[int | None, list[Agent]]:
    if not group_ids:
        return {}
    out: dict[int | None, list[Agent]] = {}
    pairs = session().execute(select(agent_groups.c.group_id, Agent).join(
        Agent, Agent.id == agent_groups.c.agent_id).where(
        agent_groups.c.group_id.in_(group_ids), Agent.active.is_(True)))
    for group_id, agent in pairs:
        out.setdefault(group_id, []).append(agent)
    return out


def rows(recipients: t.Sequence[Agent], *, ticket_id: int, message: str, actor_name: str,
         email: bool, now: dt.datetime) -> list[dict[str, t.Any]]:
    """The :class:`AgentNotification` rows of one ticket's recipients, ready to insert.

    An agent without an email address gets the notice in the workspace only:
    ``email_state`` is ``skipped`` and the reason is kept.
    """
    out = []
    for agent in recipients:
        state, error = (None, None) if not email else (
            ("queued", None) if agent.email else ("skipped", _no_address()))
        out.append({"agent_id": agent.id, "ticket_id": ticket_id, "actor_name": actor_name,
                    "message": message, "created_at": now, "read_at": None,
                    "email_state": state, "emailed_at": None, "email_error": error})
    return out


def _no_address() -> str:
    return str(_("The agent has no email address."))


def event_data(action: t.Mapping[str, t.Any], message: str, agent_ids: t.Sequence[int],
               notification_ids: t.Sequence[int]) -> dict[str, t.Any]:
    """The ``data`` of a ``rule.notified`` event."""
    return {"message": message, "to": action.get("to", "assignee"),
            "email": bool(action.get("email", True)), "recipients": list(agent_ids),
            "notification_ids": list(notification_ids)}


# ------------------------------------------------------------ after commit

def announce(state: HelpdeskState, events: t.Sequence[Event]) -> None:
    """Tell the recipients of committed ``rule.notified`` events; send the email job.

    One unread count query for all recipients, one Socket.IO message per
    recipient (``notification`` ``{"unread", "count", "ticket_id",
    "message"}`` to ``agent:<id>``), one job per :data:`EMAIL_BATCH`
    notifications to mail. Called by the event dispatch; logs, never raises.
    """
    notified = [e for e in events if e.type == "rule.notified" and e.data.get("recipients")]
    if not notified:
        return
    try:
        _emit(state, notified)
    except Exception:
        log.exception("could not announce %d notifications", len(notified))
    mail = [nid for e in notified if e.data.get("email") for nid in e.data["notification_ids"]]
    for start in range(0, len(mail), EMAIL_BATCH):
        try:
            state.jobs.send("notify_agents_email", mail[start:start + EMAIL_BATCH])
        except Exception:
            log.exception("could not send the notification email job")


def _emit(state: HelpdeskState, notified: list[Event]) -> None:
    if not state.emitter.enabled:
        return
    latest: dict[int, tuple[int, Event]] = {}
    for event in notified:
        for agent_id in event.data["recipients"]:
            count, _last = latest.get(agent_id, (0, event))
            latest[agent_id] = (count + 1, event)
    unread = dict(session().execute(
        select(AgentNotification.agent_id, func.count()).where(
            AgentNotification.agent_id.in_(sorted(latest)),
            AgentNotification.read_at.is_(None)).group_by(AgentNotification.agent_id)).all())
    for agent_id, (count, event) in sorted(latest.items()):
        state.emitter.emit_to_agent(agent_id, "notification", {
            "unread": unread.get(agent_id, 0), "count": count, "ticket_id": event.ticket_id,
            "message": event.data["message"]})


def send_emails(notification_ids: t.Sequence[int], *,
                link: t.Callable[[int], str | None] | None = None) -> dict[int, str]:
    """Mail each queued notification through the ``helpdesk_notify_agent_email`` hook.

    Body of the ``notify_agents_email`` job. A notification already mailed
    (or skipped, or failed) is left alone, so a retry sends only the rest. An
    agent without an address, or no plugin that mails agents, is recorded
    (``skipped``, the reason kept), not an error.

    :param link: Gives a ticket's absolute address, or ``None``.
    :return: The new email state of each notification handled.
    :raises DeliveryError: A temporary failure of one or more (after the
        others were handled): the job retries them.
    """
    state = get_state()
    done: dict[int, str] = {}
    retry: list[str] = []
    for nid in notification_ids:
        found = _pending(nid, link)
        session().commit()  # no transaction (nor SQLite read lock) while mail goes out
        if found is None:
            continue
        agent, notice = found
        if not agent.email or not agent.active:
            done[nid] = _record(nid, "skipped", _no_address())
            continue
        try:
            sent = state.pm.hook.helpdesk_notify_agent_email(
                helpdesk=state, agent=agent, notification=notice)
        except DeliveryError as exc:
            done[nid] = _record(nid, "failed" if exc.permanent else "queued", str(exc.message))
            if not exc.permanent:
                retry.append(str(exc.message))
            continue
        except Exception as exc:
            log.exception("emailing notification %s raised", nid)
            done[nid] = _record(nid, "queued", f"{type(exc).__name__}: {exc}")
            retry.append(str(exc))
            continue
        if sent:
            done[nid] = _record(nid, "sent", None)
        else:
            done[nid] = _record(nid, "skipped", str(_("No installed plugin sends email to"
                                                      " agents.")))
    if retry:
        raise DeliveryError(_("Notification emails to retry: %(count)d (%(error)s).",
                              count=len(retry), error=retry[0]))
    return done


def _pending(nid: int, link: t.Callable[[int], str | None] | None
             ) -> tuple[Agent, t.Any] | None:
    from ..channels import AgentNotice

    row = session().get(AgentNotification, nid)
    if row is None or row.email_state != "queued":
        return None
    agent = session().get_one(Agent, row.agent_id)
    subject = session().scalar(select(Ticket.subject).where(Ticket.id == row.ticket_id)) or ""
    return agent, AgentNotice(
        id=row.id, ticket_id=row.ticket_id, ticket_subject=subject, message=row.message,
        actor_name=row.actor_name, created_at=row.created_at,
        ticket_url=link(row.ticket_id) if link else None)


def _record(nid: int, outcome: str, error: str | None) -> str:
    session().rollback()
    with transaction() as s:
        row = s.get(AgentNotification, nid)
        if row is not None:
            row.email_state, row.email_error = outcome, error[:2000] if error else None
            if outcome == "sent":
                row.emailed_at = utcnow()
    return outcome


# ------------------------------------------------------------ reading them

def _agent(actor: Actor) -> Agent:
    if not isinstance(actor, Agent):
        raise PermissionDenied(_("Only agents have notifications."))
    return actor


def list_notifications(*, actor: Actor, limit: int = 50) -> list[AgentNotification]:
    """The agent's own notifications, with their tickets: unread first, then newest first.

    :raises PermissionDenied: ``actor`` is not an agent.
    """
    agent = _agent(actor)
    return list(session().scalars(
        select(AgentNotification).options(joinedload(AgentNotification.ticket)).where(
            AgentNotification.agent_id == agent.id).order_by(
            AgentNotification.read_at.is_not(None), AgentNotification.created_at.desc(),
            AgentNotification.id.desc()).limit(max(1, min(limit, LIST_LIMIT)))))


def unread_count(*, actor: Actor) -> int:
    """How many of the agent's notifications are unread (one COUNT on an index)."""
    if not isinstance(actor, Agent):
        return 0
    return session().scalar(select(func.count()).select_from(AgentNotification).where(
        AgentNotification.agent_id == actor.id, AgentNotification.read_at.is_(None))) or 0


def mark_read(notification_id: int, *, actor: Actor) -> AgentNotification:
    """Mark one of the agent's notifications read (again: nothing changes).

    :raises NotFound: No such notification, or another agent's (whose
        existence is not revealed).
    :raises PermissionDenied: ``actor`` is not an agent.
    """
    agent = _agent(actor)
    with transaction() as s:
        row = s.get(AgentNotification, notification_id)
        if row is None or row.agent_id != agent.id:
            raise NotFound(_("Notification %(id)s does not exist.", id=notification_id))
        if row.read_at is None:
            row.read_at = utcnow()
    return row


def mark_all_read(*, actor: Actor) -> int:
    """Mark every unread notification of the agent read; return how many."""
    agent = _agent(actor)
    with transaction() as s:
        result = s.execute(update(AgentNotification).where(
            AgentNotification.agent_id == agent.id, AgentNotification.read_at.is_(None))
            .values(read_at=utcnow()).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
