"""Business hours in rules: a condition, time rules counted in open time, the auto-reply.

- The condition ``{"field": "business_hours", "op": "inside" | "outside",
  "value": CALENDAR_ID | null}`` (null: the ticket's group's calendar, else
  the default calendar; no calendar at all counts as always open). "Now" is
  one instant per evaluation (:func:`evaluating_at`: the tick's time, or the
  event's), so its SQL form is computed in Python once per calendar: which
  calendars are open now, then a plain ``IN`` over the ticket's calendar.
- A time rule with ``"business_hours": true`` counts its delay in open time.
  Business time elapsed is monotone in the anchor, so for each calendar the
  latest anchor that is due is computed once per tick
  (:func:`~flask_helpdesk.business_hours.subtract_business_time`) and the
  SQL bound is exact: the tick stays one set-based query per batch, with no
  per-ticket Python work and no candidate rescanned for nothing.
- The action ``out_of_hours_reply`` answers a customer while the calendar is
  closed, at most once per customer per closed period: its ledger rows are
  :class:`~flask_helpdesk.models.RuleFiring` rows keyed by rule, customer
  and the instant the closed period began.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import typing as t

from sqlalchemy import and_
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import not_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true

from .. import business_hours as bh
from ..errors import ValidationError
from ..i18n import _
from ..models import BusinessCalendar
from ..models import Group
from ..models import Message
from ..models import RuleFiring
from ..models import Ticket
from ..models import TicketEvent
from ..models import utcnow
from . import _validate as v
from ._uow import session
from .calendars import calendar_for_group
from .calendars import referenced_calendar
from .rule_conditions import Facts
from .rule_conditions import Field

if t.TYPE_CHECKING:
    from sqlalchemy import ColumnElement

    from ._uow import SystemActor

log = logging.getLogger("flask_helpdesk.rules")

_now: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar(
    "helpdesk_rule_now", default=None)
_rule: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "helpdesk_rule_id", default=None)

#: The placeholder of the out-of-hours reply, with the value a text is tried with.
OPENS_AT_SAMPLE = {"opens_at": "Monday 09:00"}

#: The anchor of the ledger row of a calendar that has been closed for longer
#: than the search horizon.
EPOCH = dt.datetime(1970, 1, 1)


@contextlib.contextmanager
def evaluating_at(now: dt.datetime) -> t.Iterator[None]:
    """Evaluate business-hours conditions at ``now`` inside the block."""
    token = _now.set(now)
    try:
        yield
    finally:
        _now.reset(token)


def evaluation_time() -> dt.datetime:
    """The instant conditions are evaluated at: set by :func:`evaluating_at`, else now."""
    return _now.get() or utcnow()


@contextlib.contextmanager
def applying(rule_id: int) -> t.Iterator[None]:
    """Mark the rule whose actions run inside the block (for per-rule ledgers)."""
    token = _rule.set(rule_id)
    try:
        yield
    finally:
        _rule.reset(token)


# ------------------------------------------------------------ the condition

def _effective_calendar(default_id: int | None) -> ColumnElement[t.Any]:
    """SQL: the id of the ticket's calendar (its group's, else the default)."""
    group_calendar = select(Group.calendar_id).where(
        Group.id == Ticket.group_id).correlate(Ticket).scalar_subquery()
    if default_id is None:
        return group_calendar
    return func.coalesce(group_calendar, default_id)


def _validate(op: str, value: t.Any) -> t.Any:
    return referenced_calendar(value, "conditions")


def _sql(op: str, value: t.Any) -> ColumnElement[bool]:
    now = evaluation_time()
    s = session()
    if value is not None:
        calendar = s.get(BusinessCalendar, value)
        inside = calendar is None or bh.is_open(calendar.schedule, now)
        return true() if inside == (op == "inside") else false()
    calendars = list(s.scalars(select(BusinessCalendar)))
    default = next((c.id for c in calendars if c.is_default), None)
    open_ids = [c.id for c in calendars if bh.is_open(c.schedule, now)]
    effective = _effective_calendar(default)
    match = or_(effective.is_(None), effective.in_(open_ids))
    return match if op == "inside" else not_(match)


def _check(facts: Facts, op: str, value: t.Any) -> bool:
    calendar = session().get(BusinessCalendar, value) if value is not None else \
        calendar_for_group(facts.ticket.group_id)
    inside = calendar is None or bh.is_open(calendar.schedule, evaluation_time())
    return inside == (op == "inside")


#: The ``business_hours`` condition field.
FIELD = Field(ops=("inside", "outside"), validate=_validate, sql=_sql, check=_check)


# ------------------------------------------------------ time rules, counted

def validate_when(when: t.Mapping[str, t.Any], out: dict[str, t.Any]) -> dict[str, t.Any]:
    """Add the business-hours keys of a time rule's "when" to ``out``, checked."""
    counted = when.get("business_hours", False)
    if not isinstance(counted, bool):
        raise ValidationError(_("when.business_hours must be true or false."), field="when")
    if "calendar_id" in when and not counted:
        raise ValidationError(_("when.calendar_id needs business_hours: true."), field="when")
    if counted:
        out["business_hours"] = True
        if when.get("calendar_id") is not None:
            out["calendar_id"] = referenced_calendar(when["calendar_id"], "when")
    return out


