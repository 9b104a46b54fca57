"""Workload B of shared/bench/README.md: the agent's ticket list at scale.

Run by hand (never a unit test)::

    .venv/bin/python benchmarks/ticket_views.py --tickets 100000 --db both --runs 50

It builds its own data (``workload_b.py``) in an SQLite file and in a fresh
PostgreSQL database it creates and drops, then times, as a non-admin agent
of the support group, first page of 25, 3 warm-up then ``--runs`` timed:

(b) the open tickets of the support group, by priority then created, as JSON;
(c) one ticket with its messages (tickets with 3-7 further messages);
(d) a keyword search for "printer" over all tickets, newest first.

Requests go through the real JSON API with ``app.test_client`` when the app
has it; otherwise through the services and the same kind of serialization
(the output says which). SQL statements are counted with a
``before_cursor_execute`` listener. The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import typing as t
import uuid

import sqlalchemy as sa
from flask import Flask

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import workload_b  # noqa: E402
from flask_helpdesk.extension import get_state  # noqa: E402
from flask_helpdesk.models import Agent  # noqa: E402
from flask_helpdesk.services import TicketFilter  # noqa: E402
from flask_helpdesk.services import messages as message_service  # noqa: E402
from flask_helpdesk.services import tickets as ticket_service  # noqa: E402
from flask_helpdesk.services import views  # noqa: E402
from flask_helpdesk.testing import User  # noqa: E402
from flask_helpdesk.testing import make_app  # noqa: E402

PG_URL = os.environ.get("HELPDESK_TEST_POSTGRESQL", "postgresql+psycopg://postgres@127.0.0.1:5432")
API = "/helpdesk/api/v1"
LIST_QUERY = "status=open&group={group}&sort=priority&limit=25"
SEARCH_QUERY = "q=printer&sort=-created&limit=25"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sqlite-path", default=None,
                        help="SQLite file to use (default: a new temporary file)")
    args = parser.parse_args(argv)
    for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        result = run(db, args)
        print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    return 0


def run(db: str, args: argparse.Namespace) -> dict[str, t.Any]:
    with _database(db, args) as uri:
        app = make_app(database_uri=uri, config={"HELPDESK_SWEEP_INTERVAL": 0})
        with app.app_context():
            engine = get_state(app).db.engine
            started = time.perf_counter()
            data = workload_b.build(engine, tickets=args.tickets, seed=args.seed)
            print(f"[{db}] built {args.tickets} tickets, {data['messages']} messages in"
                  f" {time.perf_counter() - started:.1f} s", flush=True)
            result = measure(app, engine, data, args.runs, db)
            get_state(app).db.session.remove()
            engine.dispose()
        get_state(app).jobs.stop()
        return result


class _database:
    def __init__(self, db: str, args: argparse.Namespace) -> None:
        self.db, self.args = db, args
        self.cleanup: t.Callable[[], object] = lambda: None

    def __enter__(self) -> str:
        if self.db == "sqlite":
            path = self.args.sqlite_path or os.path.join(
                tempfile.mkdtemp(prefix="helpdesk-bench-"), "bench.db")
            if os.path.exists(path):
                os.remove(path)
            self.cleanup = lambda: os.path.exists(path) and os.remove(path)
            return f"sqlite:///{path}"
        name = f"helpdesk_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(f"{PG_URL}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

        self.cleanup = drop
        return f"{PG_URL}/{name}"

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def measure(app: Flask, engine: sa.Engine, data: dict[str, t.Any], runs: int, db: str
            ) -> dict[str, t.Any]:
    counter = workload_b.Counter(engine)
    agent_id = data["agents"]["support"][0]
    support = data["groups"]["support"]
    viewed = _pick_visible(data, app, agent_id)
    client = app.test_client(user=User(str(agent_id)))
    use_api = _api_works(client, support)
    print(f"[{db}] requests through {'the JSON API' if use_api else 'services + json.dumps'}"
          f" (the API was {'found' if use_api else 'not available'})", flush=True)

    def request(fn: t.Callable[[], t.Any]) -> tuple[float, int, t.Any]:
        get_state(app).db.session.remove()
        before = counter.n
        start = time.perf_counter()
        out = fn()
        return (time.perf_counter() - start) * 1000, counter.n - before, out

    if use_api:
        calls = {
            "list": lambda: _get(client, f"{API}/tickets?{LIST_QUERY.format(group=support)}"),
            "view": lambda: [_get(client, f"{API}/tickets/{viewed}"),
                             _get(client, f"{API}/tickets/{viewed}/messages")],
            "search": lambda: _get(client, f"{API}/tickets?{SEARCH_QUERY}"),
        }
    else:
        calls = {
            "list": lambda: _service_list(agent_id, TicketFilter(status=("open",),
                                                                 group=(support,)), "priority"),
            "view": lambda: _service_view(agent_id, viewed),
            "search": lambda: _service_list(agent_id, TicketFilter(q="printer"), "-created"),
        }
    result: dict[str, t.Any] = {"db": db, "api": int(use_api)}
    for name, fn in calls.items():
        for _ in range(3):
            request(fn)
        timings, counts = [], set()
        for _ in range(runs):
            ms, statements, _out = request(fn)
            timings.append(ms)
            counts.add(statements)
        timings.sort()
        median = statistics.median(timings)
        p95 = timings[min(len(timings) - 1, int(round(0.95 * len(timings))) - 1)]
        sql = "/".join(str(c) for c in sorted(counts))
        print(f"[{db}] {name:6s} median {median:7.2f} ms  p95 {p95:7.2f} ms  {sql} SQL",
              flush=True)
        result.update({f"{name}_median_ms": f"{median:.2f}", f"{name}_p95_ms": f"{p95:.2f}",
                       f"{name}_sql": sql})
    with app.test_request_context():
        actor = _agent(agent_id)
        result["search_hits"] = views.count_tickets(actor=actor, filters=TicketFilter(q="printer"))
        result["search_hits_all"] = views.count_tickets(
            actor=_admin_like(), filters=TicketFilter(q="printer"))
        result["list_total"] = views.count_tickets(
            actor=actor, filters=TicketFilter(status=("open",), group=(support,)))
    return result


def _api_works(client: t.Any, group: int) -> bool:
    response = client.get(f"{API}/tickets?{LIST_QUERY.format(group=group)}")
    return response.status_code == 200 and response.is_json


def _get(client: t.Any, url: str) -> t.Any:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.get_data(True)[:300]}")
    return response.get_json()


def _agent(agent_id: int) -> Agent:
    agent = get_state().db.session.get(Agent, agent_id)
    assert agent is not None
    return agent


def _admin_like() -> t.Any:
    from flask_helpdesk.services import SYSTEM

    return SYSTEM


def _pick_visible(data: dict[str, t.Any], app: Flask, agent_id: int) -> int:
    """A ticket with 3-7 further messages that the agent may see."""
    with app.app_context():
        session = get_state(app).db.session
        from flask_helpdesk.models import Ticket

        groups = set(session.scalars(
            sa.select(Ticket.id).where(Ticket.id.in_(data["multi_message_tickets"][:2000]),
                                       Ticket.group_id == data["groups"]["support"])))
        session.remove()
    return sorted(groups)[len(groups) // 2]


def _ticket_json(ticket: t.Any) -> dict[str, t.Any]:
    return {
        "id": ticket.id, "subject": ticket.subject, "status": ticket.status,
        "priority": ticket.priority_name, "channel": ticket.channel,
        "customer": {"id": ticket.customer.id, "name": ticket.customer.name,
                     "identities": [{"kind": i.kind, "value": i.value}
                                    for i in ticket.customer.identities]},
        "group": ticket.group and {"id": ticket.group.id, "name": ticket.group.name},
        "assignee": ticket.assignee and {"id": ticket.assignee.id, "name": ticket.assignee.name},
        "tags": [tag.name for tag in ticket.tags],
        "created_at": ticket.created_at.isoformat(), "updated_at": ticket.updated_at.isoformat(),
    }


def _service_list(agent_id: int, f: TicketFilter, sort: str) -> str:
    page = views.list_tickets(actor=_agent(agent_id), filters=f, sort=sort, limit=25)
    return json.dumps({"items": [_ticket_json(x) for x in page.items],
                       "next_cursor": page.next_cursor})


def _service_view(agent_id: int, ticket_id: int) -> str:
    actor = _agent(agent_id)
    ticket = ticket_service.get_ticket(ticket_id, actor=actor)
    items = message_service.list_messages(ticket_id, actor=actor)
    return json.dumps({"ticket": _ticket_json(ticket), "messages": [
        {"id": m.id, "kind": m.kind, "text": m.text, "author": m.author_name,
         "created_at": m.created_at.isoformat(),
         "attachments": [a.filename for a in m.attachments]} for m in items]})


if __name__ == "__main__":
    raise SystemExit(main())
