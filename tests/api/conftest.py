"""Fixtures of the REST API tests: clients authenticated by real API tokens."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents

PREFIX = "/helpdesk/api/v1"


class Api:
    """A test client that talks to the API as one agent, with an API token."""

    def __init__(self, app: Flask, secret: str | None) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {secret}"} if secret else {}

    def open(self, method: str, path: str, **kwargs: t.Any) -> t.Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(PREFIX + path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: t.Any) -> t.Any:
        return self.open("GET", path, **kwargs)

    def post(self, path: str, **kwargs: t.Any) -> t.Any:
        return self.open("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: t.Any) -> t.Any:
        return self.open("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: t.Any) -> t.Any:
        return self.open("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: t.Any) -> t.Any:
        return self.open("DELETE", path, **kwargs)


@pytest.fixture
def api_as(app: Flask) -> t.Callable[[t.Any], Api]:
    """``api_as(agent)`` -> an :class:`Api` client with a fresh token of that agent."""

    def make(agent: t.Any) -> Api:
        _token, secret = agents.create_token(actor=SYSTEM, agent_id=agent.id, name="tests")
        return Api(app, secret)

    return make


@pytest.fixture
def anonymous(app: Flask) -> Api:
    """A client with no credentials at all."""
    return Api(app, None)
