"""Agents, groups (departments and support lines) and API tokens.

Creating and changing groups and agents is for admins. A change that would
leave the helpdesk without an active admin (demoting or deactivating the last
one) is refused, so nobody can lock everyone out of the admin pages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import typing as t

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from ..errors import Conflict
from ..errors import NotFound
from ..errors import ValidationError
from ..i18n import _
from ..models import Agent
from ..models import ApiToken
from ..models import ChannelAccount
from ..models import Group
from ..models import Ticket
from ..models import utcnow
from ..models.agent import RESOLVED_REPLIES
from ..models.agent import ROLES
from ..models.agent import agent_groups
from ..models.ticket import UNSOLVED
from . import _validate as v
from ._history import record_many
from ._uow import Actor
from ._uow import session
from ._uow import transaction
from .permissions import require_role

#: Shown before the secret part of every API token, to recognise leaks.
TOKEN_PREFIX = "hdk_"


# ------------------------------------------------------------------- groups


def list_groups() -> list[Group]:
    """Every group, by name."""
    return list(session().scalars(select(Group).order_by(Group.name)))


def get_group(group_id: int) -> Group:
    group = session().get(Group, group_id)
    if group is None:
        raise NotFound(_("Group %(id)s does not exist.", id=group_id))
    return group


def get_group_by_name(name: str) -> Group | None:
    # Exact match too: SQLite's lower() leaves non-ASCII letters alone.
    return session().scalar(select(Group).where(
        or_(Group.name == name, func.lower(Group.name) == name.lower())).limit(1))


def create_group(*, actor: Actor, name: str, description: str = "",
                 calendar_id: int | None = None, resolved_reply: str = "reopen") -> Group:
    """Create a group. Only admins may.

    :param calendar_id: The group's business hours; ``None`` uses the default calendar.
    :param resolved_reply: What a customer's reply to a resolved ticket of the
        group does: ``reopen`` it, or open a ``follow_up`` ticket linked to it
        (as a reply to a closed ticket always does).
    """
    from .calendars import referenced_calendar

    require_role(actor, "admin")
    name = v.text(name, "name", max_length=100)
    with transaction() as s:
        if get_group_by_name(name) is not None:
            raise Conflict(_("A group named %(name)s already exists.", name=name), field="name")
        group = Group(name=name, description=v.text(description, "description",
                                                    max_length=2000, required=False),
                      calendar_id=referenced_calendar(calendar_id),
                      resolved_reply=v.one_of(resolved_reply, "resolved_reply",
                                              RESOLVED_REPLIES))
        s.add(group)
    return group


def update_group(
    group_id: int, *, actor: Actor, name: str = v.UNSET, description: str = v.UNSET,
    calendar_id: int | None = v.UNSET, resolved_reply: str = v.UNSET,
) -> Group:
    """Change a group. Only admins may; ``calendar_id=None`` means the default calendar.

    See :func:`create_group` for ``resolved_reply``.
    """
    from .calendars import referenced_calendar

    require_role(actor, "admin")
    with transaction():
        group = get_group(group_id)
        if name is not v.UNSET:
            name = v.text(name, "name", max_length=100)
            other = get_group_by_name(name)
            if other is not None and other.id != group.id:
                raise Conflict(_("A group named %(name)s already exists.", name=name),
                               field="name")
            group.name = name
        if description is not v.UNSET:
            group.description = v.text(description, "description", max_length=2000,
                                       required=False)
        if calendar_id is not v.UNSET:
            group.calendar_id = referenced_calendar(calendar_id)
        if resolved_reply is not v.UNSET:
            group.resolved_reply = v.one_of(resolved_reply, "resolved_reply", RESOLVED_REPLIES)
    return group


@dataclasses.dataclass(frozen=True)
class GroupStats:
    """A group with its figures, for the admin's list.

    :ivar group: The group.
    :ivar members: Active agents in it.
    :ivar unsolved: Its tickets that still need work (open, pending, on hold).
    :ivar tickets: All its tickets, whatever their status.
    :ivar accounts: Channel accounts routing new tickets to it.
    """

    group: Group
    members: int
    unsolved: int
    tickets: int
    accounts: int


def list_group_stats() -> list[GroupStats]:
    """Every group by name, with its figures (one aggregate query per figure)."""
    s = session()
    members: dict[int, int] = dict(s.execute(
        select(agent_groups.c.group_id, func.count()).join(
            Agent, Agent.id == agent_groups.c.agent_id).where(Agent.active.is_(True))
        .group_by(agent_groups.c.group_id)).all())
    unsolved: dict[int | None, int] = dict(s.execute(
        select(Ticket.group_id, func.count()).where(
            Ticket.status.in_(UNSOLVED), Ticket.merged_into_id.is_(None))
        .group_by(Ticket.group_id)).all())
    tickets, accounts = _group_usage()
    return [GroupStats(g, members.get(g.id, 0), unsolved.get(g.id, 0), tickets.get(g.id, 0),
                       accounts.get(g.id, 0)) for g in list_groups()]


def delete_group(group_id: int, *, actor: Actor, move_to: int | None = None) -> None:
    """Delete a group. Only admins may.

    A group that tickets or channel accounts still point at is deleted only
    when ``move_to`` names the group they move to; each moved ticket gets a
    ``ticket.assigned`` event, and loses its assignee when that agent may
    not work in the new group (as :func:`~.tickets.update_ticket` does).

    :raises Conflict: Tickets or accounts belong to the group and ``move_to``
        is not given.
    :raises ValidationError: ``move_to`` is the group itself.
    """
    require_role(actor, "admin")
    with transaction() as s:
        group = get_group(group_id)
        if move_to is not None:
            if move_to == group.id:
                raise ValidationError(_("Move the tickets to another group."),
                                      field="move_to")
            _move_group(group, get_group(move_to), actor)
        tickets, accounts = (counts.get(group.id, 0) for counts in _group_usage(group.id))
        if tickets or accounts:
            raise Conflict(_(
                "%(name)s still has %(tickets)d tickets and %(accounts)d channel accounts;"
                " move them to another group to delete it.", name=group.name,
                tickets=tickets, accounts=accounts), field="move_to",
                details={"tickets": tickets, "accounts": accounts})
        s.execute(delete(agent_groups).where(agent_groups.c.group_id == group.id))
        s.execute(delete(Group).where(Group.id == group.id))
        s.expunge(group)


def _group_usage(group_id: int | None = None
                 ) -> tuple[dict[int | None, int], dict[int | None, int]]:
    """Tickets and channel accounts per group (of one group, if given)."""
    queries = [select(col, func.count()).where(col.is_not(None)).group_by(col)
               for col in (Ticket.group_id, ChannelAccount.group_id)]
    if group_id is not None:
        queries = [q.where(q.selected_columns[0] == group_id) for q in queries]
    tickets, accounts = (dict(session().execute(q).all()) for q in queries)
    return tickets, accounts


def _move_group(group: Group, target: Group, actor: Actor) -> None:
    """Move every ticket and channel account of ``group`` to ``target``."""
    s = session()
    rows = s.execute(select(Ticket.id, Ticket.assignee_id).where(Ticket.group_id == group.id)
                     .order_by(Ticket.id)).all()
    assignees = {a.id: a for a in s.scalars(select(Agent).where(
        Agent.id.in_({r.assignee_id for r in rows if r.assignee_id is not None})))}
    keep = {aid for aid, a in assignees.items() if a.sees_all or target.id in a.group_ids}
    dropped = [r.id for r in rows if r.assignee_id is not None and r.assignee_id not in keep]
    s.execute(update(Ticket).where(Ticket.group_id == group.id)
              .values(group_id=target.id).execution_options(synchronize_session=False))
    if dropped:
        s.execute(update(Ticket).where(Ticket.id.in_(dropped)).values(assignee_id=None)
                  .execution_options(synchronize_session=False))
    s.execute(update(ChannelAccount).where(ChannelAccount.group_id == group.id)
              .values(group_id=target.id).execution_options(synchronize_session=False))
    record_many(actor, "ticket.assigned", [
        (r.id, target.id, {"old": r.assignee_id,
                           "new": r.assignee_id if r.assignee_id in keep else None,
                           "group_old": group.id, "group_new": target.id}) for r in rows])


# ------------------------------------------------------------------- agents


def get_agent(agent_id: int) -> Agent:
    agent = session().get(Agent, agent_id)
    if agent is None:
        raise NotFound(_("Agent %(id)s does not exist.", id=agent_id))
    return agent


def get_by_user_id(user_id: str) -> Agent | None:
    """The agent of a host user id, or ``None``."""
    return session().scalar(select(Agent).where(Agent.user_id == user_id))


def list_agents(*, include_inactive: bool = False) -> list[Agent]:
    query = select(Agent).order_by(Agent.name, Agent.id)
    if not include_inactive:
        query = query.where(Agent.active.is_(True))
    return list(session().scalars(query))


def create_agent(
    *, actor: Actor, name: str, email: str | None = None, user_id: str | None = None,
    role: str = "agent", groups: t.Sequence[int] = (), language: str | None = None,
) -> Agent:
    """Create an agent. Only admins may.

    :param user_id: The host's user id this agent logs in as.
    :param groups: Ids of the groups the agent works in.
    """
    require_role(actor, "admin")
    agent = Agent(
        name=v.text(name, "name", max_length=200),
        email=_email(email),
        user_id=None if user_id is None else v.text(str(user_id), "user_id", max_length=200),
        role=v.one_of(role, "role", ROLES),
        language=_language(language),
    )
    with transaction() as s:
        _check_unique(agent)
        agent.groups = [get_group(gid) for gid in groups]
        s.add(agent)
    return agent


def update_agent(
    agent_id: int, *, actor: Actor, name: str = v.UNSET, email: str | None = v.UNSET,
    role: str = v.UNSET, groups: t.Sequence[int] = v.UNSET, language: str | None = v.UNSET,
    active: bool = v.UNSET,
) -> Agent:
    """Change an agent. Admins change anyone; an agent may change their own language."""
    agent = get_agent(agent_id)
    self_service = isinstance(actor, Agent) and actor.id == agent.id and all(
        x is v.UNSET for x in (name, email, role, groups, active)
    )
    if not self_service:
        require_role(actor, "admin")
    # No autoflush: a taken email must meet _check_unique's Conflict, not the
    # unique index in the middle of reading the role.
    with transaction(), session().no_autoflush:
        if name is not v.UNSET:
            agent.name = v.text(name, "name", max_length=200)
        if email is not v.UNSET:
            agent.email = _email(email)
        if role is not v.UNSET:
            role = v.one_of(role, "role", ROLES)
            if role != "admin":
                _keep_an_admin(agent, "role")
            agent.role = role
        if groups is not v.UNSET:
            agent.groups = [get_group(gid) for gid in groups]
        if language is not v.UNSET:
            agent.language = _language(language)
        if active is not v.UNSET:
            if not isinstance(active, bool):
                raise ValidationError(_("active must be true or false."), field="active")
            if not active:
                _keep_an_admin(agent, "active")
            agent.active = active
        _check_unique(agent)
    return agent


def _keep_an_admin(agent: Agent, field: str) -> None:
    """Refuse to demote or deactivate the last active admin."""
    if agent.role != "admin" or not agent.active:
        return
    with session().no_autoflush:
        others = session().scalar(select(func.count()).select_from(Agent).where(
            Agent.role == "admin", Agent.active.is_(True), Agent.id != agent.id))
    if not others:
        raise Conflict(_("%(name)s is the last active administrator; make another agent"
                         " an administrator first.", name=agent.name), field=field)


def _check_unique(agent: Agent) -> None:
    s = session()
    with s.no_autoflush:
        if agent.email and s.scalar(
            select(Agent.id).where(Agent.email == agent.email, Agent.id != (agent.id or 0))
        ):
            raise Conflict(_("Another agent has the email %(email)s.", email=agent.email),
                           field="email")
        if agent.user_id and s.scalar(
            select(Agent.id).where(Agent.user_id == agent.user_id, Agent.id != (agent.id or 0))
        ):
            raise Conflict(_("Another agent has this user id."), field="user_id")


def _email(value: str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.lower()  # before the length check: lower() may lengthen text
    value = v.text(value, "email", max_length=320)
    if "@" not in value.strip("@"):
        raise ValidationError(_("%(value)s is not an email address.", value=value),
                              field="email")
    return value


def _language(value: str | None) -> str | None:
    from ..extension import get_state

    if value is None:
        return None
    return v.one_of(value, "language", get_state().config.languages)


# --------------------------------------------------------------- API tokens


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(*, actor: Actor, agent_id: int, name: str) -> tuple[ApiToken, str]:
    """Create an API token for an agent; the secret is returned only now.

    Agents create their own tokens; admins create anyone's.
    """
    if not (isinstance(actor, Agent) and actor.id == agent_id):
        require_role(actor, "admin")
    agent = get_agent(agent_id)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(agent_id=agent.id, name=v.text(name, "name", max_length=100),
                     prefix=secret[:12], token_hash=_hash(secret), scopes=[])
    with transaction() as s:
        s.add(token)
    return token, secret


def list_tokens(*, actor: Actor, agent_id: int) -> list[ApiToken]:
    if not (isinstance(actor, Agent) and actor.id == agent_id):
        require_role(actor, "admin")
    query = select(ApiToken).where(ApiToken.agent_id == agent_id).order_by(ApiToken.id)
    return list(session().scalars(query))


def revoke_token(token_id: int, *, actor: Actor) -> ApiToken:
    token = session().get(ApiToken, token_id)
    if token is None:
        raise NotFound(_("API token %(id)s does not exist.", id=token_id))
    if not (isinstance(actor, Agent) and actor.id == token.agent_id):
        require_role(actor, "admin")
    with transaction():
        token.revoked_at = token.revoked_at or utcnow()
    return token


def authenticate_token(secret: str) -> Agent | None:
    """The active agent owning an unrevoked token, or ``None``."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = session().scalar(select(ApiToken).where(ApiToken.token_hash == _hash(secret)))
    if token is None or token.revoked_at is not None or not token.agent.active:
        return None
    return token.agent
