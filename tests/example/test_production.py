"""The example site's production profile: two gunicorn processes, a worker, one Redis.

The processes are started by :class:`example_site.production.Profile`, exactly
as ``python -m example_site serve --production`` starts them, on a private
Redis database and Socket.IO channel. Agents log in through the site's login
form on one process and connect real websockets to either.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import typing as t
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from example_site.production import Profile
from example_site.production import environment
from tests.realtime.live import Agent
from tests.services_check import private_redis_db
from tests.services_check import require

#: The repository, where ``python -m tests.realtime.emit_worker`` imports from.
ROOT = Path(__file__).resolve().parents[2]


def _free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for _attempt in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 65535:
            continue
        try:
            held = []
            for port in range(first, first + count):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise AssertionError("no consecutive free ports")


#: Seconds before a silent tab's presence expires (the TTL in Redis).
#: Tests that must tell a disconnect from an expiry set it far longer.
@pytest.fixture
def presence_ttl() -> int:
    return 3


#: How long a test waits for an answer. Generous: the machine may be busy;
#: no test measures speed (see benchmarks/).
WAIT = 60


@pytest.fixture
def production(tmp_path: t.Any, prepared_db: t.Any, presence_ttl: int) -> t.Iterator[t.Any]:
    """The profile running on a copy of the demo database; ``(profile, env)``."""
    require("Redis", "127.0.0.1", 6379)
    instance = tmp_path / "instance"
    instance.mkdir()
    shutil.copy(prepared_db, instance / "example.db")
    with private_redis_db("production") as redis_url:
        env = environment(redis_url)
        env.update({
            "EXAMPLE_SITE_INSTANCE": str(instance),
            "FLASK_HELPDESK_SOCKETIO_CHANNEL": f"helpdesk-test-{uuid.uuid4().hex[:8]}",
            "FLASK_HELPDESK_PRESENCE_TTL": str(presence_ttl),
            "FLASK_HELPDESK_ATTACHMENT_DIR": str(tmp_path / "attachments"),
            "EXAMPLE_SITE_LOG_LEVEL": "warning",
        })
        profile = Profile(env, port=_free_ports(2), web=2, threads=20)
        profile.start()
        try:
            yield profile, env
        finally:
            profile.stop()


def _login(url: str, username: str) -> str:
    """Log in through the site's form; the session cookie header."""
    http = requests.Session()
    page = http.get(f"{url}/login", timeout=WAIT).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "the login page has no CSRF token"
    answer = http.post(f"{url}/login", data={"username": username, "password": "helpdesk-demo",
                                             "csrf_token": token.group(1)},
                       allow_redirects=False, timeout=WAIT)
    assert answer.status_code == 302, answer.text
    return "; ".join(f"{k}={v}" for k, v in http.cookies.items())


def _first_line_ticket(instance: str) -> int:
    """An open ticket of First line support (Anna's and Max's group) with a sender."""
    engine = sa.create_engine(f"sqlite:///{instance}/example.db")
    with engine.connect() as conn:
        ticket_id = conn.execute(sa.text(
            "SELECT t.id FROM helpdesk_tickets t JOIN helpdesk_groups g ON g.id = t.group_id"
            " WHERE g.name = 'First line support' AND t.status IN ('open', 'pending')"
            " AND t.merged_into_id IS NULL AND EXISTS (SELECT 1 FROM"
            " helpdesk_contact_identities i WHERE i.customer_id = t.customer_id)"
            " ORDER BY t.id LIMIT 1")).scalar_one()
    engine.dispose()
    return int(ticket_id)


def _names(agents: list[t.Any]) -> list[str]:
    return sorted(a["name"] for a in agents)


