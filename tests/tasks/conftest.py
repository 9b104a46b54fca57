"""Fixtures for job tests: a test channel, brokers (stub, Redis, RabbitMQ), a worker."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from flask_helpdesk.extension import get_state
from flask_helpdesk.testing import EventRecorder
from tests.services_check import RABBITMQ_URL
from tests.services_check import REDIS_URL
from tests.services_check import require
from tests.tasks.helpers import JOB_CONFIG
from tests.tasks.helpers import ChannelPlugin
from tests.tasks.helpers import Workers


@pytest.fixture
def channel() -> ChannelPlugin:
    return ChannelPlugin()


@pytest.fixture
def broker_url(request: pytest.FixtureRequest) -> str:
    kind = getattr(request, "param", "stub")
    if kind == "redis":
        require("Redis", "127.0.0.1", 6379)
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        client.flushdb()
        client.close()
        return REDIS_URL
    if kind == "rabbitmq":
        require("RabbitMQ", "127.0.0.1", 5672)
        return RABBITMQ_URL
    return t.cast(str, kind)


@pytest.fixture
def job_config(request: pytest.FixtureRequest) -> dict[str, t.Any]:
    """More config for one test: ``parametrize("job_config", [{...}], indirect=True)``."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
def app(
    app_factory: t.Callable[..., Flask], recorder: EventRecorder, channel: ChannelPlugin,
    broker_url: str, job_config: dict[str, t.Any],
) -> t.Iterator[Flask]:
    config = {**JOB_CONFIG, "HELPDESK_BROKER_URL": broker_url, **job_config}
    app = app_factory(config=config, plugins=[channel, recorder])
    # Drop what an earlier test left in a shared broker (its queues are declared now).
    get_state(app).jobs.broker.flush_all()
    with app.app_context():
        yield app


@pytest.fixture
def workers(app: Flask) -> t.Iterator[Workers]:
    w = Workers(app)
    yield w
    w.stop()
