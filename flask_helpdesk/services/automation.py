"""The rules engine: event rules after commit, the time-rule tick, manual runs.

- Event rules run from the ``helpdesk_ticket_event`` hook (the default plugin
  ``plugins/defaults/rules.py``), in position order, each on the ticket as it
  is now. A rule never reacts to its own changes, nor to imported history,
  and chains of rules stop at :data:`MAX_DEPTH`.
- The tick (:func:`tick`) finds, for each time rule, every due ticket with no
  ledger row for its current anchor in one set-based query per batch, inserts
  the ledger rows first, then sends ``rules_apply`` jobs for the batches.
- A manual run (:func:`execute_run`) walks the matching tickets by id and
  keeps its progress in a :class:`~flask_helpdesk.models.RuleRun`.

A rule whose actions can no longer work (a deleted group, a deactivated
agent) is paused with its error; the ticket it failed on is left unchanged
because each ticket's actions run in one transaction.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import logging
import threading
import time
import typing as t

from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from ..errors import HelpdeskError
from ..extension import get_state
from ..models import Rule
from ..models import RuleFiring
from ..models import RuleRun
from ..models import Ticket
from ..models import utcnow
from . import rule_actions
from . import rule_business_hours
from . import rule_conditions
from ._uow import SystemActor
from ._uow import session
from ._uow import transaction

if t.TYPE_CHECKING:
    from sqlalchemy import ColumnElement

    from ..events import Event
    from ..state import HelpdeskState

log = logging.getLogger("flask_helpdesk.rules")

#: How many rules deep a chain of event rules may go (a rule's change
#: starting another rule is one level).
MAX_DEPTH = 3

#: Tickets per ledger batch and per ``rules_apply`` job.
BATCH_SIZE = 2000

#: Seconds a process keeps its list of enabled event rules before reloading.
CACHE_SECONDS = 2.0

_depth: contextvars.ContextVar[int] = contextvars.ContextVar("helpdesk_rule_depth", default=0)


@dataclasses.dataclass(frozen=True)
class Spec:
    """A rule as the engine uses it: detached from the session."""

    id: int
    name: str
    trigger: str
    when: dict[str, t.Any]
    conditions: dict[str, t.Any]
    actions: list[dict[str, t.Any]]

    @classmethod
    def of(cls, rule: Rule) -> Spec:
        return cls(rule.id, rule.name, rule.trigger, dict(rule.when), dict(rule.conditions),
                   list(rule.actions))

    @property
    def actor(self) -> SystemActor:
        return SystemActor(name=f"Rule: {self.name}", kind="rule")


def anchor_column(since: str) -> ColumnElement[dt.datetime]:
    """The SQL timestamp an anchor names; its value is the episode key."""
    columns: dict[str, t.Any] = {
        "created": Ticket.created_at,
        "updated": Ticket.updated_at,
        "status_changed": Ticket.status_changed_at,
        "last_customer_message": func.coalesce(Ticket.last_customer_message_at,
                                               Ticket.created_at),
        "last_agent_reply": func.coalesce(Ticket.last_agent_reply_at, Ticket.created_at),
    }
    return t.cast("ColumnElement[dt.datetime]", columns[since])


# ------------------------------------------------------------- event rules

_cache: dict[int, tuple[float, list[Spec]]] = {}
_cache_lock = threading.Lock()


def forget_rules() -> None:
    """Drop this process's cached rules (after a rule changed)."""
    with _cache_lock:
        _cache.clear()


def _event_rules(state: HelpdeskState) -> list[Spec]:
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(id(state))
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    rules = session().scalars(select(Rule).where(
        Rule.enabled.is_(True), Rule.trigger == "event").order_by(Rule.position, Rule.id))
    specs = [Spec.of(rule) for rule in rules]
    with _cache_lock:
        _cache[id(state)] = (now, specs)
    return specs


def event_matches(when: t.Mapping[str, t.Any], event: Event) -> bool:
    """Whether an event is what a rule's "when" waits for."""
    on, data = when["on"], event.data
    if on in ("ticket.created", "message.received", "message.replied", "note.added"):
        return bool(event.type == on)
    if on == "tag.added":
        return event.type == "ticket.tags_changed" and when["tag"] in data.get("added", ())
    change = _field_change(event, when["field"])
    if change is None:
        return False
    old, new = change
    return old != new and all(when[key] == value for key, value in (
        ("from", old), ("to", new)) if key in when)


