"""Saved views: named ticket filters, personal or shared."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ._base import Base
from ._base import JSONType
from ._base import utcnow


class SavedView(Base):
    """A saved ticket filter. ``owner_id`` is ``None`` for a shared view."""

    __tablename__ = "helpdesk_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_agents.id", ondelete="CASCADE"), index=True
    )
    filters: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    sort: Mapped[str] = mapped_column(String(40), default="-updated")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
