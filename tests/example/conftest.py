"""Fixtures for the example site: a prepared demo database, copied per test."""

from __future__ import annotations

import re
import shutil
import typing as t

import pytest
from flask import Flask

from example_site import create_app
from example_site.commands import prepare
from flask_helpdesk.extension import get_state
from tests.dates import DEMO_NOW

#: Small demo sizes: every feature of the generator, in about a second.
SIZES = {"customers": 25, "tickets": 70, "days": 30}


def make_site(tmp_path: t.Any, db_file: t.Any) -> Flask:
    return create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
        "HELPDESK_BROKER_URL": "stub",
        "HELPDESK_LOAD_ENTRY_POINTS": False,
        "HELPDESK_SWEEP_INTERVAL": 0,
        "HELPDESK_COUNT_CACHE_SECONDS": 0,
        "HELPDESK_ATTACHMENT_DIR": str(tmp_path / "attachments"),
    }, instance_path=str(tmp_path / "instance"))


@pytest.fixture(scope="session")
def prepared_db(tmp_path_factory: pytest.TempPathFactory) -> t.Any:
    """One demo database for the session; tests work on copies of it."""
    tmp = tmp_path_factory.mktemp("example-site")
    app = make_site(tmp, tmp / "site.db")
    try:
        assert prepare(app, demo_sizes=SIZES, now=DEMO_NOW)
    finally:
        get_state(app).jobs.stop()
        with app.app_context():
            get_state(app).db.engine.dispose()
    return tmp / "site.db"


@pytest.fixture
def site(tmp_path: t.Any, prepared_db: t.Any) -> t.Iterator[Flask]:
    db_file = tmp_path / "site.db"
    shutil.copy(prepared_db, db_file)
    app = make_site(tmp_path, db_file)
    yield app
    get_state(app).jobs.stop()
    with app.app_context():
        get_state(app).db.session.remove()
        get_state(app).db.engine.dispose()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


class Browser:
    """A test client that logs in through the real login form and posts forms."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()

    def login(self, username: str, password: str = "helpdesk-demo") -> t.Any:
        token = csrf_from(self.client.get("/login").text)
        return self.client.post("/login", data={
            "username": username, "password": password, "csrf_token": token})

    def get(self, url: str, **kw: t.Any) -> t.Any:
        return self.client.get(url, **kw)

    def submit(self, page_url: str, action: str, data: dict[str, t.Any]) -> t.Any:
        """Open ``page_url``, take its CSRF token and post ``data`` to ``action``."""
        token = csrf_from(self.client.get(page_url).text)
        return self.client.post(action, data={**data, "csrf_token": token})


@pytest.fixture
def browser(site: Flask) -> Browser:
    return Browser(site)