def _field_change(event: Event, name: str) -> tuple[t.Any, t.Any] | None:
    data = event.data
    if name == "status" and event.type == "ticket.status_changed":
        return data["old"], data["new"]
    if name in ("group", "assignee") and event.type == "ticket.assigned":
        key = "group_" if name == "group" else ""
        return data[f"{key}old"], data[f"{key}new"]
    if event.type == "ticket.updated" and data.get("field") == name:
        return data["old"], data["new"]
    return None


def on_event(state: HelpdeskState, event: Event) -> None:
    """Run the enabled event rules waiting for ``event`` (after its commit).

    Events of imported history (``imported: true`` in their data) run no rule.
    """
    if event.data.get("imported"):
        return
    depth = _depth.get()
    rules = [spec for spec in _event_rules(state) if event_matches(spec.when, event)
             and not (event.actor_kind == "rule" and event.actor_name == spec.actor.name)]
    if not rules:
        return
    if depth >= MAX_DEPTH:
        log.warning("rule chain stopped at depth %d on ticket %s (%s)", depth,
                    event.ticket_id, ", ".join(spec.name for spec in rules))
        return
    token = _depth.set(depth + 1)
    try:
        with rule_business_hours.evaluating_at(event.at):
            for spec in rules:
                try:
                    apply_rule(spec, event.ticket_id)
                except HelpdeskError as exc:
                    # Paused with its error (logged then) or refused by this
                    # ticket; the next rules still run.
                    log.info("rule %r left ticket %s unchanged: %s", spec.name,
                             event.ticket_id, exc)
    finally:
        _depth.reset(token)


def apply_rule(spec: Spec, ticket_id: int, *, check: bool = True) -> bool:
    """Apply a rule's actions to one ticket in one transaction, if it meets the conditions.

    :return: Whether the ticket was changed.
    :raises HelpdeskError: The actions failed; nothing of them was kept. A
        rule that can no longer work is paused first.
    """
    from .tickets import get_ticket

    try:
        with transaction(), rule_business_hours.applying(spec.id):
            ticket = get_ticket(ticket_id, actor=spec.actor, for_update=True)
            if ticket.merged_into_id is not None or (check and not rule_conditions.matches(
                    spec.conditions, rule_conditions.Facts(ticket))):
                return False
            rule_actions.apply(ticket_id, spec.actor, spec.actions)
        return True
    except HelpdeskError as exc:
        pause_if_broken(spec, exc)
        raise


def pause_if_broken(spec: Spec, exc: HelpdeskError) -> bool:
    """Pause the rule with an error when its definition no longer validates,
    or when one of its texts could not be filled in (:class:`~.rule_actions.RuleTextError`).
    """
    if isinstance(exc, rule_actions.RuleTextError):
        message = exc.message
    else:
        try:
            with transaction():
                rule_conditions.validate(spec.conditions)
                rule_actions.validate(spec.actions)
            return False
        except HelpdeskError as broken:
            message = str(broken)
    with transaction() as s:
        s.execute(update(Rule).where(Rule.id == spec.id).values(
            enabled=False, error=message, updated_at=utcnow()))
    forget_rules()
    log.warning("rule %r paused: %s (while applying: %s)", spec.name, message, exc)
    return True


# --------------------------------------------------------------- time rules

def actionable() -> t.Any:
    """Tickets time rules and manual runs act on: not merged away, not closed.

    A closed ticket cannot change (the services refuse it), so a rule never
    picks one; event rules may still react to events on closed tickets.
    """
    return Ticket.merged_into_id.is_(None) & (Ticket.status != "closed")


def candidates(rule: Rule | Spec, *, now: dt.datetime, after: int = 0,
               limit: int | None = None) -> list[int]:
    """Ids of the tickets the rule would act on now, by id (dry runs, manual runs)."""
    spec = rule if isinstance(rule, Spec) else Spec.of(rule)
    if spec.trigger == "time":
        return [tid for tid, _anchor in _due(spec, now=now, after=after, limit=limit)]
    with rule_business_hours.evaluating_at(now):
        query = select(Ticket.id).where(Ticket.id > after, actionable(),
                                        rule_conditions.to_sql(spec.conditions)
                                        ).order_by(Ticket.id)
        ids = list(session().scalars(query.limit(limit) if limit else query))
        return refine(spec, ids)


