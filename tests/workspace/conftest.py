"""Fixtures of the workspace page tests: agents' browsers over the test app."""

from __future__ import annotations

import re
import typing as t

import pytest
from flask import Flask
from flask import g
from flask import has_app_context

from flask_helpdesk.testing import User


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


class AgentBrowser:
    """A logged-in agent's test client that posts forms with the page's CSRF token."""

    def __init__(self, app: Flask, agent: t.Any) -> None:
        self.client = app.test_client(user=User(agent.user_id))

    def get(self, url: str, **kw: t.Any) -> t.Any:
        _forget_user()
        return self.client.get(url, **kw)

    def submit(self, action: str, data: dict[str, t.Any], *, page: str = "/helpdesk/tickets",
               **kw: t.Any) -> t.Any:
        token = csrf_from(self.get(page).text)
        _forget_user()
        response = self.client.post(action, data={**data, "csrf_token": token}, **kw)
        _forget_user()
        return response

    def post(self, action: str, **kw: t.Any) -> t.Any:
        _forget_user()
        return self.client.post(action, **kw)


def _forget_user() -> None:
    """Requests share the test's pushed app context, and with it ``g``, where
    Flask-Login, the helpdesk and Flask-WTF (the CSRF token) cache the user's
    things: forget them between requests."""
    if has_app_context():
        for name in ("_login_user", "_helpdesk", "csrf_token"):
            g.pop(name, None)


@pytest.fixture
def browse(app: Flask) -> t.Callable[[t.Any], AgentBrowser]:
    """``browse(agent)`` -> an :class:`AgentBrowser` logged in as that agent."""
    return lambda agent: AgentBrowser(app, agent)
