"""Calendars built around the real clock, so tests know what "now" is in them."""

from __future__ import annotations

import datetime as dt
import typing as t
import zoneinfo

from flask_helpdesk.business_hours import WEEKDAYS
from flask_helpdesk.models import utcnow
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import calendars

SAO_PAULO = "America/Sao_Paulo"


def local_today(zone: str) -> dt.date:
    return dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()


def always_open(name: str = "Always", **kw: t.Any) -> t.Any:
    return calendars.create_calendar(actor=SYSTEM, name=name, timezone="UTC", periods=[
        {"weekday": d, "start": "00:00", "end": "24:00"} for d in WEEKDAYS], **kw)


def closed_until_day_after_tomorrow(name: str = "Closed", zone: str = SAO_PAULO,
                                    **kw: t.Any) -> tuple[t.Any, dt.date]:
    """A calendar open 09:00-17:00 on one weekday only: the day after tomorrow's.

    :return: The calendar and the local date it opens next.
    """
    opens = local_today(zone) + dt.timedelta(days=2)
    calendar = calendars.create_calendar(actor=SYSTEM, name=name, timezone=zone, periods=[
        {"weekday": WEEKDAYS[opens.weekday()], "start": "09:00", "end": "17:00"}], **kw)
    return calendar, opens


def open_three_days_ago(name: str = "Once a week", **kw: t.Any) -> t.Any:
    """Open 09:00-17:00 UTC on the weekday of three days ago only (8 hours a week)."""
    day = utcnow().date() - dt.timedelta(days=3)
    return calendars.create_calendar(actor=SYSTEM, name=name, timezone="UTC", periods=[
        {"weekday": WEEKDAYS[day.weekday()], "start": "09:00", "end": "17:00"}], **kw)
