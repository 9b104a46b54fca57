"""Automation rules, their firing ledger and their manual runs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ._base import Base
from ._base import JSONType
from ._base import utcnow

#: How a rule is started.
TRIGGERS = ("event", "time", "manual")


class Rule(Base):
    """When something happens (or has not happened for a while), check conditions, act.

    ``when`` says when the rule runs (see :mod:`flask_helpdesk.services.rules`),
    ``conditions`` is ``{"all": [...], "any": [...]}`` and ``actions`` a list
    of ``{"type": ..., ...}``. Rules run in :attr:`position` order. A rule
    that failed in a way its author must fix is disabled with :attr:`error`.
    """

    __tablename__ = "helpdesk_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    trigger: Mapped[str] = mapped_column(String(10))
    when: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    conditions: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    actions: Mapped[list[dict[str, object]]] = mapped_column(JSONType, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Rule {self.name!r} {self.trigger}>"


class RuleFiring(Base):
    """The ledger: a time rule fired on a ticket for the episode starting at ``anchor``.

    The unique key makes a rule fire at most once per ticket per episode, even
    when two ticks overlap. Rows with a ``customer_id`` are kept per customer
    instead (the out-of-hours reply: once per customer per closed period
    starting at ``anchor``), with their own unique key.
    """

    __tablename__ = "helpdesk_rule_firings"
    __table_args__ = (
        UniqueConstraint("rule_id", "ticket_id", "anchor"),
        Index("ix_helpdesk_rule_firings_customer_period", "rule_id", "customer_id", "anchor",
              unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_rules.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_tickets.id", ondelete="CASCADE"), index=True)
    anchor: Mapped[dt.datetime] = mapped_column(DateTime)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_customers.id", ondelete="CASCADE"))
    fired_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RuleRun(Base):
    """A manual run of a rule over every ticket matching its conditions, with progress."""

    __tablename__ = "helpdesk_rule_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_rules.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(10), default="queued")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    touched: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