def test_agents_on_two_processes_see_each_other_and_live_changes(production: t.Any) -> None:
    profile, env = production
    url_a, url_b = profile.urls
    ticket_id = _first_line_ticket(env["EXAMPLE_SITE_INSTANCE"])
    anna_cookie = _login(url_a, "anna")
    max_cookie = _login(url_a, "manager")  # one login, used on the other process
    anna, max_ = Agent(url_a, anna_cookie), Agent(url_b, max_cookie)
    try:
        anna.call("view", {"ticket_id": ticket_id})
        # Max's process reads Anna's presence from Redis...
        answer = max_.call("view", {"ticket_id": ticket_id})
        assert _names(answer["agents"]) == ["Anna Smith", "Max Manager"]
        # ... and Anna's process hears of Max through the message queue.
        anna.wait_for(lambda e, d: e == "presence" and d["ticket_id"] == ticket_id
                      and _names(d["agents"]) == ["Anna Smith", "Max Manager"])
        max_.call("activity", {"ticket_id": ticket_id, "activity": "replying"})
        seen = anna.wait_for(lambda e, d: e == "presence" and any(
            a["activity"] == "replying" for a in d["agents"]))
        assert seen["agents"][0] == {"agent_id": seen["agents"][0]["agent_id"],
                                     "name": "Max Manager", "activity": "replying"}

        # A note added through process A reaches Max's tab on process B.
        http = requests.Session()
        http.headers["Cookie"] = anna_cookie
        page = http.get(f"{url_a}/helpdesk/tickets/{ticket_id}", timeout=WAIT).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        posted = http.post(f"{url_a}/helpdesk/tickets/{ticket_id}/note", data={
            "text": "Checked the payment log", "csrf_token": token, "confirm": "1"},
            allow_redirects=False, timeout=WAIT)
        assert posted.status_code == 302, posted.text
        note = max_.wait_for(lambda e, d: e == "ticket_event" and d["type"] == "note.added")
        assert note["ticket_id"] == ticket_id and note["actor_name"] == "Anna Smith"

        # A customer message ingested by a worker-like process without any
        # Socket.IO server (the write-only emitter) reaches both tabs.
        db_uri = f"sqlite:///{env['EXAMPLE_SITE_INSTANCE']}/example.db"
        out = subprocess.run(
            [sys.executable, "-m", "tests.realtime.emit_worker", db_uri,
             env["FLASK_HELPDESK_SOCKETIO_MESSAGE_QUEUE"],
             env["FLASK_HELPDESK_SOCKETIO_CHANNEL"], str(ticket_id)],
            capture_output=True, text=True, timeout=60, check=True, cwd=ROOT).stdout
        assert len(out.split()) == 2, out  # one message ingested and committed
        for tab in (max_, anna):
            received = tab.wait_for(lambda e, d: e == "ticket_event"
                                    and d["type"] == "message.received", timeout=WAIT)
            assert received["ticket_id"] == ticket_id

        # Max's web process dies without a word: his presence expires in
        # Redis and Anna's process reports it (nothing else can tell it).
        profile.processes[f"web:{profile.ports[1]}"].kill()
        anna.wait_for(lambda e, d: e == "presence" and d["ticket_id"] == ticket_id
                      and _names(d["agents"]) == ["Anna Smith"], timeout=WAIT)
    finally:
        for tab in (anna, max_):
            try:
                tab.close()
            except Exception:
                pass


@pytest.mark.parametrize("presence_ttl", [3600])
def test_a_closed_tab_on_one_process_leaves_the_other_at_once(production: t.Any) -> None:
    profile, env = production
    url_a, url_b = profile.urls
    ticket_id = _first_line_ticket(env["EXAMPLE_SITE_INSTANCE"])
    anna = Agent(url_b, _login(url_b, "anna"))
    daria = Agent(url_a, _login(url_a, "daria"))
    try:
        anna.call("view", {"ticket_id": ticket_id})
        daria.call("view", {"ticket_id": ticket_id})
        anna.wait_for(lambda e, d: e == "presence" and len(d["agents"]) == 2)
        daria.close()
        # Presence lasts an hour here: only the disconnect can end Daria's.
        anna.wait_for(lambda e, d: e == "presence" and _names(d["agents"]) == ["Anna Smith"],
                      timeout=WAIT)
        assert profile.processes["worker"].poll() is None  # the dramatiq worker runs
        assert profile.processes["scheduler"].poll() is None
    finally:
        anna.close()


def test_serve_production_prepares_serves_and_stops_on_sigterm(
        tmp_path: t.Any, prepared_db: t.Any) -> None:
    require("Redis", "127.0.0.1", 6379)
    instance = tmp_path / "instance"
    instance.mkdir()
    shutil.copy(prepared_db, instance / "example.db")
    port = _free_ports(1)
    with private_redis_db("serve") as redis_url:
        env = environment(redis_url)
        env.update({"EXAMPLE_SITE_INSTANCE": str(instance), "EXAMPLE_SITE_LOG_LEVEL": "warning",
                    "FLASK_HELPDESK_SOCKETIO_CHANNEL": f"helpdesk-test-{uuid.uuid4().hex[:8]}"})
        command = [sys.executable, "-m", "example_site", "serve", "--production",
                   "--port", str(port), "--web", "1", "--threads", "8", "--redis", redis_url]
        served = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    page = requests.get(f"http://127.0.0.1:{port}/", timeout=(2, 30))
                    break
                except requests.ConnectionError:
                    assert served.poll() is None, "the profile exited"
                    time.sleep(0.2)
            assert "helpdesk-demo" in page.text  # the home page, from gunicorn
            assert page.headers["Server"].startswith("gunicorn")
        finally:
            served.terminate()
            output, _ = served.communicate(timeout=30)
    assert served.returncode == 0
    assert "already has tickets" in output  # prepared, not generated again
    assert f"http://127.0.0.1:{port}" in output
