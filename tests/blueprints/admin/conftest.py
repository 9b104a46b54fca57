"""Fixtures of the page tests: an app with a channel that describes its account form."""

from __future__ import annotations

import re
import typing as t

import pytest
from flask import Flask
from flask import g

from flask_helpdesk import hookimpl
from flask_helpdesk.testing import EventRecorder
from tests.plugins.channel import RecordingChannel

#: The account form of the ``test`` channel, one field of each kind.
TEST_FIELDS = [
    {"name": "host", "label": "Server", "type": "text", "required": True,
     "help": "The server's name"},
    {"name": "port", "label": "Port", "type": "number", "required": True, "default": 2525},
    {"name": "mode", "label": "Mode", "type": "select", "default": "fast",
     "choices": [("fast", "Fast"), ("safe", "Safe")]},
    {"name": "verify", "label": "Verify", "type": "checkbox", "default": True},
    {"name": "token", "label": "Token", "type": "password", "secret": True, "required": True},
    {"name": "folders", "label": "Folders", "type": "textarea", "multiple": True},
]


class SettingsChannel(RecordingChannel):
    """The ``test`` channel with an account form."""

    @hookimpl
    def helpdesk_channel_settings(self) -> list[dict[str, t.Any]]:
        return [{"channel": "test", "label": "Test channel", "fields": TEST_FIELDS}]


@pytest.fixture
def app(app_factory: t.Callable[..., Flask], recorder: EventRecorder) -> t.Iterator[Flask]:
    app = app_factory(plugins=[recorder, SettingsChannel()])

    @app.before_request
    def _forget_the_last_agent() -> None:
        # The test's app context (and so ``g``) outlives each request; a real
        # request gets its own, so the user and agent are looked up again each time.
        g.pop("_helpdesk", None)
        g.pop("_login_user", None)

    with app.app_context():
        yield app


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def submit(client: t.Any, page: str, action: str, data: dict[str, t.Any] | None = None) -> t.Any:
    """Open ``page`` as a person would, take its CSRF token, post ``data`` to ``action``."""
    token = csrf_from(client.get(page).text)
    return client.post(action, data={**(data or {}), "csrf_token": token})
