"""Presence and live updates with many agent sockets over several web processes.

Run by hand::

    .venv/bin/python benchmarks/presence.py [--sockets 500] [--processes 2] [--watchers 10]
        [--changes 200] [--inbound 20] [--ttl 10] [--db sqlite|postgresql] [--redis redis://127.0.0.1:6379/13]

What it does:

1. A fresh database (a temporary SQLite file, or a new PostgreSQL database on
   127.0.0.1:5432 with ``--db postgresql``) with the example site's tables and a
   small demo data set, plus one agent (and host user) per socket, spread over
   the three demo groups.
2. The example site's production profile (:class:`example_site.production.Profile`:
   gunicorn with one threaded worker per process, Flask-SocketIO in threading
   mode, Redis message queue and presence) with ``--processes`` web processes
   on loopback, on an emptied Redis database and a private Socket.IO channel.
3. ``--sockets`` asyncio Socket.IO clients over websockets, round-robin over
   the processes, each logged in as its agent (a Flask-Login session cookie
   signed with the site's key, what the login form sets), each viewing one
   ticket of its group (``--watchers`` sockets per ticket) and beating every
   third of :data:`HELPDESK_PRESENCE_TTL`, as pages do.
4. Presence: ``--changes`` times, one socket on a ticket switches between
   ``replying`` and ``viewing``; the time from its emit until the ``presence``
   event reached every socket that shows that ticket (the ticket's room and its
   group's inbox room, on both processes). Reports p50/p95 of that "last
   watcher" time, and of the ticket room alone.
5. Memory: RSS of the web processes (gunicorn workers) before the sockets
   connect and after, divided by the sockets; their thread counts.
6. Inbound: a separate process built like ``flask helpdesk worker`` (the
   example site's app on the same configuration) ingests ``--inbound``
   customer messages on a watched ticket through
   :func:`flask_helpdesk.services.inbound.ingest`; the time from each ingest
   commit to the ``ticket_event`` on a socket watching that ticket.

The machine is usually shared: the load average before and after is printed.
The last line is ``RESULT presence_p95_ms=... presence_p50_ms=... mem_per_conn_kb=...
inbound_to_page_ms=... sockets=...``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import socket
import sys
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAMESPACE = "/helpdesk"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"
DEMO = {"customers": 60, "tickets": 150, "days": 30}


# ---------------------------------------------------------------- set-up


def new_database(kind: str, work: Path) -> tuple[str, t.Callable[[], None]]:
    """A fresh database URI and the function that drops it."""
    if kind == "sqlite":
        return f"sqlite:///{work / 'instance' / 'example.db'}", lambda: None
    import sqlalchemy as sa

    name = f"bench_presence_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG + "postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine = sa.create_engine(PG + name)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    engine.dispose()

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    return PG + name, drop


def set_up(env: dict[str, str], sockets: int, watchers: int) -> dict[str, t.Any]:
    """Tables, demo data, one agent per socket; who watches which ticket, and cookies."""
    os.environ.update(env)
    import sqlalchemy as sa
    from flask_login import FlaskLoginClient

    from example_site import create_app
    from example_site.commands import prepare
    from example_site.models import User
    from example_site.models import db
    from flask_helpdesk.extension import get_state
    from flask_helpdesk.models import Ticket
    from flask_helpdesk.services import SYSTEM
    from flask_helpdesk.services import agents

    app = create_app({"HELPDESK_BROKER_URL": "stub", "HELPDESK_LOAD_ENTRY_POINTS": False})
    prepare(app, demo_sizes=DEMO)
    plan: dict[str, t.Any] = {"sockets": []}
    with app.app_context():
        groups = agents.list_groups()
        password = db.session.scalar(sa.select(User.password_hash).limit(1))
        tickets = {g.id: list(db.session.scalars(sa.select(Ticket.id).where(
            Ticket.group_id == g.id, Ticket.merged_into_id.is_(None),
            Ticket.status.in_(("open", "pending"))).order_by(Ticket.id))) for g in groups}
        users = []
        for n in range(sockets):
            group = groups[n % len(groups)]
            login = f"bench{n:04d}"
            user = User(username=login, name=f"Bench Agent {n}", password_hash=password)
            db.session.add(user)
            users.append((n, login, user, group.id))
        db.session.commit()
        for n, login, _user, group_id in users:
            agent = agents.create_agent(actor=SYSTEM, name=f"Bench Agent {n}", user_id=login,
                                        email=f"{login}@bench.example", groups=[group_id])
            ring = tickets[group_id]
            # sockets n, n+3, n+6... of one group share a ticket: `watchers` per ticket
            slot = (n // len(groups)) // watchers
            plan["sockets"].append({"agent_id": agent.id, "group_id": group_id,
                                    "ticket_id": ring[slot % len(ring)]})
        app.test_client_class = FlaskLoginClient
        for entry, (_n, _login, user, _g) in zip(plan["sockets"], users, strict=True):
            client = app.test_client(user=user)
            cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
            entry["cookie"] = f"{cookie.key}={cookie.value}"
        get_state(app).jobs.stop()
        db.session.remove()
        db.engine.dispose()
    return plan


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        held: list[socket.socket] = []
        try:
            for port in range(first, first + count):
                held.append(socket.socket())
                held[-1].bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in held:
                s.close()


def workers_of(arbiters: list[int]) -> list[int]:
    """The gunicorn worker processes (children of the arbiters)."""
    found = []
    for pid in arbiters:
        path = Path(f"/proc/{pid}/task/{pid}/children")
        found += [int(c) for c in path.read_text().split()]
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of the processes (all threads)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def proc_status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


# --------------------------------------------------------------- clients


class Watcher:
    """One agent's tab: an asyncio Socket.IO client recording arrivals."""

    def __init__(self, index: int, entry: dict[str, t.Any], url: str, bench: Bench) -> None:
        import socketio

        self.index, self.entry, self.url, self.bench = index, entry, url, bench
        self.client = socketio.AsyncClient(reconnection=False)
        self.client.on("presence", self._presence, namespace=NAMESPACE)
        self.client.on("ticket_event", self._ticket_event, namespace=NAMESPACE)

    async def connect(self) -> None:
        await self.client.connect(self.url, headers={"Cookie": self.entry["cookie"]},
                                  transports=["websocket"], namespaces=[NAMESPACE],
                                  wait_timeout=30)
        answer = await self.client.call("view", {"ticket_id": self.entry["ticket_id"]},
                                        namespace=NAMESPACE, timeout=30)
        if not answer.get("ok"):
            raise RuntimeError(f"view refused: {answer}")

    async def beat(self, every: float) -> None:
        await asyncio.sleep(random.uniform(0, every))
        while True:
            try:
                await self.client.emit("heartbeat", {}, namespace=NAMESPACE)
            except Exception:
                return
            await asyncio.sleep(every)

    async def _presence(self, data: dict[str, t.Any]) -> None:
        self.bench.presence_seen(self, data, time.perf_counter())

    async def _ticket_event(self, data: dict[str, t.Any]) -> None:
        self.bench.event_seen(self, data, time.time())


