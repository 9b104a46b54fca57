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
                          "notify", "add_tags", "remove_tags", "send_template"})

#: Template actions a set-based ``send_template`` can apply.
TEMPLATE_ACTIONS = frozenset({"status", "priority", "add_tags", "remove_tags"})

Rows = dict[int, dict[str, t.Any]]


def supports(spec: Spec) -> bool:
    """Whether :func:`apply` can run this rule.

    ``send_template`` qualifies when its template has no files and its own
    actions are among :data:`TEMPLATE_ACTIONS`.
    """
    from ..models import ReplyTemplate
    from ..models import TemplateAttachment
    from ._uow import session

    if not all(a["type"] in BULK_ACTIONS for a in spec.actions):
        return False
    for action in spec.actions:
        if action["type"] == "send_template":
            row = session().get(ReplyTemplate, action["template_id"])
            if row is None or set(row.actions or {}) - TEMPLATE_ACTIONS or session().scalar(
                    select(TemplateAttachment.id).where(
                        TemplateAttachment.template_id == row.id).limit(1)) is not None:
                return False
    return True


def apply(spec: Spec, ticket_ids: list[int]) -> int:
    """Apply the rule to the tickets that still meet its conditions; return how many.

    Tickets closed or merged since they were picked are left alone (skipped).
    """
    from .automation import actionable

    now = utcnow()
    with transaction() as s:
        query = select(
            Ticket.id, Ticket.status, Ticket.priority, Ticket.group_id, Ticket.assignee_id,
            Ticket.channel,
            Ticket.account,
        ).where(id_in(Ticket.id, ticket_ids), actionable(),
                rule_conditions.to_sql(spec.conditions))
        if s.get_bind(mapper=Ticket.__mapper__).dialect.name == "postgresql":
            query = query.with_for_update(of=Ticket)
        rows: Rows = {r.id: dict(r._mapping) for r in s.execute(query)}
        if rows and rule_conditions.needs_python(spec.conditions):
            from .automation import refine

            keep = set(refine(spec, list(rows)))
            rows = {tid: row for tid, row in rows.items() if tid in keep}
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
    reply = action["type"] == "reply"
    ids = [tid for tid, row in rows.items() if not (reply and row["status"] == "closed")]
    if not ids:
        return
    texts = _fill(s, action["text"], rows, ids)
    params = []
    for tid in ids:
        row = rows[tid]
        params.append({
            "ticket_id": tid, "kind": "reply" if reply else "note", "channel": row["channel"],
            "account": row["account"], "author_name": spec.actor.name, "subject": "",
            "text": texts[tid],
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


def _fill(s: Session, text: str, rows: Rows, ids: list[int]) -> dict[int, str]:
    """A rule's action text filled in for each ticket, as :func:`.rule_actions.render` does.

    The tickets are loaded once per batch, and only for a text with placeholders.

    :raises RuleTextError: The text cannot be filled in for one of them.
    """
    from sqlalchemy.orm import joinedload

    from . import _placeholders
    from .rule_actions import fill

    if "{" not in text:
        return dict.fromkeys(ids, text)
    tickets = {tk.id: tk for tk in s.scalars(select(Ticket).where(id_in(Ticket.id, ids)).options(
        joinedload(Ticket.customer).selectinload(Customer.identities),
        joinedload(Ticket.group), joinedload(Ticket.assignee)))}
    return {tid: fill(text, _placeholders.context(tickets[tid], None,
                                                  status=rows[tid]["status"]), ticket_id=tid)
            for tid in ids}


def _notify(s: Session, spec: Spec, action: dict[str, t.Any], rows: Rows,
            events: list[dict[str, t.Any]], now: dt.datetime) -> None:
    """One multi-row ``INSERT`` of every ticket's notifications, an event per ticket."""
    from ..models import AgentNotification
    from . import notifications

    chosen = notifications.plan(action, [notifications.TicketFacts(
        tid, row["group_id"], row["assignee_id"]) for tid, row in rows.items()])
    texts = _fill(s, action["message"], rows, list(rows))
    params: list[dict[str, t.Any]] = []
    owners: list[int] = []
    for tid in rows:
        mine = notifications.rows(chosen[tid], ticket_id=tid, message=texts[tid],
                                  actor_name=spec.actor.name,
                                  email=action.get("email", True), now=now)
        params.extend(mine)
        owners.extend([tid] * len(mine))
    ids = insert_ids(s, AgentNotification.__table__, params) if params else []
    by_ticket: dict[int, list[int]] = {}
    for tid, nid in zip(owners, ids, strict=True):
        by_ticket.setdefault(tid, []).append(nid)
    for tid in rows:
        _event(events, tid, "rule.notified", notifications.event_data(
            action, texts[tid], [a.id for a in chosen[tid]], by_ticket.get(tid, [])))


def _tag_changes(s: Session, spec: Spec, action: dict[str, t.Any], rows: Rows,
                 events: list[dict[str, t.Any]], now: dt.datetime) -> None:
    """Add or remove tags: one ``INSERT`` or ``DELETE``, an event per ticket changed."""
    from ..models import Tag
    from ..models import ticket_tags
    from .tickets import _tags

    adding = action["type"] == "add_tags"
    tags = _tags(action["tags"]) if adding else list(s.scalars(
        select(Tag).where(Tag.name.in_(action["tags"]))))
    if not tags:
        return
    names = {tag.id: tag.name for tag in tags}
    present = set(s.execute(select(ticket_tags.c.ticket_id, ticket_tags.c.tag_id).where(
        id_in(ticket_tags.c.ticket_id, list(rows)), ticket_tags.c.tag_id.in_(list(names)))))
    if adding:
        pairs = [(tid, tag_id) for tid in rows for tag_id in names if (tid, tag_id)
                 not in present]
        if pairs:
            s.execute(insert(ticket_tags), [{"ticket_id": a, "tag_id": b} for a, b in pairs])
    else:
        pairs = sorted(present)
        if pairs:
            s.execute(ticket_tags.delete().where(
                id_in(ticket_tags.c.ticket_id, sorted({a for a, _b in pairs})),
                ticket_tags.c.tag_id.in_(list(names))))
    changed: dict[int, list[str]] = {}
    for tid, tag_id in pairs:
        changed.setdefault(tid, []).append(names[tag_id])
    for tid, changed_names in changed.items():
        _event(events, tid, "ticket.tags_changed", {
            "added": sorted(changed_names) if adding else [],
            "removed": [] if adding else sorted(changed_names)})


def _send_template(s: Session, spec: Spec, action: dict[str, t.Any], rows: Rows,
                   events: list[dict[str, t.Any]], now: dt.datetime) -> None:
    """Fill the template for each ticket, insert the replies, apply the template's actions.

    The same rows and events as :func:`~flask_helpdesk.services.messages.reply`
    with ``template_id``: the reply (queued in the outbox), ``template.applied``,
    the template's changes, and the use counted.
    """
    from sqlalchemy.orm import joinedload

    from ..models import ReplyTemplate
    from ..models import TemplateUsage
    from . import _placeholders

    template = s.get_one(ReplyTemplate, action["template_id"])
    ids = [tid for tid, row in rows.items() if row["status"] != "closed"]
    if not ids:
        return
    tickets = {tk.id: tk for tk in s.scalars(select(Ticket).where(id_in(Ticket.id, ids)).options(
        joinedload(Ticket.customer).selectinload(Customer.identities),
        joinedload(Ticket.group), joinedload(Ticket.assignee)))}
    text = _placeholders.renderer(template.body)
    html = _placeholders.renderer(template.body_html, html=True) if template.body_html else None
    params = []
    for tid in ids:
        values = _placeholders.context(tickets[tid], None)
        row = rows[tid]
        params.append({
            "ticket_id": tid, "kind": "reply", "channel": row["channel"],
            "account": row["account"], "author_name": spec.actor.name, "subject": "",
            "text": text(values), "html": html(values) if html else None,
            "meta": {"automatic": True}, "created_at": now, "attempts": 0,
            "delivery_state": "queued", "next_attempt_at": now})
    message_ids = insert_ids(s, Message.__table__, params)
    for tid, message_id in zip(ids, message_ids, strict=True):
        _event(events, tid, "message.replied", {
            "message_id": message_id, "channel": rows[tid]["channel"],
            "template_id": template.id, "delivery": "queued"})
        _event(events, tid, "template.applied", {
            "template_id": template.id, "name": template.name, "message_id": message_id})
        rows[tid]["_set"]["last_agent_reply_at"] = now
    s.execute(update(ReplyTemplate).where(ReplyTemplate.id == template.id).values(
        usage_count=ReplyTemplate.usage_count + len(ids), last_used_at=now)
        .execution_options(synchronize_session=False))
    s.execute(insert(TemplateUsage), [
        {"template_id": template.id, "ticket_id": tid, "message_id": message_id,
         "agent_id": None, "at": now} for tid, message_id in zip(ids, message_ids, strict=True)])
    chosen = {tid: rows[tid] for tid in ids}
    for name, value in (template.actions or {}).items():
        kind = {"status": "set_status", "priority": "set_priority"}.get(name, name)
        key = {"add_tags": "tags", "remove_tags": "tags"}.get(name, name)
        _HANDLERS[kind](s, spec, {"type": kind, key: value}, chosen, events, now)


_HANDLERS: dict[str, t.Callable[..., None]] = {
    "set_priority": _priority, "raise_priority": _priority, "set_status": _status,
    "note": _messages, "reply": _messages, "notify": _notify,
    "add_tags": _tag_changes, "remove_tags": _tag_changes, "send_template": _send_template,
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
    if dialect.name == "sqlite":
        _sqlite_executemany(s, dialect, table, params)
    else:  # pragma: no cover - other databases
        s.execute(insert(table), params)
    ids = list(s.scalars(select(table.c.id).where(table.c.id > before).order_by(table.c.id)))
    if len(ids) != len(params):
        raise RuntimeError("another writer inserted rows during a bulk insert")
    return ids


def _sqlite_executemany(s: Session, dialect: t.Any, table: t.Any,
                        params: list[dict[str, t.Any]]) -> None:
    """``INSERT`` the rows with one DB-API ``executemany``.

    SQLAlchemy's own executemany processes every parameter of every row
    generically; here each column's bind processor (JSON, datetime) is looked
    up once, and a processed value equal in every row is processed once.
    """
    from operator import itemgetter

    first = params[0]
    plain: list[str] = []
    processed: list[tuple[str, t.Callable[[t.Any], t.Any]]] = []
    fixed: list[tuple[str, t.Any]] = []
    for c in first:
        proc = table.c[c].type.dialect_impl(dialect).bind_processor(dialect)
        if proc is None:
            plain.append(c)
        elif all(p[c] == first[c] for p in params):
            fixed.append((c, proc(first[c])))
        else:
            processed.append((c, proc))
    columns = [*plain, *(c for c, _ in processed), *(c for c, _ in fixed)]
    quote = dialect.identifier_preparer.quote
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)})"
           f" VALUES ({', '.join('?' for _ in columns)})")
    get = itemgetter(*plain) if plain else (lambda p: ())
    single = len(plain) == 1
    tail = tuple(v for _, v in fixed)
    rows = [((get(p),) if single else get(p)) + tuple(proc(p[c]) for c, proc in processed)
            + tail for p in params]
    s.connection().exec_driver_sql(sql, rows)


