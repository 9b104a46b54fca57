"""Workload C of shared/bench/README.md: a time rule over the 100,000 tickets of workload B.

The rule: "raise the priority of every open ticket untouched for 3 days, add a
note, notify the customer" (a time rule since ``updated``, 3 days, status
open; actions ``raise_priority``, ``note``, ``reply``).

Pass 1 (timed, median of ``--copies`` fresh copies of the database): one tick
(the set-based scan, inserting the ledger rows) plus the ``rules_apply`` jobs
it sends, run in this process one after the other: the field changes, the
notes, the replies queued in the outbox, the history events inserted and
dispatched after each commit. Delivering the replies is not timed: their
``deliver_message`` jobs stay queued (the count is checked). Pass 2 (timed):
the same tick at once again; nothing may fire. SQL statements are counted
with a ``before_cursor_execute`` listener. The last line is ``RESULT ...``.

    python benchmarks/time_rules.py --db both
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import typing as t
import uuid

import dramatiq
import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import workload_b  # noqa: E402
from flask_helpdesk.extension import get_state  # noqa: E402
from flask_helpdesk.services import SYSTEM  # noqa: E402
from flask_helpdesk.services import automation  # noqa: E402
from flask_helpdesk.services import rules  # noqa: E402
from flask_helpdesk.tasks import QUEUE  # noqa: E402
from flask_helpdesk.testing import make_app  # noqa: E402

PG_URL = os.environ.get("HELPDESK_TEST_POSTGRESQL", "postgresql+psycopg://postgres@127.0.0.1:5432")
RULE = {
    "name": "Stale open tickets",
    "when": {"type": "time", "since": "updated", "minutes": 3 * 24 * 60},
    "conditions": {"all": [{"field": "status", "op": "is", "value": "open"}]},
    "actions": [
        {"type": "raise_priority"},
        {"type": "note", "text": "No activity for 3 days: priority raised."},
        {"type": "reply", "text": "Hello {customer_name}, ticket #{ticket_id} is not"
                                  " forgotten: we are on it."},
    ],
    "enabled": True,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        result = run(db, args)
        print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    return 0


def run(db: str, args: argparse.Namespace) -> dict[str, t.Any]:
    template = Template(db)
    try:
        with template.app() as app:
            started = time.perf_counter()
            workload_b.build(get_state(app).db.engine, tickets=args.tickets, seed=args.seed)
            print(f"[{db}] built {args.tickets} tickets in"
                  f" {time.perf_counter() - started:.1f} s", flush=True)
        runs = []
        for i in range(args.copies):
            with template.copy(i) as app:
                runs.append(measure(app, db))
                print(f"[{db}] copy {i + 1}: {runs[-1]}", flush=True)
    finally:
        template.drop()
    fired = {r["fired"] for r in runs}
    assert len(fired) == 1, f"copies disagree: {runs}"
    return {
        "db": db, "tickets": args.tickets, "fired": fired.pop(),
        "pass1_s": round(statistics.median(r["pass1_s"] for r in runs), 3),
        "pass2_s": round(statistics.median(r["pass2_s"] for r in runs), 3),
        "statements_per_ticket": runs[0]["statements_per_ticket"],
        "pass2_statements": runs[0]["pass2_statements"],
        "replies_queued": runs[0]["replies_queued"],
    }


def measure(app: t.Any, db: str) -> dict[str, t.Any]:
    state = get_state(app)
    engine = state.db.engine
    rules.create_rule(actor=SYSTEM, **RULE)
    counter = workload_b.Counter(engine)
    started = time.perf_counter()
    fired = automation.tick(now=workload_b.NOW)
    deliveries = _run_apply_jobs(state.jobs.broker)
    pass1 = time.perf_counter() - started
    statements = counter.n
    state.db.session.remove()
    counter.n = 0
    started = time.perf_counter()
    again = automation.tick(now=workload_b.NOW)
    pass2 = time.perf_counter() - started
    assert again == 0, f"pass 2 fired {again}"
    assert deliveries == fired, (deliveries, fired)
    with engine.connect() as conn:
        touched = conn.scalar(sa.text(
            "SELECT count(*) FROM helpdesk_ticket_events WHERE actor_name = :n"
            " AND type = 'message.replied'"), {"n": f"Rule: {RULE['name']}"})
    assert touched == fired, (touched, fired)
    return {"fired": fired, "pass1_s": round(pass1, 3), "pass2_s": round(pass2, 3),
            "statements_per_ticket": round(statements / max(fired, 1), 3),
            "pass2_statements": counter.n, "replies_queued": deliveries}


def _run_apply_jobs(broker: t.Any) -> int:
    """Run the queued ``rules_apply`` jobs here; count the deliveries they queue."""
    queue = broker.queues[QUEUE]
    deliveries = 0
    while not queue.empty():
        message = dramatiq.Message.decode(queue.get_nowait())
        if message.actor_name == "helpdesk.rules_apply":
            automation.apply_batch(*message.args)
        elif message.actor_name == "helpdesk.deliver_message":
            deliveries += 1
    return deliveries


class Template:
    """The built database and fresh copies of it (a file copy, or CREATE DATABASE TEMPLATE)."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.dir = tempfile.mkdtemp(prefix="helpdesk-bench-")
        self.name = f"helpdesk_bench_{uuid.uuid4().hex[:8]}"
        self.admin = sa.create_engine(f"{PG_URL}/postgres", isolation_level="AUTOCOMMIT") \
            if db == "postgresql" else None
        self.copies: list[str] = []
        if self.admin is not None:
            self._sql(f'CREATE DATABASE "{self.name}"')

    def _sql(self, statement: str) -> None:
        assert self.admin is not None
        with self.admin.connect() as conn:
            conn.execute(sa.text(statement))

    def uri(self, name: str) -> str:
        if self.db == "sqlite":
            return f"sqlite:///{os.path.join(self.dir, name + '.db')}"
        return f"{PG_URL}/{name}"

    def app(self, name: str | None = None) -> t.Any:
        return _AppContext(self.uri(name or self.name))

    def copy(self, i: int) -> t.Any:
        name = f"{self.name}_c{i}"
        if self.db == "sqlite":
            shutil.copy(os.path.join(self.dir, self.name + ".db"),
                        os.path.join(self.dir, name + ".db"))
        else:
            self._sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
            self.copies.append(name)
        return self.app(name)

    def drop(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.admin is not None:
            for name in (*self.copies, self.name):
                self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.admin.dispose()


class _AppContext:
    def __init__(self, uri: str) -> None:
        self.flask = make_app(database_uri=uri, config={"HELPDESK_SWEEP_INTERVAL": 0})
        self.ctx = self.flask.app_context()

    def __enter__(self) -> t.Any:
        self.ctx.push()
        return self.flask

    def __exit__(self, *exc: object) -> None:
        state = get_state(self.flask)
        state.db.session.remove()
        for engine in state.db.engines.values():
            engine.dispose()
        self.ctx.pop()
        state.jobs.stop()


if __name__ == "__main__":
    raise SystemExit(main())
