"""``flask helpdesk worker`` in its own process, on Redis and RabbitMQ."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import typing as t

import pytest
from flask import Flask

from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Message
from flask_helpdesk.services import messages
from flask_helpdesk.services import tickets
from tests.services_check import RABBITMQ_URL
from tests.services_check import REDIS_URL
from tests.services_check import require

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(params=[
    pytest.param(("redis", signal.SIGTERM), id="redis-sigterm", marks=pytest.mark.redis),
    pytest.param(("rabbitmq", signal.SIGINT), id="rabbitmq-sigint", marks=pytest.mark.rabbitmq),
])
def broker(request: pytest.FixtureRequest) -> tuple[str, signal.Signals]:
    kind, sig = request.param
    if kind == "redis":
        require("Redis", "127.0.0.1", 6379)
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        client.flushdb()
        client.close()
        return REDIS_URL, sig
    require("RabbitMQ", "127.0.0.1", 5672)
    return RABBITMQ_URL, sig


@pytest.fixture
def app(
    app_factory: t.Callable[..., Flask], recorder: t.Any, broker: tuple[str, signal.Signals],
) -> t.Iterator[Flask]:
    app = app_factory(config={"HELPDESK_BROKER_URL": broker[0]}, plugins=[recorder])
    get_state(app).jobs.broker.flush_all()
    with app.app_context():
        yield app


def _reply(team: t.Any, text: str) -> int:
    ticket = tickets.create_ticket(actor=team.anna, customer_id=team.customer.id,
                                   subject="Login fails", text="Help", group_id=team.support.id)
    return messages.reply(ticket.id, actor=team.anna, text=text).id


def _wait_sent(message_id: int, proc: subprocess.Popen[str], timeout: float = 20) -> None:
    s = get_state().db.session
    deadline = time.monotonic() + timeout
    while True:
        s.rollback()
        if s.get(Message, message_id, populate_existing=True).delivery_state == "sent":
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"message {message_id} not sent; worker said:\n"
                                 + (proc.communicate()[0] or ""))
        time.sleep(0.05)


def test_worker_process_delivers_sweeps_and_stops_on_a_signal(
    app: Flask, team: t.Any, database_uri: str, broker: tuple[str, signal.Signals],
) -> None:
    url, sig = broker
    lost = _reply(team, "First answer.")
    get_state().jobs.broker.flush_all()  # its job is lost before any worker runs
    env = {**os.environ, "HOSTAPP_DATABASE": database_uri, "HOSTAPP_BROKER": url,
           "FLASK_APP": "tests.cli.hostapp:create_app"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "helpdesk", "worker", "--threads", "2",
         "--sweep-interval", "0.5"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_sent(lost, proc)  # the worker's sweeper found it
        live = _reply(team, "Second answer.")
        _wait_sent(live, proc)  # sent through the broker while the worker runs
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, output
    assert "Helpdesk worker: 2 threads on " in output
    assert "Sweeping the outbox every 0.5 s." in output
    assert output.rstrip().endswith("Helpdesk worker stopped.")
    assert "Traceback" not in output