class Bench:
    """The clients and what they saw."""

    def __init__(self) -> None:
        self.watchers: list[Watcher] = []
        self.change: dict[str, t.Any] | None = None
        self.inbound: list[float] = []
        self.inbound_ticket = self.inbound_watcher = 0

    def presence_seen(self, watcher: Watcher, data: dict[str, t.Any], at: float) -> None:
        change = self.change
        if change is None or data.get("ticket_id") != change["ticket_id"]:
            return
        mine = [a for a in data.get("agents", []) if a["agent_id"] == change["agent_id"]]
        if mine and mine[0]["activity"] == change["activity"]:
            change["arrived"].setdefault(watcher.index, at)
            if change["expected"] <= change["arrived"].keys():
                change["done"].set()

    def event_seen(self, watcher: Watcher, data: dict[str, t.Any], at: float) -> None:
        if (data.get("type") == "message.received" and data.get("ticket_id") == self.inbound_ticket
                and watcher.index == self.inbound_watcher):
            self.inbound.append(at)


async def connect_all(bench: Bench, plan: dict[str, t.Any], urls: list[str],
                      ttl: float) -> float:
    for n, entry in enumerate(plan["sockets"]):
        bench.watchers.append(Watcher(n, entry, urls[n % len(urls)], bench))
    started = time.perf_counter()
    gate = asyncio.Semaphore(20)

    async def one(w: Watcher) -> None:
        async with gate:
            await w.connect()

    await asyncio.gather(*(one(w) for w in bench.watchers))
    elapsed = time.perf_counter() - started
    for w in bench.watchers:
        asyncio.ensure_future(w.beat(ttl / 3))
    return elapsed


