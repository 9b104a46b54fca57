"""Set-based application of a time rule's actions to a batch of tickets.

The tick may fire a rule on thousands of tickets at once. When every action
of the rule is one of :data:`BULK_ACTIONS` (and its conditions need no Python
check), the batch is changed with a few statements instead of a service call
per ticket: one ``UPDATE`` per new value, one multi-row ``INSERT`` of the
messages and one of the history events. Each change is still a
:class:`~flask_helpdesk.models.TicketEvent` naming the rule, dispatched after
the commit like any service's, and replies are queued in the outbox.

The search documents of the tickets are not rebuilt for the rule's own notes
and replies (the texts are the rule's, the same on every ticket); they are
included the next time the ticket changes.
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t

from sqlalchemy import Integer
from sqlalchemy import any_
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import ARRAY

from ..events import Event
from ..events import dispatch
from ..extension import get_state
from ..models import Agent
from ..models import Customer
from ..models import Message
from ..models import Ticket
from ..models import TicketEvent
from ..models import utcnow
from ..models.ticket import PRIORITIES
from ..models.ticket import TRANSITIONS
from . import rule_conditions
from ._uow import transaction

if t.TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .automation import Spec

#: Actions that can be applied set-based.
BULK_ACTIONS = frozenset({"set_priority", "raise_priority", "set_status", "note", "reply",
                          "notify"})

Rows = dict[int, dict[str, t.Any]]


def supports(spec: Spec) -> bool:
    """Whether :func:`apply` can run this rule."""
    return all(a["type"] in BULK_ACTIONS for a in spec.actions) and not (
        rule_conditions.needs_python(spec.conditions))


def apply(spec: Spec, ticket_ids: list[int]) -> int:
    """Apply the rule to the tickets that still meet its conditions; return how many."""
    now = utcnow()
    with transaction() as s:
        query = select(
            Ticket.id, Ticket.status, Ticket.priority, Ticket.group_id, Ticket.channel,
            Ticket.account, Customer.name.label("customer_name"),
            Agent.name.label("agent_name"),
        ).join(Customer, Customer.id == Ticket.customer_id).outerjoin(
            Agent, Agent.id == Ticket.assignee_id,
        ).where(id_in(Ticket.id, ticket_ids), Ticket.merged_into_id.is_(None),
                rule_conditions.to_sql(spec.conditions))
        if s.get_bind(mapper=Ticket.__mapper__).dialect.name == "postgresql":
            query = query.with_for_update(of=Ticket)
        rows: Rows = {r.id: dict(r._mapping) for r in s.execute(query)}
        if not rows:
            return 0
        events: list[dict[str, t.Any]] = []
        for row in rows.values():
            row["_set"] = {"updated_at": now}
        for action in spec.actions:
            _HANDLERS[action["type"]](s, spec, action, rows, events, now)
        _update(s, rows)
        committed = _record(s, spec, rows, events, now)
    dispatch(get_state(), committed)
    return len(rows)


def _update(s: Session, rows: Rows) -> None:
    """One ``UPDATE`` per distinct set of new values: each ticket row is written once."""
    groups: dict[tuple[tuple[str, t.Any], ...], list[int]] = {}
    for tid, row in rows.items():
        groups.setdefault(tuple(sorted(row["_set"].items())), []).append(tid)
    for values, ids in groups.items():
        s.execute(update(Ticket).where(id_in(Ticket.id, ids)).values(dict(values)))


def _event(events: list[dict[str, t.Any]], ticket_id: int, type: str,
           data: dict[str, t.Any]) -> None:
    events.append({"ticket_id": ticket_id, "type": type, "data": data})


def _priority(s: Session, spec: Spec, action: dict[str, t.Any], rows: Rows,
              events: list[dict[str, t.Any]], now: dt.datetime) -> None:
    for tid, row in rows.items():
        rank = (min(row["priority"] + 1, len(PRIORITIES) - 1)
                if action["type"] == "raise_priority" else PRIORITIES.index(action["priority"]))
        if rank != row["priority"]:
            _event(events, tid, "ticket.updated", {
                "field": "priority", "old": PRIORITIES[row["priority"]],
                "new": PRIORITIES[rank]})
            row["priority"] = row["_set"]["priority"] = rank


def _status(s: Session, spec: Spec, action: dict[str, t.Any], rows: Rows,
            events: list[dict[str, t.Any]], now: dt.datetime) -> None:
    new = action["status"]
    ids = [tid for tid, row in rows.items() if new in TRANSITIONS[row["status"]]]
    for tid in ids:
        _event(events, tid, "ticket.status_changed", {"old": rows[tid]["status"], "new": new})
        rows[tid]["status"] = new
        rows[tid]["_set"].update(status=new, status_changed_at=now)


def _messages(s: Session, spec: Spec, action: dict[str, t.Any], rows: Rows,
              events: list[dict[str, t.Any]], now: dt.datetime) -> None:
    from .rule_actions import PLACEHOLDERS

    reply = action["type"] == "reply"
    ids = [tid for tid, row in rows.items() if not (reply and row["status"] == "closed")]
    if not ids:
        return
    params = []
    for tid in ids:
        row = rows[tid]
        values = {"ticket_id": tid, "customer_name": row["customer_name"] or "",
                  "agent_name": row["agent_name"] or ""}
        params.append({
            "ticket_id": tid, "kind": "reply" if reply else "note", "channel": row["channel"],
            "account": row["account"], "author_name": spec.actor.name, "subject": "",
            "text": action["text"].format_map({k: values[k] for k in PLACEHOLDERS}),
            "meta": {"automatic": True} if reply else {}, "created_at": now, "attempts": 0,
            "delivery_state": "queued" if reply else None,
            "next_attempt_at": now if reply else None,
        })
    message_ids = insert_ids(s, Message.__table__, params)
    for tid, message_id, p in zip(ids, message_ids, params, strict=True):
        data = {"message_id": message_id, "channel": p["channel"]}
        if reply:
            data["delivery"] = "queued"
        _event(events, tid, "message.replied" if reply else "note.added", data)
        if reply:
            rows[tid]["_set"]["last_agent_reply_at"] = now


def _notify(s: Session, spec: Spec, action: dict[str, t.Any], rows: Rows,
            events: list[dict[str, t.Any]], now: dt.datetime) -> None:
    for tid in rows:
        _event(events, tid, "rule.notified", {"message": action["message"]})


_HANDLERS: dict[str, t.Callable[..., None]] = {
    "set_priority": _priority, "raise_priority": _priority, "set_status": _status,
    "note": _messages, "reply": _messages, "notify": _notify,
}


def insert_ids(s: Session, table: t.Any, params: list[dict[str, t.Any]]) -> list[int]:
    """Insert rows in one statement and return their ids in the order of ``params``.

    PostgreSQL gets one ``INSERT ... SELECT FROM jsonb_to_recordset`` (see
    :func:`pg_insert_from_json`). On SQLite ``RETURNING`` in a guaranteed order means one
    statement per row, so the rows go in with one ``executemany`` and the ids
    are read back: the transaction began with ``BEGIN IMMEDIATE``, so no other
    writer can interleave ids.
    """
    dialect = s.get_bind(mapper=Ticket.__mapper__).dialect
    if dialect.name == "postgresql":
        # ids come from the sequence in the order the rows are read.
        return sorted(s.scalars(*pg_insert_from_json(dialect, table, params,
                                                     returning="id")))
    before = s.scalar(select(func.coalesce(func.max(table.c.id), 0)))
    s.execute(insert(table), params)
    ids = list(s.scalars(select(table.c.id).where(table.c.id > before).order_by(table.c.id)))
    if len(ids) != len(params):
        raise RuntimeError("another writer inserted rows during a bulk insert")
    return ids


def pg_insert_from_json(dialect: t.Any, table: t.Any, params: list[dict[str, t.Any]], *,
                        returning: str, suffix: str = "") -> tuple[t.Any, dict[str, str]]:
    """``INSERT ... SELECT FROM jsonb_to_recordset(:rows)``: every row in one parameter.

    Thousands of placeholders (or text arrays) make psycopg spend most of the
    time building the query; one JSON document is encoded by the json module.
    """
    quote = dialect.identifier_preparer.quote
    columns = list(params[0])
    names = ", ".join(quote(c) for c in columns)
    record = ", ".join(f"{quote(c)} {table.c[c].type.compile(dialect=dialect)}" for c in columns)
    sql = (f"INSERT INTO {quote(table.name)} ({names}) SELECT {names} FROM"
           f" jsonb_to_recordset(CAST(:rows AS JSONB)) AS r({record}) {suffix}"
           f" RETURNING {quote(returning)}")
    return text(sql), {"rows": json.dumps(params, default=_json_value)}


def _json_value(value: t.Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def id_in(column: t.Any, ids: list[int]) -> t.Any:
    """``column IN ids``; on PostgreSQL ``= ANY(array)``, one parameter for any count."""
    from ..extension import get_state

    state = get_state()
    if state.db.engines[state.config.database_bind_key].dialect.name == "postgresql":
        return column == any_(literal(ids, ARRAY(Integer)))
    return column.in_(ids)


def _record(s: Session, spec: Spec, rows: Rows, events: list[dict[str, t.Any]],
            now: dt.datetime) -> list[Event]:
    """Insert the history rows in one statement; return them as events to dispatch."""
    if not events:
        return []
    actor = spec.actor
    params = [{**e, "actor_kind": actor.kind, "actor_name": actor.name, "at": now,
               "actor_agent_id": None, "actor_customer_id": None} for e in events]
    ids = insert_ids(s, TicketEvent.__table__, params)
    return [Event(id=event_id, type=p["type"], ticket_id=p["ticket_id"],
                  group_id=rows[p["ticket_id"]]["group_id"], actor_kind=actor.kind,
                  actor_agent_id=None, actor_customer_id=None, actor_name=actor.name,
                  data=p["data"], at=now) for event_id, p in zip(ids, params, strict=True)]
