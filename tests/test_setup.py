"""A helpdesk served before its setup is done: a 503 that names the fix, not a 500.

Before ``flask helpdesk db upgrade``, after a code upgrade whose migration has
not run, or without a ``SECRET_KEY``, every helpdesk page and API call answers
503 with what to do, in the browser's language; the log says it once; jobs
are skipped with no traceback until the tables are ready.
"""

from __future__ import annotations

import logging
import typing as t

import dramatiq
import pytest
from flask import Flask

from flask_helpdesk import migrations
from flask_helpdesk.extension import get_state
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.tasks import QUEUE
from flask_helpdesk.testing import User
from flask_helpdesk.testing import make_app

NOT_SET_UP = "The helpdesk database is not set up: run `flask helpdesk db upgrade`."


@pytest.fixture
def bare_app(tmp_path: t.Any) -> t.Iterator[Flask]:
    """A host app whose database has no helpdesk tables yet."""
    app = make_app(database_uri=f"sqlite:///{tmp_path / 'fresh.db'}")
    yield app
    get_state(app).jobs.stop()
    with app.app_context():
        get_state(app).db.session.remove()
        get_state(app).db.engines[None].dispose()


def _upgrade(app: Flask, revision: str = "head") -> None:
    with app.app_context():
        migrations.upgrade(get_state(app).db.engines[None], revision)


def _helpdesk_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("flask_helpdesk", "dramatiq"))]


def test_pages_and_api_answer_503_naming_the_fix_until_db_upgrade(
    bare_app: Flask, caplog: pytest.LogCaptureFixture,
) -> None:
    client = bare_app.test_client(user=User("1"))
    with caplog.at_level(logging.WARNING):
        for path in ("/helpdesk/", "/helpdesk/customers", "/helpdesk/tickets/1"):
            page = client.get(path)
            assert page.status_code == 503, path
            assert page.mimetype == "text/html"
            assert NOT_SET_UP in page.text
            assert page.headers["Retry-After"] == "30"
        api = client.get("/helpdesk/api/v1/tickets")
        assert api.status_code == 503
        assert api.json == {"error": {"code": "database_not_set_up", "message": NOT_SET_UP}}
        anonymous = bare_app.test_client().post("/helpdesk/api/v1/tickets", json={})
        assert anonymous.status_code == 503
    [warning] = _helpdesk_logs(caplog)  # logged once, not per request
    assert warning.levelno == logging.WARNING and warning.exc_info is None
    assert "run `flask helpdesk db upgrade`" in warning.getMessage()
    css = bare_app.test_client().get("/helpdesk/static/helpdesk.css")
    css.close()
    assert css.status_code == 200

    _upgrade(bare_app)
    with bare_app.app_context():
        agents.create_agent(actor=SYSTEM, name="Ada", user_id="1", role="admin")
    assert client.get("/helpdesk/customers").status_code == 200
    assert client.get("/helpdesk/api/v1/tickets").status_code == 200


def test_the_503_page_speaks_the_browsers_language(bare_app: Flask) -> None:
    client = bare_app.test_client()
    page = client.get("/helpdesk/", headers={"Accept-Language": "ru"})
    assert page.status_code == 503
    assert "flask helpdesk db upgrade" in page.text
    assert NOT_SET_UP not in page.text
    assert '<html lang="ru">' in page.text
    api = client.get("/helpdesk/api/v1/tickets", headers={"Accept-Language": "pt-BR"})
    assert api.json["error"]["code"] == "database_not_set_up"
    assert api.json["error"]["message"] != NOT_SET_UP


def test_an_outdated_revision_answers_503_with_both_revisions(bare_app: Flask) -> None:
    _upgrade(bare_app, "0008_threading")
    api = bare_app.test_client().get("/helpdesk/api/v1/tickets")
    assert api.status_code == 503
    assert api.json["error"]["code"] == "database_outdated"
    assert api.json["error"]["message"] == (
        f"The helpdesk database is at revision 0008_threading, this version needs"
        f" {migrations.heads()[0]}: run `flask helpdesk db upgrade`.")
    _upgrade(bare_app)
    assert bare_app.test_client().get("/helpdesk/api/v1/tickets").status_code == 401


def test_jobs_before_db_upgrade_log_one_line_and_no_traceback(
    bare_app: Flask, caplog: pytest.LogCaptureFixture,
) -> None:
    jobs = get_state(bare_app).jobs
    worker = dramatiq.Worker(jobs.broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        with caplog.at_level(logging.WARNING):
            for name in ("rules_tick", "sweep_outbox", "rules_tick", "sweep_outbox"):
                jobs.send(name)
            jobs.send("deliver_message", 1)
            jobs.broker.join(QUEUE, timeout=10_000)
            worker.join()
        [warning] = _helpdesk_logs(caplog)
        assert warning.levelno == logging.WARNING and warning.exc_info is None
        assert "not set up: run `flask helpdesk db upgrade`" in warning.getMessage()
        assert "background jobs are skipped" in warning.getMessage()

        _upgrade(bare_app)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            jobs.send("sweep_outbox")
            jobs.broker.join(QUEUE, timeout=10_000)
            worker.join()
        assert _helpdesk_logs(caplog) == []  # the job ran: nothing to sweep, nothing logged
        assert jobs.broker.dead_letters == []
    finally:
        worker.stop()


def test_no_secret_key_is_logged_at_init_and_answered_with_a_503(
    tmp_path: t.Any, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        app = make_app(database_uri=f"sqlite:///{tmp_path / 'hd.db'}",
                       config={"SECRET_KEY": None})
    try:
        assert any("no SECRET_KEY" in r.getMessage() for r in _helpdesk_logs(caplog))
        page = app.test_client().get("/helpdesk/")
        assert page.status_code == 503
        assert "The application has no SECRET_KEY, so agents cannot log in" in page.text
        api = app.test_client().get("/helpdesk/api/v1/me")
        assert api.json["error"]["code"] == "secret_key_missing"
    finally:
        get_state(app).jobs.stop()
