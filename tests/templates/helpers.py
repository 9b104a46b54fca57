"""Helpers of the reply template tests."""

from __future__ import annotations

import typing as t

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import templates
from flask_helpdesk.services import tickets


def shared(name: str = "Refund", body: str = "Hello {{ customer.first_name }}", **kw: t.Any,
           ) -> t.Any:
    """A shared template made by the system."""
    return templates.create_template(actor=SYSTEM, name=name, body=body, shared=True, **kw)


def ticket(team: t.Any, **kw: t.Any) -> t.Any:
    kw.setdefault("group_id", team.support.id)
    return tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id,
                                 subject=kw.pop("subject", "Money back"),
                                 text=kw.pop("text", "I want a refund"), **kw)
