"""Agent notifications: what a rule's ``notify`` action told one agent."""

from __future__ import annotations

import datetime as dt
import typing as t

from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from ._base import Base
from ._base import utcnow

if t.TYPE_CHECKING:
    from .ticket import Ticket

#: States of a notification's email: ``queued`` (the job will send it),
#: ``sent``, ``skipped`` (no address, or no plugin sends agent mail: the
#: reason is in ``email_error``) and ``failed`` (the plugin's error).
EMAIL_STATES = ("queued", "sent", "skipped", "failed")


class AgentNotification(Base):
    """One notice for one agent about one ticket, private to that agent.

    ``message`` is the rule's text with the placeholders filled for the
    ticket; ``actor_name`` names the rule ("Rule: escalate"). ``read_at`` is
    ``None`` until the agent marks it read. ``email_state`` is ``None`` when
    the rule asked for no email.
    """

    __tablename__ = "helpdesk_agent_notifications"
    __table_args__ = (
        # The header's unread count and the agent's list read this index only.
        Index("ix_helpdesk_agent_notifications_agent", "agent_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_agents.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_tickets.id", ondelete="CASCADE"), index=True)
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    email_state: Mapped[str | None] = mapped_column(String(10))
    emailed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    email_error: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship(lazy="raise")

    def __repr__(self) -> str:
        return f"<AgentNotification {self.id} agent={self.agent_id} ticket={self.ticket_id}>"
