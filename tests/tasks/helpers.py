"""Helpers of the job tests: a test channel plugin and a worker driver."""

from __future__ import annotations

import time
import typing as t

import dramatiq
import pytest
from flask import Flask

from flask_helpdesk.extension import get_state
from flask_helpdesk.tasks import QUEUE
from tests.plugins.channel import RecordingChannel

#: Broker kinds for ``@pytest.mark.parametrize("broker_url", BROKERS, indirect=True)``.
BROKERS = [
    pytest.param("stub", id="stub"),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
    pytest.param("rabbitmq", id="rabbitmq", marks=pytest.mark.rabbitmq),
]


#: The ``test`` channel of every job test.
ChannelPlugin = RecordingChannel


#: Fast retries: 0.05 s, 0.1 s, 0.2 s...
JOB_CONFIG = {"HELPDESK_DELIVERY_BACKOFF": 0.05, "HELPDESK_DELIVERY_MAX_ATTEMPTS": 3}


class Workers:
    """Starts real dramatiq workers on the app's broker and waits for them."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.broker = get_state(app).jobs.broker
        self.worker: dramatiq.Worker | None = None

    def start(self) -> dramatiq.Worker:
        self.worker = dramatiq.Worker(self.broker, worker_threads=2, worker_timeout=50)
        self.worker.start()
        return self.worker

    def join(self) -> None:
        """Wait for the queue and the worker (``broker.join`` + ``worker.join``)."""
        kind = type(self.broker).__name__
        if kind == "RabbitmqBroker":
            self.broker.join(QUEUE, min_successes=2, idle_time=20, timeout=10_000)
        elif kind == "RedisBroker":
            self.broker.join(QUEUE, interval=20, timeout=10_000)
        else:
            self.broker.join(QUEUE, timeout=10_000)
        assert self.worker is not None
        self.worker.join()

    def wait_for(self, until: t.Callable[[], bool], timeout: float = 10) -> None:
        """Poll the database until ``until()`` holds (when a delayed job must stay queued)."""
        db = get_state(self.app).db
        deadline = time.monotonic() + timeout
        while True:
            db.session.rollback()
            if until():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs did not reach the expected state in {timeout} s")
            time.sleep(0.02)

    def drain(self, until: t.Callable[[], bool], timeout: float = 15) -> None:
        """Join until ``until()`` holds: retries arrive as delayed messages later."""
        db = get_state(self.app).db
        deadline = time.monotonic() + timeout
        while True:
            self.join()
            db.session.rollback()
            if until():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs did not reach the expected state in {timeout} s")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