def _due(spec: Spec, *, now: dt.datetime, after: int, limit: int | None) -> list[
        tuple[int, dt.datetime]]:
    """Due tickets with no ledger row for their current anchor: one query."""
    return _scan(spec, now=now, after=after, limit=limit)[0]


def _scan(spec: Spec, *, now: dt.datetime, after: int, limit: int | None,
          only: t.Sequence[int] | None = None) -> tuple[
        list[tuple[int, dt.datetime]], int | None]:
    """:func:`_due`, and the id to continue after when the batch was full (else None).

    The next batch starts after the last ticket *scanned*, not the last one
    kept: the Python check of text conditions may drop some of a full batch.
    ``only`` limits the scan to those tickets.
    """
    with rule_business_hours.evaluating_at(now):
        anchor = anchor_column(spec.when["since"])
        fired = exists().where(RuleFiring.rule_id == spec.id,
                               RuleFiring.ticket_id == Ticket.id, RuleFiring.anchor == anchor)
        query = select(Ticket.id, anchor).where(
            Ticket.id > after, rule_business_hours.due_clause(spec.when, anchor, now),
            actionable(), rule_conditions.to_sql(spec.conditions), ~fired,
        ).order_by(Ticket.id)
        if only is not None:
            query = query.where(Ticket.id.in_(only))
        rows = [(tid, at) for tid, at in session().execute(
            query.limit(limit) if limit else query)]
        keep = set(refine(spec, [tid for tid, _at in rows]))
    more = rows[-1][0] if limit and len(rows) == limit else None
    return [(tid, at) for tid, at in rows if tid in keep], more


def refine(spec: Spec, ids: list[int]) -> list[int]:
    """Confirm SQL candidates in Python for conditions SQL only pre-filters."""
    if not ids or not rule_conditions.needs_python(spec.conditions):
        return ids
    from sqlalchemy.orm import joinedload
    from sqlalchemy.orm import selectinload

    tickets = session().scalars(select(Ticket).where(Ticket.id.in_(ids)).options(
        selectinload(Ticket.tags), joinedload(Ticket.customer)))
    ok = {tk.id for tk in tickets if rule_conditions.matches(
        spec.conditions, rule_conditions.Facts(tk))}
    return [tid for tid in ids if tid in ok]