def due_clause(when: t.Mapping[str, t.Any], anchor: ColumnElement[dt.datetime],
               now: dt.datetime) -> ColumnElement[bool]:
    """SQL: the anchor is at least the rule's delay before ``now``.

    Calendar time unless ``when["business_hours"]``; then open time of the
    rule's calendar, or of each ticket's calendar (calendar time for tickets
    with none).
    """
    delay = dt.timedelta(minutes=when["minutes"])
    calendar_bound = anchor <= now - delay
    if not when.get("business_hours"):
        return calendar_bound
    s = session()
    if when.get("calendar_id") is not None:
        calendar = s.get(BusinessCalendar, when["calendar_id"])
        return calendar_bound if calendar is None else _bound(anchor, calendar, now, delay)
    calendars = list(s.scalars(select(BusinessCalendar).order_by(BusinessCalendar.id)))
    default = next((c.id for c in calendars if c.is_default), None)
    effective = _effective_calendar(default)
    parts = [and_(effective == c.id, _bound(anchor, c, now, delay)) for c in calendars]
    parts.append(and_(effective.is_(None), calendar_bound))
    return or_(*parts)


def _bound(anchor: ColumnElement[dt.datetime], calendar: BusinessCalendar, now: dt.datetime,
           delay: dt.timedelta) -> ColumnElement[bool]:
    latest = bh.subtract_business_time(calendar.schedule, now, delay)
    return false() if latest is None else anchor <= latest


# ------------------------------------------------------ the out-of-hours reply

def validate_action(action: dict[str, t.Any]) -> dict[str, t.Any]:
    """Check an ``out_of_hours_reply`` action: ``text``, optional ``calendar_id``, ``language``."""
    from ..extension import get_state
    from .rule_actions import check_template

    unknown = sorted(set(action) - {"type", "text", "calendar_id", "language"})
    if unknown:
        raise ValidationError(_("Action %(type)s does not take %(field)s.",
                                type=action["type"], field=unknown[0]), field="actions")
    out = {"type": action["type"],
           "text": check_template(action.get("text"), extra=OPENS_AT_SAMPLE)}
    if action.get("calendar_id") is not None:
        out["calendar_id"] = referenced_calendar(action["calendar_id"], "actions")
    if action.get("language") is not None:
        out["language"] = v.one_of(action["language"], "language",
                                   get_state().config.languages)
    return out


def apply_action(ticket_id: int, actor: SystemActor, action: dict[str, t.Any]) -> None:
    """Answer the customer's last message if the calendar is closed (once per period).

    The channel's loop guard is asked first (:func:`~.messages.may_reply_automatically`).
    """
    from .messages import may_reply_automatically
    from .messages import reply
    from .rule_actions import render

    s = session()
    ticket = s.get_one(Ticket, ticket_id)
    if ticket.status == "spam" or not _answerable(ticket):
        return
    calendar = s.get(BusinessCalendar, action["calendar_id"]) if action.get(
        "calendar_id") else calendar_for_group(ticket.group_id)
    now = evaluation_time()
    if calendar is None or bh.is_open(calendar.schedule, now):
        return
    schedule = calendar.schedule
    anchor = bh.closed_since(schedule, now) or EPOCH
    if not may_reply_automatically(ticket, actor=actor):
        return
    if not _record_period(ticket, anchor, now):
        return
    opens = bh.next_opening(schedule, now)
    opens_at = format_opening(schedule, opens, action.get("language")) if opens else ""
    reply(ticket_id, actor=actor, text=render(action["text"], ticket, opens_at=opens_at),
          confirm=True)


def _answerable(ticket: Ticket) -> bool:
    """Whether the ticket's last message is a customer's that may get an automatic answer.

    Only messages that came in through a channel (ingest gives them an
    external id; a ticket an agent opens for a customer has none), and never
    auto-submitted mail, bounces, mailing lists, or mail the channel thinks is
    spam.
    """
    s = session()
    last = s.scalar(select(Message).where(Message.ticket_id == ticket.id,
                                          Message.kind == "inbound")
                    .order_by(Message.id.desc()).limit(1))
    if last is None or last.author_customer_id is None or last.external_id is None:
        return False
    flags = t.cast("dict[str, t.Any]", (last.meta or {}).get("flags") or {})
    if any(flags.get(k) for k in ("auto_reply", "bounce", "mailing_list", "spam")):
        return False
    events = s.scalars(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.type == "message.received")
        .order_by(TicketEvent.id.desc()).limit(5))
    return not any(e.data.get("message_id") == last.id and e.data.get("auto_submitted")
                   for e in events)


def _record_period(ticket: Ticket, anchor: dt.datetime, now: dt.datetime) -> bool:
    """Insert the ledger row of (rule, customer, period); False if it was there."""
    rule_id = _rule.get()
    if rule_id is None:
        log.warning("out_of_hours_reply outside a rule on ticket %s: not sent", ticket.id)
        return False
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects import sqlite

    s = session()
    dialect = s.get_bind(mapper=RuleFiring.__mapper__).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(RuleFiring).values(
        rule_id=rule_id, ticket_id=ticket.id, customer_id=ticket.customer_id, anchor=anchor,
        fired_at=now).on_conflict_do_nothing().returning(RuleFiring.id)
    return s.scalar(stmt) is not None


def format_opening(schedule: bh.Schedule, opens: dt.datetime, language: str | None) -> str:
    """When it opens, in the calendar's zone and a language's words ("Monday, ...")."""
    from babel import dates

    from ..extension import get_state

    locale = language or get_state().config.default_language
    local = bh.local_time(schedule, opens)
    pattern = str(dates.get_datetime_format("long", locale=locale)).replace("'", "")
    day = dates.format_date(local.date(), "full", locale=locale)
    hour = dates.format_time(local, "short", tzinfo=schedule.zone, locale=locale)
    zone = dates.get_timezone_name(local, width="long", locale=locale)
    return pattern.replace("{1}", day).replace("{0}", f"{hour} ({zone})")