async def presence_changes(bench: Bench, changes: int) -> tuple[list[float], list[float], int]:
    """Last-watcher and ticket-room latencies (ms) per change; changes that timed out."""
    by_ticket: dict[int, list[Watcher]] = {}
    by_group: dict[int, list[Watcher]] = {}
    for w in bench.watchers:
        by_ticket.setdefault(w.entry["ticket_id"], []).append(w)
        by_group.setdefault(w.entry["group_id"], []).append(w)
    rings = list(by_ticket.values())
    state: dict[int, str] = {}
    everyone, room, lost = [], [], 0
    for n in range(changes):
        ring = rings[n % len(rings)]
        changer = ring[(n // len(rings)) % len(ring)]
        ticket_id = changer.entry["ticket_id"]
        key = changer.index
        activity = "viewing" if state.get(key) == "replying" else "replying"
        state[key] = activity
        expected = {w.index for w in by_group[changer.entry["group_id"]]}
        bench.change = {"ticket_id": ticket_id, "agent_id": changer.entry["agent_id"],
                        "activity": activity, "arrived": {}, "expected": expected,
                        "done": asyncio.Event()}
        t0 = time.perf_counter()
        await changer.client.emit("activity", {"ticket_id": ticket_id, "activity": activity},
                                  namespace=NAMESPACE)
        try:
            await asyncio.wait_for(bench.change["done"].wait(), 10)
        except TimeoutError:
            lost += 1
            continue
        arrived = bench.change["arrived"]
        everyone.append((max(arrived.values()) - t0) * 1000)
        room.append((max(arrived[w.index] for w in ring) - t0) * 1000)
        await asyncio.sleep(0.05)
    bench.change = None
    return everyone, room, lost


async def inbound_messages(bench: Bench, env: dict[str, str], count: int) -> list[float]:
    """Commit-to-socket times (ms) of ``count`` messages ingested by another process."""
    watcher = bench.watchers[-1]
    bench.inbound_ticket, bench.inbound_watcher = watcher.entry["ticket_id"], watcher.index
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--ingest-child", str(bench.inbound_ticket), str(count),
        env=env, stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate()
    if child.returncode:
        raise RuntimeError("the ingesting process failed")
    committed = [float(x) for x in out.decode().split()]
    deadline = time.monotonic() + 10
    while len(bench.inbound) < len(committed) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return [(at - c) * 1000 for at, c in zip(bench.inbound, committed, strict=False)]


def ingest_child(ticket_id: int, count: int) -> None:
    """Ingest ``count`` messages like a worker process; print each commit's time."""
    import sqlalchemy as sa
    from sqlalchemy import orm

    from example_site import create_app
    from flask_helpdesk.channels import Identity
    from flask_helpdesk.channels import InboundMessage
    from flask_helpdesk.models import ContactIdentity
    from flask_helpdesk.models import Ticket
    from flask_helpdesk.services.inbound import ingest

    app = create_app()
    commits: list[float] = []
    sa.event.listen(orm.Session, "after_commit", lambda _s: commits.append(time.time()))
    with app.app_context():
        db = app.extensions["sqlalchemy"]
        customer_id = db.session.get(Ticket, ticket_id).customer_id
        sender = db.session.scalars(sa.select(ContactIdentity).where(
            ContactIdentity.customer_id == customer_id).order_by(ContactIdentity.id)).first()
        for n in range(count):
            del commits[:]
            ingest(InboundMessage(channel="web", external_id=f"bench-{uuid.uuid4().hex}",
                                  ticket_hint=ticket_id, sender=Identity(sender.kind,
                                                                         sender.value),
                                  subject="Any news?", text=f"Any news? ({n})"))
            print(repr(commits[0]), flush=True)
            time.sleep(0.3)


# ------------------------------------------------------------------ main


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def measure(args: argparse.Namespace, plan: dict[str, t.Any], profile: t.Any,
                  env: dict[str, str]) -> dict[str, t.Any]:
    import socketio

    ttl = float(env.get("FLASK_HELPDESK_PRESENCE_TTL", "10"))
    # warm every process (app import, first request, the sweeper) before the RSS baseline
    for url in profile.urls:
        probe = socketio.AsyncClient(reconnection=False)
        await probe.connect(url, headers={"Cookie": plan["sockets"][0]["cookie"]},
                            transports=["websocket"], namespaces=[NAMESPACE], wait_timeout=60)
        await probe.disconnect()
    await asyncio.sleep(1)
    workers = workers_of(profile.web_pids())
    before = [proc_status(pid, "VmRSS") for pid in workers]
    bench = Bench()
    connect_s = await connect_all(bench, plan, profile.urls, ttl)
    await asyncio.sleep(3)  # let the views' broadcasts settle
    after = [proc_status(pid, "VmRSS") for pid in workers]
    threads = [proc_status(pid, "Threads") for pid in workers]
    idle_cpu = cpu_seconds(workers)
    await asyncio.sleep(10)  # heartbeats only
    idle_cpu = (cpu_seconds(workers) - idle_cpu) / 10
    everyone, room, lost = await presence_changes(bench, args.changes)
    inbound = await inbound_messages(bench, env, args.inbound)
    for w in bench.watchers:
        await w.client.disconnect()
    return {"connect_s": connect_s, "rss_before_kb": before, "rss_after_kb": after,
            "threads": threads, "idle_cpu": idle_cpu, "everyone": everyone, "room": room,
            "lost": lost,
            "inbound": inbound, "client_threads": proc_status(os.getpid(), "Threads")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--watchers", type=int, default=10, help="sockets per ticket")
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--inbound", type=int, default=20)
    parser.add_argument("--ttl", type=float, default=10,
                        help="HELPDESK_PRESENCE_TTL (tabs beat every third of it)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13",
                        help="a Redis database this run may empty")
    parser.add_argument("--ingest-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ingest_child:
        ingest_child(*args.ingest_child)
        return

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it
    need = 2 * args.sockets + 200
    if hard < need:
        sys.exit(f"open-file limit {hard} < {need} needed: raise ulimit -n")
    import redis

    from example_site.production import Profile
    from example_site.production import environment

    redis.Redis.from_url(args.redis).flushdb()
    work = Path(tempfile.mkdtemp(prefix="bench-presence-"))
    (work / "instance").mkdir()
    uri, drop = new_database(args.db, work)
    env = environment(args.redis)
    env.update({"EXAMPLE_SITE_INSTANCE": str(work / "instance"),
                "FLASK_SQLALCHEMY_DATABASE_URI": uri,
                "FLASK_HELPDESK_SOCKETIO_CHANNEL": f"bench-{uuid.uuid4().hex[:8]}",
                "FLASK_HELPDESK_LOAD_ENTRY_POINTS": "false",
                "FLASK_HELPDESK_ATTACHMENT_DIR": str(work / "attachments"),
                "FLASK_HELPDESK_PRESENCE_TTL": str(args.ttl),
                "EXAMPLE_SITE_LOG_LEVEL": "warning"})
    load_before = os.getloadavg()
    print(f"set-up: {args.sockets} agents, demo data {DEMO}, database {args.db}", flush=True)
    plan = set_up(env, args.sockets, args.watchers)
    threads = args.sockets // args.processes + 60
    profile = Profile(env, port=free_ports(args.processes), web=args.processes,
                      threads=threads, worker=False)
    profile.start()
    try:
        found = asyncio.run(measure(args, plan, profile, env))
    finally:
        profile.stop()
        drop()
        shutil.rmtree(work, ignore_errors=True)
        redis.Redis.from_url(args.redis).flushdb()
    report(args, found, load_before, os.getloadavg(), (soft, hard), threads)


def report(args: argparse.Namespace, found: dict[str, t.Any], load_before: t.Any,
           load_after: t.Any, nofile: tuple[int, int], threads: int) -> None:
    grown = sum(found["rss_after_kb"]) - sum(found["rss_before_kb"])
    per_conn = grown / args.sockets
    everyone, room, inbound = found["everyone"], found["room"], found["inbound"]
    print(f"connected {args.sockets} sockets to {args.processes} processes in"
          f" {found['connect_s']:.1f} s (each viewing a ticket, {args.watchers} per ticket)")
    print(f"web process RSS before {found['rss_before_kb']} kB, after {found['rss_after_kb']}"
          f" kB: {per_conn:.0f} kB per connection")
    print(f"web process threads {found['threads']} (gunicorn --threads {threads});"
          f" client process threads {found['client_threads']}; open-file limit"
          f" {nofile[0]} soft / {nofile[1]} hard (raised to the hard limit)")
    print(f"web processes' CPU with the sockets idle (heartbeats only):"
          f" {100 * found['idle_cpu']:.0f}% of one core")
    print(f"presence change to every watcher (ticket room + group inbox, "
          f"~{args.sockets // 3} sockets): n={len(everyone)} lost={found['lost']}"
          f" p50={pct(everyone, .5):.1f} p95={pct(everyone, .95):.1f}"
          f" max={max(everyone, default=float('nan')):.1f} ms")
    print(f"presence change to the ticket room ({args.watchers} sockets):"
          f" p50={pct(room, .5):.1f} p95={pct(room, .95):.1f} ms")
    print(f"inbound commit -> socket: n={len(inbound)}/{args.inbound}"
          f" p50={pct(inbound, .5):.1f} p95={pct(inbound, .95):.1f}"
          f" max={max(inbound, default=float('nan')):.1f} ms")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}"
          f" ({os.cpu_count()} CPUs, shared with other work)")
    print(json.dumps({"room_p95_ms": round(pct(room, .95), 1),
                      "inbound_p50_ms": round(pct(inbound, .5), 1)}))
    print(f"RESULT presence_p95_ms={pct(everyone, .95):.1f} presence_p50_ms="
          f"{pct(everyone, .5):.1f} mem_per_conn_kb={per_conn:.0f} inbound_to_page_ms="
          f"{pct(inbound, .95):.1f} sockets={args.sockets}")


if __name__ == "__main__":
    main()