def tick(*, now: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Fire every enabled time rule on its due tickets; return how many firings.

    Ledger rows are inserted (and committed) before the actions are sent to
    ``rules_apply`` jobs, so two ticks never fire a rule twice per episode.
    """
    now = now or utcnow()
    specs = [Spec.of(r) for r in session().scalars(select(Rule).where(
        Rule.enabled.is_(True), Rule.trigger == "time").order_by(Rule.position, Rule.id))]
    fired = 0
    for spec in specs:
        try:
            fired += _tick_rule(spec, now, batch_size)
        except HelpdeskError as exc:
            pause_if_broken(spec, exc)
    return fired


def skip_due(ticket_ids: t.Sequence[int], *, now: dt.datetime | None = None) -> int:
    """Mark what the time rules would fire on these tickets at once as done, without acting.

    Called by ingest, in its transaction, for imported messages: their old
    dates would make every time rule due on the next tick. Each enabled time
    rule that is due now on one of ``ticket_ids`` (conditions met, no ledger
    row for the current anchor) gets its ledger row for that episode, so it
    fires again only on the ticket's next episode (a new anchor: a customer
    message, an agent reply, a status change), like on any ticket.

    :return: How many ledger rows were written.
    """
    now = now or utcnow()
    s = session()
    rules = Rule.__table__
    # A Core query first: most imports meet no time rule, and then no ORM
    # query compiles in the importing process.
    if s.scalar(select(rules.c.id).where(
            rules.c.enabled.is_(True), rules.c.trigger == "time").limit(1)) is None:
        return 0
    specs = [Spec.of(r) for r in s.scalars(select(Rule).where(
        Rule.enabled.is_(True), Rule.trigger == "time").order_by(Rule.position, Rule.id))]
    skipped = 0
    ids = sorted(set(ticket_ids))
    for spec in specs:
        for start in range(0, len(ids), BATCH_SIZE):
            due, _more = _scan(spec, now=now, after=0, limit=None,
                               only=ids[start:start + BATCH_SIZE])
            skipped += len(_record_firings(s, spec, due, now)) if due else 0
    return skipped


def _tick_rule(spec: Spec, now: dt.datetime, batch_size: int) -> int:
    fired, after = 0, 0
    while True:
        with transaction() as s:
            due, more = _scan(spec, now=now, after=after, limit=batch_size)
            ids = _record_firings(s, spec, due, now) if due else []
        if ids:
            get_state().jobs.send("rules_apply", spec.id, ids)
        fired += len(ids)
        if more is None:
            return fired
        after = more


def _record_firings(s: t.Any, spec: Spec, due: list[tuple[int, dt.datetime]],
                    now: dt.datetime) -> list[int]:
    """Insert the ledger rows, skipping those a concurrent tick inserted first."""
    from sqlalchemy import insert

    table: t.Any = RuleFiring.__table__
    rows = [{"rule_id": spec.id, "ticket_id": tid, "anchor": at, "fired_at": now}
            for tid, at in due]
    dialect = s.get_bind(mapper=RuleFiring.__mapper__).dialect
    if dialect.name == "postgresql":
        from .bulk import pg_insert_from_json

        stmt, params = pg_insert_from_json(dialect, table, rows, returning="ticket_id",
                                           suffix="ON CONFLICT DO NOTHING")
        return sorted(s.scalars(stmt, params))
    # SQLite: the transaction began with BEGIN IMMEDIATE, so no other tick can
    # have inserted these rows since _due() found them missing.
    s.execute(insert(table), rows)
    return sorted(tid for tid, _at in due)


def apply_batch(rule_id: int, ticket_ids: t.Sequence[int]) -> tuple[int, int, int]:
    """Apply a rule to tickets it fired on (the ``rules_apply`` job).

    Conditions are checked again: a ticket changed since the tick is skipped.

    :return: (touched, skipped, failed).
    """
    rule = session().get(Rule, rule_id)
    if rule is None or not rule.enabled:
        return 0, len(ticket_ids), 0
    return apply_many(Spec.of(rule), ticket_ids)


def apply_many(spec: Spec, ticket_ids: t.Sequence[int]) -> tuple[int, int, int]:
    """Apply a rule to a batch of tickets that still meet its conditions.

    Actions that :mod:`.bulk` can apply set-based are, in one transaction;
    when that fails (one ticket cannot take a change) the batch goes ticket
    by ticket through the services, each in its own transaction, so the
    failing tickets are counted and the others still changed.

    :return: (touched, skipped, failed).
    """
    from . import bulk

    if bulk.supports(spec):
        try:
            touched = bulk.apply(spec, list(ticket_ids))
        except HelpdeskError as exc:
            log.info("rule %r: set-based batch refused (%s); ticket by ticket", spec.name, exc)
        else:
            return touched, len(ticket_ids) - touched, 0
    return _each(spec, ticket_ids)


def _each(spec: Spec, ticket_ids: t.Iterable[int]) -> tuple[int, int, int]:
    touched = skipped = failed = 0
    for ticket_id in ticket_ids:
        try:
            changed = apply_rule(spec, ticket_id)
        except HelpdeskError:
            failed += 1
            if _paused(spec.id):
                break
            continue
        touched, skipped = touched + changed, skipped + (not changed)
    return touched, skipped, failed


def _paused(rule_id: int) -> bool:
    """Whether the rule was paused with an error (a disabled manual rule still runs)."""
    return session().scalar(select(Rule.error).where(Rule.id == rule_id)) is not None


# ------------------------------------------------------------------ webhooks

def webhook_payload(event_id: int) -> tuple[str, bytes] | None:
    """The URL and JSON body of a queued webhook call, or None if its event is gone."""
    import json

    from ..models import TicketEvent

    s = session()
    event = s.get(TicketEvent, event_id)
    if event is None or event.type != "rule.webhook_queued":
        return None
    ticket = s.get_one(Ticket, event.ticket_id)
    body = {
        "event": "rule.webhook", "event_id": event.id, "rule": event.actor_name.removeprefix(
            "Rule: "), "at": event.at.isoformat() + "Z",
        "ticket": {"id": ticket.id, "subject": ticket.subject, "status": ticket.status,
                   "priority": ticket.priority_name, "channel": ticket.channel,
                   "group_id": ticket.group_id, "assignee_id": ticket.assignee_id,
                   "customer_id": ticket.customer_id},
    }
    return str(event.data["url"]), json.dumps(body, sort_keys=True).encode()


def sign(secret: str, body: bytes) -> str:
    """The ``X-Helpdesk-Signature`` header value: ``sha256=<hex HMAC>``."""
    import hashlib
    import hmac

    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def call_webhook(event_id: int) -> None:
    """POST the webhook of a ``rule.webhook_queued`` event.

    :raises OSError: The request failed or timed out, or the answer was not
        2xx; the job is retried with backoff.
    """
    import urllib.request

    found = webhook_payload(event_id)
    if found is None:
        return
    url, body = found
    config = get_state().config
    headers = {"Content-Type": "application/json", "User-Agent": "flask-helpdesk",
               "X-Helpdesk-Event": str(event_id)}
    secret = config["HELPDESK_WEBHOOK_SECRET"]
    if secret:
        headers["X-Helpdesk-Signature"] = sign(secret, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=config["HELPDESK_WEBHOOK_TIMEOUT"]) as answer:
        if not 200 <= answer.status < 300:
            raise OSError(f"webhook {url} answered {answer.status}")


# --------------------------------------------------------------- manual runs

def execute_run(run_id: int, *, fan_out: bool = False) -> RuleRun:
    """Run a queued manual run: find its tickets, then apply the rule batch by batch.

    With ``fan_out`` (the ``rules_run`` job) each batch of
    :data:`HELPDESK_RULE_RUN_BATCH_SIZE` tickets is sent as a
    ``rules_run_batch`` job, so every worker takes a share; otherwise (the
    CLI) the batches run here. Progress is committed per batch; the batch
    that completes the count marks the run done.
    """
    s = session()
    run = s.get(RuleRun, run_id)
    if run is None or run.state not in ("queued", "running"):
        raise LookupError(f"rule run {run_id} is not waiting to run")
    spec = Spec.of(s.get_one(Rule, run.rule_id))
    now = utcnow()
    if spec.trigger == "time":
        # The ledger holds manual firings too, so the tick does not repeat them.
        with transaction() as tx:
            due = _due(spec, now=now, after=0, limit=None)
            ids = _record_firings(tx, spec, due, now) if due else []
    else:
        ids = candidates(spec, now=now)
    _progress(run_id, state="running" if ids else "done", total=len(ids),
              finished_at=None if ids else utcnow())
    size = max(1, int(get_state().config["HELPDESK_RULE_RUN_BATCH_SIZE"]))
    batches = [ids[start:start + size] for start in range(0, len(ids), size)]
    for batch in batches:
        if fan_out and len(batches) > 1:
            get_state().jobs.send("rules_run_batch", run_id, batch)
        elif not run_batch(run_id, batch):
            break
    return s.get_one(RuleRun, run_id)


def run_batch(run_id: int, ticket_ids: t.Sequence[int]) -> bool:
    """Apply a run's rule to one batch and count it (the ``rules_run_batch`` job).

    :return: Whether the run goes on (False once it ended: done, or stopped
        because the rule was paused).
    """
    s = session()
    s.expire_all()
    run = s.get(RuleRun, run_id)
    if run is None or run.state != "running":
        return False
    spec = Spec.of(s.get_one(Rule, run.rule_id))
    try:
        touched, skipped, failed = apply_many(spec, ticket_ids)
    except Exception as exc:  # a lost database, a bug: count the batch, let the run end
        s.rollback()
        log.exception("rule %r: batch of run %s failed", spec.name, run_id)
        touched, skipped, failed = 0, 0, len(ticket_ids)
        _progress(run_id, error=str(exc)[:2000])
    with transaction() as tx:
        done, total = tx.execute(update(RuleRun).where(RuleRun.id == run_id).values(
            done=RuleRun.done + len(ticket_ids), touched=RuleRun.touched + touched,
            skipped=RuleRun.skipped + skipped, failed=RuleRun.failed + failed,
        ).returning(RuleRun.done, RuleRun.total)).one()
    if failed and _paused(spec.id):
        error = s.scalar(select(Rule.error).where(Rule.id == spec.id))
        _progress(run_id, state="failed", error=error, finished_at=utcnow())
        return False
    if done >= total:
        _finish(run_id)
        return False
    return True


def _finish(run_id: int) -> None:
    with transaction() as s:
        s.execute(update(RuleRun).where(RuleRun.id == run_id, RuleRun.state == "running")
                  .values(state="done", finished_at=utcnow()))


def _progress(run_id: int, **values: t.Any) -> None:
    with transaction() as s:
        s.execute(update(RuleRun).where(RuleRun.id == run_id).values(**values))
