"""Checks for the real services tests use: skip locally, fail when CI=true."""

from __future__ import annotations

import contextlib
import os
import socket
import typing as t
import uuid

import pytest

PG_URL = os.environ.get("HELPDESK_TEST_POSTGRESQL", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("HELPDESK_TEST_REDIS", "redis://127.0.0.1:6379/15")
RABBITMQ_URL = os.environ.get("HELPDESK_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/%2F")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    """Skip (locally) or fail (CI=true) when ``name`` does not answer."""
    if port_open(host, port):
        return
    message = (f"{name} is not running on {host}:{port}; start it with scripts/services.sh"
               " (tests that need it cannot run)")
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@contextlib.contextmanager
def private_redis_db(name: str = "test") -> t.Iterator[str]:
    """``redis://.../N``: a Redis database no other test run holds now.

    For tests that run several processes on one Redis (broker queues, presence
    keys), so parallel runs on one machine never consume each other's jobs.
    Databases 1 to 14 are tried (0 is the example site's, 15 the other tests');
    the claim is a key with a time limit, and the database is emptied when it
    is taken and when it is given back. Redis publish/subscribe channels are
    not per database: give each run its own Socket.IO channel too.
    """
    import redis

    base = REDIS_URL.rsplit("/", 1)[0]
    token = f"{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    for number in range(1, 15):
        client = redis.Redis.from_url(f"{base}/{number}")
        if client.set(CLAIM_KEY, token, nx=True, ex=900):
            client.flushdb()
            client.set(CLAIM_KEY, token, ex=900)
            try:
                yield f"{base}/{number}"
            finally:
                client.flushdb()
                client.close()
            return
        client.close()
    pytest.fail("every Redis database 1-14 is claimed by another test run", pytrace=False)


#: The key that marks a Redis database as taken (:func:`private_redis_db`).
CLAIM_KEY = "helpdesk-test:claimed-by"
