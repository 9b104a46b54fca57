"""Reply templates ("macros"): canned answers with placeholders, actions and files."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from ._base import Base
from ._base import JSONType
from ._base import utcnow

#: Keys a template's ``actions`` may hold; every one is optional.
TEMPLATE_ACTIONS = ("status", "priority", "add_tags", "remove_tags", "assignee_id", "group_id")


class ReplyTemplate(Base):
    """A canned reply an agent inserts and edits before sending.

    ``owner_agent_id`` is ``None`` for a shared template (managed by managers
    and admins) and the owner's id for a personal one. ``body`` (and the
    optional ``body_html``) hold Jinja placeholders such as
    ``{{ customer.first_name }}``; ``actions`` is what sending it also does to
    the ticket (see :data:`TEMPLATE_ACTIONS`). ``search_text`` is the folded
    name, folder and body, so search is case- and accent-insensitive on every
    database.
    """

    __tablename__ = "helpdesk_templates"
    __table_args__ = (
        Index("ix_helpdesk_templates_owner_usage", "owner_agent_id", "usage_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    #: A ``Billing/Refunds`` style path; ``""`` for none.
    folder: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    owner_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_agents.id", ondelete="CASCADE"))
    actions: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_agents.id", ondelete="SET NULL"))

    attachments: Mapped[list[TemplateAttachment]] = relationship(
        lazy="raise", order_by="TemplateAttachment.id", back_populates="template",
        cascade="all, delete-orphan", passive_deletes=True,
    )

    @property
    def shared(self) -> bool:
        """Whether every agent sees it (no owner)."""
        return self.owner_agent_id is None

    def __repr__(self) -> str:
        return f"<ReplyTemplate {self.id} {self.name!r}>"


class TemplateAttachment(Base):
    """A file sent with every reply made from a template; bytes in the storage."""

    __tablename__ = "helpdesk_template_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_templates.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    template: Mapped[ReplyTemplate] = relationship(back_populates="attachments", lazy="raise")


class TemplateUsage(Base):
    """One use of a template: who sent it on which ticket, and when (for reports).

    ``agent_id`` is ``None`` when a rule sent it.
    """

    __tablename__ = "helpdesk_template_usages"
    __table_args__ = (
        Index("ix_helpdesk_template_usages_template_at", "template_id", "at"),
        Index("ix_helpdesk_template_usages_agent_at", "agent_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_templates.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_agents.id", ondelete="SET NULL"))
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_tickets.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_messages.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
