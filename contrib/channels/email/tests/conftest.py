"""Fixtures of the email channel's tests.

The corpus lives in ``shared/email-corpus`` beside the repository (or where
``HELPDESK_EMAIL_CORPUS`` points). Without it the corpus tests skip locally
and fail in CI.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import typing as t
from pathlib import Path

import pytest
from email_corpus_check import CORPUS
from flask import Flask
from flask_helpdesk_email import plugin
from imap_server import Dovecot
from smtp_server import SmtpSink

from flask_helpdesk import get_state
from flask_helpdesk.testing import create_tables
from flask_helpdesk.testing import make_app


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "chatwoot").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"email corpus missing at {CORPUS}")
        pytest.skip(f"email corpus missing at {CORPUS}")
    return CORPUS


# -- a helpdesk app with the email plugin, Dovecot and an SMTP sink ---------------

def _require_root() -> None:
    if os.geteuid() != 0 and not shutil.which("dovecot"):
        if os.environ.get("CI"):
            pytest.fail("Dovecot is not installed and cannot be installed without root")
        pytest.skip("Dovecot is not installed and cannot be installed without root")


@pytest.fixture(scope="session")
def dovecot_server() -> t.Iterator[Dovecot]:
    _require_root()
    # Not under pytest's tmp dir: Dovecot's processes run as the dovecot user
    # and must reach the mail folders.
    run = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    server = Dovecot(run)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(run, ignore_errors=True)


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> Dovecot:
    dovecot_server.reset()
    return dovecot_server


@pytest.fixture
def smtp_sink() -> t.Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def mail_app_factory(tmp_path: Path) -> t.Iterator[t.Callable[..., Flask]]:
    """``factory(**config)``: apps with the email plugin on one SQLite database."""
    apps: list[Flask] = []

    def factory(**config: t.Any) -> Flask:
        app = make_app(database_uri=f"sqlite:///{tmp_path / 'helpdesk.db'}", plugins=[plugin],
                       config={"HELPDESK_ATTACHMENT_DIR": str(tmp_path / "files"), **config})
        with app.app_context():
            create_tables(app)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            for engine in get_state(app).db.engines.values():
                engine.dispose()


@pytest.fixture
def mail_app(mail_app_factory: t.Callable[..., Flask]) -> t.Iterator[Flask]:
    app = mail_app_factory()
    with app.app_context():
        yield app


# -- the corpus pass rates, printed after a run that checked the corpus ------------

def pytest_terminal_summary(terminalreporter: t.Any) -> None:
    ran = any("test_email_corpus.py::test_expected_fields" in report.nodeid
              for outcome in ("passed", "failed")
              for report in terminalreporter.stats.get(outcome, ()))
    if not ran:
        return
    import email_corpus_check as check

    terminalreporter.section("email corpus pass rates (shared/email-corpus)")
    for line in check.rate_table(check.run_all()):
        terminalreporter.write_line(line)
