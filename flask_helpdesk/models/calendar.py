"""Business calendars: when a team works, in which time zone."""

from __future__ import annotations

import datetime as dt
import typing as t

from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ._base import Base
from ._base import JSONType
from ._base import utcnow

if t.TYPE_CHECKING:
    from ..business_hours import Schedule


class BusinessCalendar(Base):
    """Opening hours of a team: a time zone, weekly periods and holidays.

    ``periods`` is a list of ``{"weekday": "mon", "start": "09:00", "end":
    "13:00"}`` in local wall-clock time (several per weekday; none crosses
    midnight), ``holidays`` a list of ``{"date": "2026-12-25", "name":
    "Christmas"}``. A group uses its own calendar, else the one calendar
    marked :attr:`is_default`.
    """

    __tablename__ = "helpdesk_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: IANA time zone name, e.g. ``Europe/Berlin``.
    timezone: Mapped[str] = mapped_column(String(64))
    periods: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    holidays: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def schedule(self) -> Schedule:
        """The calendar as a :class:`~flask_helpdesk.business_hours.Schedule`."""
        from ..business_hours import Schedule

        return Schedule.build(self.timezone, self.periods, self.holidays)

    def __repr__(self) -> str:
        return f"<BusinessCalendar {self.id} {self.name!r} {self.timezone}>"
