"""Tickets and tags."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import SmallInteger
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from ._base import Base
from ._base import JSONType
from ._base import utcnow
from .agent import Agent
from .agent import Group
from .customer import Customer

#: Every status, in workflow order.
STATUSES = ("open", "pending", "on_hold", "resolved", "closed", "spam")

#: Allowed status changes; the services refuse any other.
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"pending", "on_hold", "resolved", "closed", "spam"}),
    "pending": frozenset({"open", "on_hold", "resolved", "closed", "spam"}),
    "on_hold": frozenset({"open", "pending", "resolved", "closed", "spam"}),
    "resolved": frozenset({"open", "pending", "closed"}),
    "closed": frozenset(),
    "spam": frozenset({"open", "closed"}),
}

#: Statuses in which a ticket still needs work ("unsolved" in Zendesk terms).
UNSOLVED = ("open", "pending", "on_hold")

#: Priority names by rank; the column stores the rank so that sorting by
#: priority is an index scan.
PRIORITIES = ("low", "normal", "high", "urgent")

#: Longest subject accepted.
SUBJECT_MAX = 250

ticket_tags = Table(
    "helpdesk_ticket_tags",
    Base.metadata,
    Column("ticket_id", ForeignKey("helpdesk_tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("helpdesk_tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_helpdesk_ticket_tags_tag_id", "tag_id", "ticket_id"),
)


class Tag(Base):
    """A label on tickets; names are lower-case and unique."""

    __tablename__ = "helpdesk_tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class Ticket(Base):
    """One customer request and everything done about it.

    The ticket number shown to people is :attr:`id`.
    """

    __tablename__ = "helpdesk_tickets"
    __table_args__ = (
        Index("ix_helpdesk_tickets_group_status_updated", "group_id", "status", "updated_at"),
        Index("ix_helpdesk_tickets_assignee_status", "assignee_id", "status", "priority"),
        Index("ix_helpdesk_tickets_customer", "customer_id", "id"),
        Index("ix_helpdesk_tickets_updated", "updated_at", "id"),
        Index("ix_helpdesk_tickets_created", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(SUBJECT_MAX))
    status: Mapped[str] = mapped_column(String(20), default="open")
    priority: Mapped[int] = mapped_column(SmallInteger, default=1)
    channel: Mapped[str] = mapped_column(String(30), default="web")
    account: Mapped[str] = mapped_column(String(100), default="")
    customer_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_customers.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_groups.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_agents.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    status_changed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_customer_message_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_agent_reply_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: The closed ticket this one follows up.
    follow_up_of_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_tickets.id"))
    #: Set when this ticket was merged into another.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_tickets.id"))
    custom_fields: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)

    customer: Mapped[Customer] = relationship(lazy="raise")
    group: Mapped[Group | None] = relationship(lazy="raise")
    assignee: Mapped[Agent | None] = relationship(lazy="raise")
    tags: Mapped[list[Tag]] = relationship(
        secondary=ticket_tags, lazy="raise", order_by=Tag.name
    )

    @property
    def priority_name(self) -> str:
        return PRIORITIES[self.priority]

    @property
    def waiting_since(self) -> dt.datetime | None:
        """Since when the customer has waited for our answer, or ``None``.

        Set while the ticket needs us (open or on hold) and the customer's
        last message is newer than our last reply.
        """
        if self.status not in ("open", "on_hold") or self.last_customer_message_at is None:
            return None
        if self.last_agent_reply_at and self.last_agent_reply_at >= self.last_customer_message_at:
            return None
        return self.last_customer_message_at

    def __repr__(self) -> str:
        return f"<Ticket #{self.id} {self.status}>"


# Sort indexes of the ticket lists (services/views.py SORTS); each serves its
# sort in both directions, so a list of every visible ticket stops after a page.
Index("ix_helpdesk_tickets_priority_created", Ticket.priority.desc(), Ticket.created_at,
      Ticket.id)
# The inbox of one group ("open tickets of Support by priority, then oldest"):
# the equality filters first, then the sort, so a page is an index range.
Index("ix_helpdesk_tickets_status_group_prio", Ticket.status, Ticket.group_id,
      Ticket.priority.desc(), Ticket.created_at, Ticket.id)
Index("ix_helpdesk_tickets_last_customer",
      func.coalesce(Ticket.last_customer_message_at, Ticket.created_at), Ticket.id)
