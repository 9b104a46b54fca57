"""Helpers of the rules tests."""

from __future__ import annotations

import datetime as dt
import typing as t

from sqlalchemy import update

from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Ticket
from flask_helpdesk.models import utcnow
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import rules
from flask_helpdesk.services import tickets


def rule(**kw: t.Any) -> t.Any:
    """A rule created by the system with sensible defaults."""
    kw.setdefault("name", "r")
    kw.setdefault("when", {"type": "manual"})
    kw.setdefault("actions", [{"type": "add_tags", "tags": ["x"]}])
    return rules.create_rule(actor=SYSTEM, **kw)


def ticket(team: t.Any, subject: str = "Help", text: str = "Hello", **kw: t.Any) -> t.Any:
    return tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id, subject=subject,
                                 text=text, **kw)


def age(ticket_id: int, **delta: float) -> None:
    """Move every timestamp of a ticket into the past."""
    past = utcnow() - dt.timedelta(**delta)
    s = get_state().db.session
    s.execute(update(Ticket).where(Ticket.id == ticket_id).values(
        created_at=past, updated_at=past, status_changed_at=past,
        last_customer_message_at=past))
    s.commit()
