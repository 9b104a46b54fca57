"""Checks for the real services tests use: skip locally, fail when CI=true."""

from __future__ import annotations

import os
import socket

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
