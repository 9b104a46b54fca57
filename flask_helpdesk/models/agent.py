"""Agents (the host's users working in the helpdesk), groups and API tokens."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean
from sqlalchemy import Column
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from ._base import Base
from ._base import JSONType
from ._base import utcnow

#: Roles, from least to most powerful.
ROLES = ("agent", "manager", "admin")

#: What a customer's reply to a resolved ticket of a group does: ``reopen``
#: the ticket, or open a new ticket linked to it as its ``follow_up``.
RESOLVED_REPLIES = ("reopen", "follow_up")

agent_groups = Table(
    "helpdesk_agent_groups",
    Base.metadata,
    Column("agent_id", ForeignKey("helpdesk_agents.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("helpdesk_groups.id", ondelete="CASCADE"), primary_key=True),
)


class Group(Base):
    """A department or support line; tickets belong to one group."""

    __tablename__ = "helpdesk_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: The group's business hours; ``None`` uses the default calendar.
    calendar_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_calendars.id", ondelete="SET NULL"))
    #: A customer's reply to a resolved ticket: one of :data:`RESOLVED_REPLIES`.
    resolved_reply: Mapped[str] = mapped_column(String(10), default="reopen",
                                                server_default="reopen")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    agents: Mapped[list[Agent]] = relationship(
        secondary=agent_groups, back_populates="groups", lazy="raise"
    )


class Agent(Base):
    """A host user who works in the helpdesk.

    ``user_id`` is the host's user id as a string; the host maps its users to
    agents through the loader registered with :meth:`Helpdesk.agent_loader`.
    """

    __tablename__ = "helpdesk_agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(20), default="agent")
    language: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    groups: Mapped[list[Group]] = relationship(
        secondary=agent_groups, back_populates="agents", lazy="selectin"
    )

    @property
    def sees_all(self) -> bool:
        """Managers and admins see every ticket."""
        return self.role in ("manager", "admin")

    @property
    def group_ids(self) -> frozenset[int]:
        return frozenset(g.id for g in self.groups)

    def has_role(self, role: str) -> bool:
        """Whether the agent's role is ``role`` or a more powerful one."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def __repr__(self) -> str:
        return f"<Agent {self.id} {self.name!r} {self.role}>"


class ApiToken(Base):
    """A per-agent REST API token, stored as a SHA-256 hash."""

    __tablename__ = "helpdesk_api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_agents.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    agent: Mapped[Agent] = relationship(lazy="joined")

    @property
    def active(self) -> bool:
        return self.revoked_at is None


