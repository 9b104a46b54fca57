"""The full-text search document of each ticket."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ._base import Base
from ._base import utcnow


class SearchDocument(Base):
    """Subject, messages and customer identities of a ticket, as one text.

    Kept up to date by the services in the same transaction as the change.
    The database-specific index over it (SQLite FTS5, PostgreSQL tsvector and
    trigram) is created by the migrations.
    """

    __tablename__ = "helpdesk_search_documents"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_tickets.id", ondelete="CASCADE"), primary_key=True
    )
    document: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
