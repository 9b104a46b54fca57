"""Drafts: what an agent is writing on a ticket, kept so a reload loses nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ._base import Base
from ._base import utcnow

#: What a draft may become: a public reply or an internal note.
DRAFT_KINDS = ("reply", "note")


class Draft(Base):
    """One agent's unsent reply or note on one ticket (at most one of each kind).

    Private to its author: no history event, never broadcast, never shown to
    anyone else. ``text`` and ``html`` are what the editor holds (``html`` is
    sanitized only when the message is sent); ``status`` and ``template_id``
    are the reply form's "and set status" and chosen template.
    ``seen_event_id`` is the newest event the author had seen while writing,
    so a draft sent later still meets the collision guard. Attachments are
    not kept.
    """

    __tablename__ = "helpdesk_drafts"
    __table_args__ = (UniqueConstraint("ticket_id", "agent_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_tickets.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_agents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(20))
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_templates.id", ondelete="SET NULL"))
    seen_event_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Draft {self.kind} ticket={self.ticket_id} agent={self.agent_id}>"
