"""Workload C of shared/bench/README.md: a time rule over the 100,000 tickets of workload B.

The rule: "raise the priority of every open ticket untouched for 3 days, add a
note, notify the customer" (a time rule since ``updated``, 3 days, status
open; actions ``raise_priority``, ``note``, ``reply``).

Pass 1 (timed, median of ``--copies`` fresh copies of the database): one tick
(the set-based scan, inserting the ledger rows, in batches) plus the
``rules_apply`` jobs it sends: the field changes, the notes, the replies
queued in the outbox, the history events inserted and dispatched after each
commit. The jobs run while the tick goes on, on ``--apply-threads`` threads
of this process taking them from the broker's queue, as the embedded worker
does with its default two threads (``--apply-threads 1``: one after the
other). Delivering the replies is not timed: their ``deliver_messages`` jobs
are taken off the queue and counted, not run. Pass 2 (timed):
the same tick at once again; nothing may fire. SQL statements are counted
with a ``before_cursor_execute`` listener. The last line is ``RESULT ...``.

    python benchmarks/time_rules.py --db both
"""

from __future__ import annotations

import argparse
import cProfile
import os
import queue
import shutil
import statistics
import sys
import tempfile
import threading
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
    parser.add_argument("--apply-threads", type=int, default=2,
                        help="threads running the rules_apply jobs (default 2)")
    parser.add_argument("--profile", metavar="PATH",
                        help="write a cProfile of the first copy's pass 1 to PATH.<db>"
                             " (the tick's thread; with --apply-threads 1 the jobs too)")
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
                runs.append(measure(app, db, args.apply_threads, args.profile and (
                    f"{args.profile}.{db}" if i == 0 else None)))
                print(f"[{db}] copy {i + 1}: {runs[-1]}", flush=True)
    finally:
        template.drop()
    fired = {r["fired"] for r in runs}
    assert len(fired) == 1, f"copies disagree: {runs}"
    return {
        "db": db, "tickets": args.tickets, "apply_threads": args.apply_threads,
        "fired": fired.pop(),
        "pass1_s": round(statistics.median(r["pass1_s"] for r in runs), 3),
        "pass2_s": round(statistics.median(r["pass2_s"] for r in runs), 3),
        "statements_per_ticket": runs[0]["statements_per_ticket"],
        "pass2_statements": runs[0]["pass2_statements"],
        "replies_queued": runs[0]["replies_queued"],
    }


def measure(app: t.Any, db: str, threads: int = 2,
            profile: str | None = None) -> dict[str, t.Any]:
    state = get_state(app)
    engine = state.db.engine
    rules.create_rule(actor=SYSTEM, **RULE)
    counter = workload_b.Counter(engine)
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    if threads > 1:
        with _ApplyThreads(app, threads) as workers:
            fired = automation.tick(now=workload_b.NOW)
        deliveries = workers.deliveries
    else:
        fired = automation.tick(now=workload_b.NOW)
        deliveries = _run_apply_jobs(state.jobs.broker)
    pass1 = time.perf_counter() - started
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
        print(f"[{db}] pass 1 profile written to {profile}", flush=True)
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
    return {"fired": fired, "apply_threads": threads, "pass1_s": round(pass1, 3),
            "pass2_s": round(pass2, 3),
            "statements_per_ticket": round(statements / max(fired, 1), 3),
            "pass2_statements": counter.n, "replies_queued": deliveries}


def _run_apply_jobs(broker: t.Any) -> int:
    """Run the queued ``rules_apply`` jobs here; count the deliveries they queue."""
    queue = broker.queues[QUEUE]
    deliveries = 0
    while not queue.empty():
        deliveries += _take(dramatiq.Message.decode(queue.get_nowait()))
    return deliveries


def _take(message: t.Any) -> int:
    """Run a ``rules_apply`` job; return the number of replies a delivery job carries."""
    if message.actor_name == "helpdesk.rules_apply":
        automation.apply_batch(*message.args)
    elif message.actor_name == "helpdesk.deliver_message":
        return 1
    elif message.actor_name == "helpdesk.deliver_messages":
        return len(message.args[0])
    return 0


class _ApplyThreads:
    """Threads taking the jobs off the stub broker's queue while the tick runs.

    On leaving the ``with`` block (the tick is done) they empty the queue and
    stop; :attr:`deliveries` is then the number of replies queued.
    """

    def __init__(self, app: t.Any, n: int) -> None:
        self.app, self.queue = app, get_state(app).jobs.broker.queues[QUEUE]
        self.ticking = threading.Event()
        self.deliveries = 0
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(n)]

    def __enter__(self) -> _ApplyThreads:
        self.ticking.set()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ticking.clear()
        for thread in self.threads:
            thread.join()
        if self.errors:
            raise self.errors[0]

    def _run(self) -> None:
        with self.app.app_context():
            try:
                while True:
                    try:
                        raw = self.queue.get(timeout=0.002)
                    except queue.Empty:
                        if not self.ticking.is_set() and self.queue.empty():
                            return
                        continue
                    n = _take(dramatiq.Message.decode(raw))
                    with self._lock:
                        self.deliveries += n
            except BaseException as exc:  # re-raised in the main thread
                self.errors.append(exc)
            finally:
                get_state(self.app).db.session.remove()


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
