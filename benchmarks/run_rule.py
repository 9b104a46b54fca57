""""Run rule" over 10,000 tickets with the Redis broker and two ``flask helpdesk worker`` processes.

The data: the tickets of workload B (``benchmarks/workload_b.py``), all open
and all tagged ``outage``, in a temporary PostgreSQL database (or SQLite
file). The rule: manual, "tags has any outage", actions: send the shared
reply template "Outage notice" (filled in per ticket; the template itself
adds the tag ``outage-notice-sent``), add the tag ``outage-notified``, set
the status to pending.

Two ``flask helpdesk worker`` processes (``--threads`` each) run on
``HELPDESK_BROKER_URL=--redis`` (its database is emptied first). Timed: from
:func:`~flask_helpdesk.services.rules.run_rule` (the ``rules_run`` job is
sent) until the run is done; the ``rules_run`` job finds the tickets and
sends one ``rules_run_batch`` job per :data:`HELPDESK_RULE_RUN_BATCH_SIZE`
tickets, which the workers share. Then the history is checked: every ticket
has the reply, the tags and the status change, each a history event naming
the rule, and the replies are queued in the outbox (the workers deliver them
after the batches; that is not timed). The last line is ``RESULT ...``.

    python benchmarks/run_rule.py --db postgresql
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid

import sqlalchemy as sa

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks import workload_b  # noqa: E402
from flask_helpdesk.extension import get_state  # noqa: E402
from flask_helpdesk.models import RuleRun  # noqa: E402
from flask_helpdesk.services import SYSTEM  # noqa: E402
from flask_helpdesk.services import rules  # noqa: E402
from flask_helpdesk.services import templates  # noqa: E402
from flask_helpdesk.testing import make_app  # noqa: E402

PG_URL = os.environ.get("HELPDESK_TEST_POSTGRESQL", "postgresql+psycopg://postgres@127.0.0.1:5432")
RULE_NAME = "Outage notice"
TEMPLATE = ("Hello {{ customer.first_name }},\n\nour service is down since this morning and"
            " ticket #{{ ticket.id }} is affected. We are on it and will write again when"
            " it is back.\n\n{{ agent.name }}")


def worker_app() -> t.Any:
    """The app of the worker processes (``flask --app benchmarks.run_rule:worker_app``)."""
    return _app(os.environ["BENCH_DATABASE_URI"], os.environ["BENCH_BROKER_URL"],
                int(os.environ["BENCH_BATCH_SIZE"]))


def _app(uri: str, broker: str, batch_size: int) -> t.Any:
    return make_app(database_uri=uri, config={
        "HELPDESK_BROKER_URL": broker, "HELPDESK_SWEEP_INTERVAL": 0,
        "HELPDESK_RULE_RUN_BATCH_SIZE": batch_size, "HELPDESK_RULES_TICK_INTERVAL": 0})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9",
                        help="Broker URL; its Redis database is emptied first.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="Threads per worker.")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    database = Database(args.db)
    try:
        result = run(database, args)
    finally:
        database.drop()
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    return 0


def run(database: Database, args: argparse.Namespace) -> dict[str, t.Any]:
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    app = _app(database.uri, args.redis, args.batch_size)
    with app.app_context():
        started = time.perf_counter()
        engine = get_state().db.engine
        workload_b.build(engine, tickets=args.tickets, seed=42)
        rule_id = _outage(engine)
        print(f"[{args.db}] built {args.tickets} tickets tagged outage in"
              f" {time.perf_counter() - started:.1f} s", flush=True)
        logs = [os.path.join(database.dir, f"worker{i}.log") for i in range(args.workers)]
        workers = [_worker(database.uri, args, log) for log in logs]
        try:
            for proc, log in zip(workers, logs, strict=True):
                _wait_ready(proc, log)
            started = time.perf_counter()
            run_id = rules.run_rule(rule_id, actor=SYSTEM).id
            run = _wait_done(run_id, args.timeout)
            seconds = time.perf_counter() - started
            print(f"[{args.db}] run {run_id}: {run} in {seconds:.1f} s", flush=True)
            checked = _check(engine, args.tickets)
        finally:
            for proc in workers:
                proc.terminate()
            for proc in workers:
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
            for log in logs:
                with open(log, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                if "Traceback" in text:
                    first = text[text.index("Traceback"):].splitlines()[:40]
                    print(f"  {log}: {text.count('Traceback')} tracebacks, the first:\n    "
                          + "\n    ".join(first), flush=True)
        state = get_state()
        state.db.session.remove()
        state.jobs.stop()
        engine.dispose()
    return {"tickets": run["total"], "seconds": round(seconds, 1), "touched": run["touched"],
            "skipped": run["skipped"], "failed": run["failed"], "workers": args.workers,
            "threads": args.threads, "batch_size": args.batch_size, "db": args.db, **checked}


def _outage(engine: sa.Engine) -> int:
    """Every ticket open and tagged ``outage``; the template and the manual rule."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE helpdesk_tickets SET status = 'open'"))
        conn.execute(sa.text("INSERT INTO helpdesk_tags (name) VALUES ('outage')"))
        conn.execute(sa.text(
            "INSERT INTO helpdesk_ticket_tags (ticket_id, tag_id) SELECT t.id, g.id FROM"
            " helpdesk_tickets t, helpdesk_tags g WHERE g.name = 'outage'"))
        conn.execute(sa.text("ANALYZE"))
    template = templates.create_template(actor=SYSTEM, name="Outage notice", shared=True,
                                         body=TEMPLATE,
                                         actions={"add_tags": ["outage-notice-sent"]})
    return rules.create_rule(
        actor=SYSTEM, name=RULE_NAME, when={"type": "manual"},
        conditions={"all": [{"field": "tags", "op": "has_any", "value": ["outage"]}]},
        actions=[{"type": "send_template", "template_id": template.id},
                 {"type": "add_tags", "tags": ["outage-notified"]},
                 {"type": "set_status", "status": "pending"}]).id


