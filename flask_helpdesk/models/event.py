"""The ticket history: one row per change, written by services."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ._base import Base
from ._base import JSONType
from ._base import utcnow


class TicketEvent(Base):
    """Something that happened to a ticket.

    ``type`` is a past-tense kind (``ticket.created``, ``message.received``,
    ``ticket.status_changed``...); ``data`` holds the details, for changes
    ``{"field": ..., "old": ..., "new": ...}``. The actor is an agent
    (``actor_agent_id``), the customer (``actor_customer_id``) or a named
    system actor (``actor_name`` with ``actor_kind`` ``system`` or ``rule``).
    """

    __tablename__ = "helpdesk_ticket_events"
    __table_args__ = (Index("ix_helpdesk_ticket_events_ticket", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_tickets.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(60))
    actor_kind: Mapped[str] = mapped_column(String(10))
    actor_agent_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_agents.id"))
    actor_customer_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_customers.id"))
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    data: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
