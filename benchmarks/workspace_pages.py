"""The agent workspace's pages at scale: the inbox and the ticket page as HTML.

Run by hand (never a unit test)::

    .venv/bin/python benchmarks/workspace_pages.py --tickets 100000 --db both --runs 50
    .venv/bin/python benchmarks/workspace_pages.py --tickets 100000 --db sqlite --browser

It builds the data of workload B (``workload_b.py``, ``shared/bench/README.md``)
and, as a non-admin agent of the support group, renders through the real
blueprint (``app.test_client``), 3 warm-up then ``--runs`` timed:

- ``inbox``: the inbox of the support group (open tickets by priority), with
  the sidebar (the seven shared views of the demo data with their counts,
  group and tag counts) and the bulk-action form, the counts reused for
  :data:`HELPDESK_COUNT_CACHE_SECONDS` (10 s) as in production;
- ``inbox_uncached``: the same with every count made on every request;
- ``inbox_all``: the inbox with no filter (every visible ticket, last activity);
- ``ticket``: a ticket page with 3-7 further messages, history and related tickets.

SQL statements are counted per request. With ``--browser`` it also serves the
app on 127.0.0.1 and loads the inbox in Debian's Chromium through Playwright,
reporting the time from navigation start to ``DOMContentLoaded`` having run
(deferred scripts executed: the page is interactive). The last line is
``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import threading
import time
import typing as t

from flask import Flask

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import workload_b  # noqa: E402
from benchmarks.ticket_views import _database  # noqa: E402
from benchmarks.ticket_views import _pick_visible  # noqa: E402
from flask_helpdesk.extension import get_state  # noqa: E402
from flask_helpdesk.testing import User  # noqa: E402
from flask_helpdesk.testing import make_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--browser", action="store_true",
                        help="also load the inbox in Chromium (Playwright)")
    parser.add_argument("--sqlite-path", default=None)
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
            _shared_views()
            counter = workload_b.Counter(engine)
            if args.browser:
                _login_route(app, data["agents"]["support"][0])
            result = {"db": db, "tickets": args.tickets,
                      **measure(app, counter, data, args.runs, db)}
            if args.browser:
                result.update(browser(app, db))
            get_state(app).db.session.remove()
            engine.dispose()
        get_state(app).jobs.stop()
        return result


def measure(app: Flask, counter: t.Any, data: dict[str, t.Any], runs: int, db: str
            ) -> dict[str, t.Any]:
    agent_id = data["agents"]["support"][0]
    support = data["groups"]["support"]
    viewed = _pick_visible(data, app, agent_id)
    client = app.test_client(user=User(str(agent_id)))
    pages = {
        "inbox": f"/helpdesk/tickets?status=open&group={support}&sort=priority",
        "inbox_uncached": f"/helpdesk/tickets?status=open&group={support}&sort=priority",
        "inbox_all": "/helpdesk/tickets",
        "ticket": f"/helpdesk/tickets/{viewed}",
    }
    result: dict[str, t.Any] = {}
    state = get_state(app)
    cached = state.config
    for name, url in pages.items():
        state.config = dataclasses.replace(
            cached, count_cache_seconds=0 if name == "inbox_uncached" else 10)
        timings, counts = [], set()
        for i in range(3 + runs):
            get_state(app).db.session.remove()
            before = counter.n
            start = time.perf_counter()
            response = client.get(url)
            ms = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"GET {url}: {response.status_code}")
            if i >= 3:
                timings.append(ms)
                counts.add(counter.n - before)
        timings.sort()
        median = statistics.median(timings)
        p95 = timings[min(len(timings) - 1, int(round(0.95 * len(timings))) - 1)]
        sql = "/".join(str(c) for c in sorted(counts))
        print(f"[{db}] {name:9s} median {median:7.2f} ms  p95 {p95:7.2f} ms  {sql} SQL"
              f"  {len(response.data) // 1024} KiB", flush=True)
        result.update({f"{name}_median_ms": f"{median:.2f}", f"{name}_p95_ms": f"{p95:.2f}",
                       f"{name}_sql": sql})
    return result


def _shared_views() -> None:
    """The demo data's shared views, so the sidebar counts as a real team's does."""
    from flask_helpdesk.demo import _create_views
    from flask_helpdesk.services import SYSTEM

    _create_views(SYSTEM)


def _login_route(app: Flask, agent_id: int) -> None:
    """A login for the browser (the test app has no login page)."""
    from flask_login import login_user

    @app.get("/bench-login")
    def bench_login() -> str:
        login_user(User(str(agent_id)))
        return "ok"


def browser(app: Flask, db: str, loads: int = 10) -> dict[str, t.Any]:
    """Median time from navigation to an interactive inbox in Chromium."""
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    timings = []
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = chromium.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{base}/bench-login")
            for i in range(loads + 2):
                page.goto(f"{base}/helpdesk/tickets", wait_until="domcontentloaded")
                ms = page.evaluate(
                    "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
                if i >= 2:
                    timings.append(float(ms))
            chromium.close()
    finally:
        server.shutdown()
    median = statistics.median(timings)
    print(f"[{db}] browser inbox interactive after {median:.0f} ms (median of {loads})",
          flush=True)
    return {"browser_interactive_ms": f"{median:.0f}"}


if __name__ == "__main__":
    raise SystemExit(main())