def pg_insert_from_json(dialect: t.Any, table: t.Any, params: list[dict[str, t.Any]], *,
                        returning: str, suffix: str = "") -> tuple[t.Any, dict[str, t.Any]]:
    """``INSERT ... SELECT FROM jsonb_to_recordset(:rows)``: every row in one parameter.

    Thousands of placeholders (or text arrays) make psycopg spend most of the
    time building the query; one JSON document is encoded by the json module.
    Columns with the same value in every row (the time, the actor) are bound
    once instead, which keeps the document, its encoding and the server's
    parsing small.
    """
    from sqlalchemy import bindparam

    quote = dialect.identifier_preparer.quote
    columns = list(params[0])
    first = params[0]
    constant = [c for c in columns if all(p[c] == first[c] for p in params)] if len(
        params) > 1 else []
    varying = [c for c in columns if c not in constant] or columns[:1]
    constant = [c for c in constant if c not in varying]
    names = ", ".join(quote(c) for c in (*varying, *constant))
    record = ", ".join(f"{quote(c)} {table.c[c].type.compile(dialect=dialect)}" for c in varying)
    values = ", ".join([*(f"r.{quote(c)}" for c in varying), *(f":c_{i}" for i in range(
        len(constant)))])
    sql = (f"INSERT INTO {quote(table.name)} ({names}) SELECT {values} FROM"
           f" jsonb_to_recordset(CAST(:rows AS JSONB)) AS r({record}) {suffix}"
           f" RETURNING {quote(returning)}")
    stmt = text(sql).bindparams(*(bindparam(f"c_{i}", type_=table.c[c].type)
                                  for i, c in enumerate(constant)))
    rows = [{c: p[c] for c in varying} for p in params]
    return stmt, {"rows": json.dumps(rows, default=_json_value),
                  **{f"c_{i}": first[c] for i, c in enumerate(constant)}}


def _json_value(value: t.Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def id_in(column: t.Any, ids: list[int]) -> t.Any:
    """``column IN ids`` with one parameter for any count: ``= ANY(array)`` on
    PostgreSQL, ``IN (SELECT value FROM json_each(?))`` on SQLite."""
    from ..extension import get_state

    state = get_state()
    name = state.db.engines[state.config.database_bind_key].dialect.name
    if name == "postgresql":
        return column == any_(literal(ids, ARRAY(Integer)))
    if name == "sqlite" and len(ids) > 20:
        # One JSON parameter instead of one per id: SQLite reads it with json_each.
        each = func.json_each(json.dumps([int(i) for i in ids])).table_valued("value")
        return column.in_(select(each.c.value))
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