def _worker(uri: str, args: argparse.Namespace, log: str) -> subprocess.Popen[bytes]:
    """A ``flask helpdesk worker`` process; its output goes to the file ``log``."""
    env = {**os.environ, "BENCH_DATABASE_URI": uri, "BENCH_BROKER_URL": args.redis,
           "BENCH_BATCH_SIZE": str(args.batch_size), "PYTHONPATH": ROOT}
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    with open(log, "wb") as out:
        return subprocess.Popen(
            [flask, "--app", "benchmarks.run_rule:worker_app", "helpdesk", "worker",
             "--threads", str(args.threads), "--no-sweep"], cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT)


def _wait_ready(proc: subprocess.Popen[bytes], log: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log, encoding="utf-8", errors="replace") as f:
            if "Helpdesk worker:" in f.read():
                return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    with open(log, encoding="utf-8", errors="replace") as f:
        raise RuntimeError(f"a worker is not ready (exit {proc.poll()}):\n{f.read()}")


def _wait_done(run_id: int, timeout: float) -> dict[str, t.Any]:
    session = get_state().db.session
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while time.monotonic() < deadline:
        session.expire_all()
        run = session.get_one(RuleRun, run_id)
        values = {k: getattr(run, k) for k in (
            "state", "total", "done", "touched", "skipped", "failed")}
        if run.state in ("done", "failed"):
            return values
        session.rollback()
        if time.monotonic() - last > 5:
            print(f"  {values}", flush=True)
            last = time.monotonic()
        time.sleep(0.1)
    raise RuntimeError(f"run {run_id} did not finish in {timeout} s")


def _check(engine: sa.Engine, tickets: int) -> dict[str, int]:
    """Every change of the run is in the history, naming the rule."""
    with engine.connect() as conn:
        counts = dict(conn.execute(sa.text(
            "SELECT type, count(DISTINCT ticket_id) FROM helpdesk_ticket_events"
            " WHERE actor_name = :n GROUP BY type"), {"n": f"Rule: {RULE_NAME}"}).all())
        queued = conn.scalar(sa.text(
            "SELECT count(*) FROM helpdesk_messages WHERE kind = 'reply' AND author_name = :n"),
            {"n": f"Rule: {RULE_NAME}"})
        pending = conn.scalar(sa.text(
            "SELECT count(*) FROM helpdesk_tickets WHERE status = 'pending'"))
    for kind in ("message.replied", "template.applied", "ticket.tags_changed",
                 "ticket.status_changed"):
        assert counts.get(kind) == tickets, (kind, counts)
    assert queued == tickets and pending == tickets, (queued, pending)
    return {"history_events": sum(counts.values()), "replies": int(queued or 0)}


class Database:
    """A temporary database: a PostgreSQL database dropped afterwards, or a SQLite file."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix="helpdesk-run-rule-")
        self.name = f"helpdesk_run_rule_{uuid.uuid4().hex[:8]}"
        if kind == "postgresql":
            self.admin = sa.create_engine(f"{PG_URL}/postgres", isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
            self.uri = f"{PG_URL}/{self.name}"
        else:
            self.uri = f"sqlite:///{os.path.join(self.dir, 'bench.db')}"

    def drop(self) -> None:
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)
        if self.kind == "postgresql":
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.admin.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
