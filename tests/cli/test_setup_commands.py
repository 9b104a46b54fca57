"""Commands for a host developer setting up: clear errors before ``db upgrade``,
``create-token``, ``doctor`` and the plugins' distributions."""

from __future__ import annotations

import os
import subprocess
import sys
import typing as t

import pytest
from flask import Flask

from flask_helpdesk import hookimpl
from flask_helpdesk import migrations
from flask_helpdesk.extension import get_state
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels
from flask_helpdesk.testing import make_app
from tests.cli.test_commands import run
from tests.services_check import REDIS_URL
from tests.services_check import require
from tests.test_setup import _upgrade

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOT_SET_UP = "Error: The helpdesk database is not set up: run `flask helpdesk db upgrade`."
CLOSED_REDIS = "redis://:sekret@127.0.0.1:1/0"


@pytest.fixture
def bare_factory(tmp_path: t.Any) -> t.Iterator[t.Callable[..., Flask]]:
    """Apps on one SQLite database that has no helpdesk tables yet."""
    apps: list[Flask] = []

    def factory(config: t.Mapping[str, t.Any] | None = None,
                plugins: t.Iterable[object] = ()) -> Flask:
        app = make_app(database_uri=f"sqlite:///{tmp_path / 'fresh.db'}",
                       config={"SECRET_KEY": "a-long-enough-secret-key", **(config or {})},
                       plugins=plugins)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        get_state(app).jobs.stop()
        with app.app_context():
            get_state(app).db.session.remove()
            get_state(app).db.engines[None].dispose()


# ------------------------------------------------------- before db upgrade


def test_commands_that_need_the_tables_say_run_db_upgrade(
        bare_factory: t.Callable[..., Flask]) -> None:
    app = bare_factory()
    for args in (["create-agent", "--name", "Ada"], ["outbox", "status"],
                 ["create-token", "1"], ["run-rule", "x"], ["demo-data"]):
        result = run(app, *args)
        assert result.exit_code == 1, args
        assert result.output.strip() == NOT_SET_UP, args
    assert run(app, "config").exit_code == 0  # needs no tables
    assert run(app, "db", "current").output == "Not migrated: run flask helpdesk db upgrade.\n"

    _upgrade(app, "0008_threading")
    result = run(app, "create-agent", "--name", "Ada")
    assert result.exit_code == 1
    assert "The helpdesk database is at revision 0008_threading, this version needs" \
           f" {migrations.heads()[0]}: run `flask helpdesk db upgrade`." in result.output

    assert run(app, "db", "upgrade").exit_code == 0
    result = run(app, "create-agent", "--name", "Ada")
    assert result.exit_code == 0, result.output
    assert "Created agent 1: Ada (agent)." in result.output


def test_create_agent_before_db_upgrade_in_a_real_process(tmp_path: t.Any) -> None:
    env = {**os.environ, "HOSTAPP_DATABASE": f"sqlite:///{tmp_path / 'new.db'}",
           "HOSTAPP_BROKER": "stub", "FLASK_APP": "tests.cli.hostapp:create_app"}
    proc = subprocess.run(
        [sys.executable, "-m", "flask", "helpdesk", "create-agent", "--name", "Ada"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == NOT_SET_UP
    assert "Traceback" not in proc.stdout + proc.stderr


# ------------------------------------------------------------ create-token


def test_create_token_prints_the_secret_once_and_it_works(app: Flask, team: t.Any) -> None:
    result = app.test_cli_runner().invoke(
        args=["helpdesk", "create-token", "ANNA@example.com", "--name", "deploy script"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("hdk_") and "\n" not in secret
    [token] = agents.list_tokens(actor=SYSTEM, agent_id=team.anna.id)
    assert result.stderr == (
        f"Created API token {token.id} (deploy script) for Anna Agent. It is shown only now;"
        f" revoke it with DELETE /helpdesk/api/v1/tokens/{token.id}.\n")
    me = app.test_client().get("/helpdesk/api/v1/me",
                               headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json["name"] == "Anna Agent", me.json
    assert secret not in str(agents.list_tokens(actor=SYSTEM, agent_id=team.anna.id))

    by_id = run(app, "create-token", str(team.boris.id))
    assert by_id.exit_code == 0
    assert [t.name for t in agents.list_tokens(actor=SYSTEM, agent_id=team.boris.id)] == ["cli"]


def test_create_token_refuses_unknown_and_deactivated_agents(app: Flask, team: t.Any) -> None:
    result = run(app, "create-token", "nobody@example.com")
    assert result.exit_code == 1
    assert "Error: No agent nobody@example.com: give an agent id or email address" \
           " (agents: " in result.output
    assert f"{team.anna.id} anna@example.com" in result.output
    assert run(app, "create-token", "999").exit_code == 1
    agents.update_agent(team.boris.id, actor=SYSTEM, active=False)
    result = run(app, "create-token", "boris@example.com")
    assert result.exit_code == 1
    assert "Agent Boris Billing is deactivated: a token of theirs would not work." \
        in result.output
    assert agents.list_tokens(actor=SYSTEM, agent_id=team.boris.id) == []


# ------------------------------------------------------------------ doctor


def _doctor(app: Flask) -> tuple[int, list[str]]:
    result = run(app, "doctor")
    return result.exit_code, result.output.splitlines()


def test_doctor_all_ok_with_the_embedded_broker(bare_factory: t.Callable[..., Flask]) -> None:
    app = bare_factory(config={"HELPDESK_BROKER_URL": None})
    _upgrade(app)
    code, lines = _doctor(app)
    assert code == 0, lines
    assert lines == [
        f"OK    database: at revision {migrations.heads()[0]} (head).",
        "OK    broker: embedded (jobs run inside the web process; for one process only).",
        "OK    realtime: no Redis configured (Socket.IO and presence for one web process).",
        "OK    plugins: only the built-in ones are loaded.",
        "OK    secrets: SECRET_KEY is set.",
        "FAIL: 0, WARN: 0.",
    ]


def test_doctor_fails_on_missing_and_outdated_tables(bare_factory: t.Callable[..., Flask]) -> None:
    app = bare_factory()
    code, lines = _doctor(app)
    assert code == 1
    assert lines[0] == "FAIL  database: the helpdesk tables are not set up: run `flask" \
                       " helpdesk db upgrade`."
    assert "WARN  plugins: their own checks were skipped until the database is ready." in lines
    _upgrade(app, "0008_threading")
    code, lines = _doctor(app)
    assert code == 1
    assert lines[0] == (f"FAIL  database: at revision 0008_threading, this version needs"
                        f" {migrations.heads()[0]}: run `flask helpdesk db upgrade`.")


def test_doctor_stub_broker_is_a_warning(bare_factory: t.Callable[..., Flask]) -> None:
    app = bare_factory()
    _upgrade(app)
    code, lines = _doctor(app)
    assert code == 0
    assert "WARN  broker: stub, no worker runs the jobs (for tests): set HELPDESK_BROKER_URL" \
           " to embedded, a redis:// or an amqp:// URL." in lines
    assert lines[-1] == "FAIL: 0, WARN: 1."


def test_doctor_names_unreachable_broker_and_redis(bare_factory: t.Callable[..., Flask]) -> None:
    app = bare_factory(config={"HELPDESK_BROKER_URL": CLOSED_REDIS,
                               "HELPDESK_PRESENCE_URL": CLOSED_REDIS,
                               "HELPDESK_SOCKETIO_MESSAGE_QUEUE": CLOSED_REDIS})
    _upgrade(app)
    code, lines = _doctor(app)
    assert code == 1
    refused = "(ConnectionError: Error 111 connecting to 127.0.0.1:1. Connection refused.)"
    assert lines[1] == (f"FAIL  broker: cannot reach redis://:***@127.0.0.1:1/0 {refused}:"
                        f" start it, or fix HELPDESK_BROKER_URL.")
    for key in ("HELPDESK_SOCKETIO_MESSAGE_QUEUE", "HELPDESK_PRESENCE_URL"):
        assert (f"FAIL  {key}: cannot reach redis://:***@127.0.0.1:1/0 {refused}: start Redis,"
                f" or fix {key}.") in lines
    assert "sekret" not in "\n".join(lines)


@pytest.mark.redis
def test_doctor_ok_with_a_running_redis(bare_factory: t.Callable[..., Flask]) -> None:
    require("Redis", "127.0.0.1", 6379)
    app = bare_factory(config={"HELPDESK_BROKER_URL": REDIS_URL,
                               "HELPDESK_PRESENCE_URL": REDIS_URL})
    _upgrade(app)
    code, lines = _doctor(app)
    assert code == 0, lines
    assert lines[1] == (f"OK    broker: {REDIS_URL} answers; run `flask helpdesk worker` and one"
                        " `flask helpdesk scheduler`.")
    assert f"OK    HELPDESK_PRESENCE_URL: {REDIS_URL} answers." in lines


class Checked:
    """A plugin with its own doctor lines."""

    def __init__(self, name: str, findings: list[tuple[str, str]] | Exception) -> None:
        self.__name__ = name
        self.findings = findings

    @hookimpl
    def helpdesk_doctor(self, helpdesk: t.Any) -> list[tuple[str, str]]:
        assert helpdesk is get_state()
        if isinstance(self.findings, Exception):
            raise self.findings
        return self.findings


def test_doctor_reports_plugins_and_their_own_checks(
        bare_factory: t.Callable[..., Flask]) -> None:
    app = bare_factory(
        config={"HELPDESK_DISABLED_PLUGINS": ["emial"]},
        plugins=[Checked("checked", [("ok", "checked: all set."),
                                     ("fail", "checked: no key: set one.")]),
                 Checked("broken", RuntimeError("boom"))])
    _upgrade(app)
    code, lines = _doctor(app)
    assert code == 1
    assert "OK    plugin checked: loaded." in lines
    assert "WARN  HELPDESK_DISABLED_PLUGINS names emial, which no installed plugin is called:" \
           " check the spelling (`flask helpdesk plugins`)." in lines
    assert "OK    checked: all set." in lines
    assert "FAIL  checked: no key: set one." in lines
    assert "FAIL  plugin broken: its check failed (RuntimeError: boom)." in lines


def test_doctor_secret_key_missing_short_and_stored_secrets_unreadable(
        bare_factory: t.Callable[..., Flask]) -> None:
    app = bare_factory(config={"SECRET_KEY": None})
    _upgrade(app)
    code, lines = _doctor(app)
    assert code == 1
    assert "FAIL  secrets: the app has no SECRET_KEY, so agents cannot log in: set SECRET_KEY" \
           " (e.g. FLASK_SECRET_KEY) to a long random string." in lines

    class Chat:
        @hookimpl
        def helpdesk_register_channels(self) -> list[dict[str, str]]:
            return [{"name": "chat", "label": "Chat"}]

    old = bare_factory(config={"SECRET_KEY": "short"}, plugins=[Chat()])
    with old.app_context():
        channels.create_account(actor=SYSTEM, channel="chat", name="bot",
                                secrets={"token": "t0k"})
    code, lines = _doctor(old)
    assert code == 0, lines
    assert "WARN  secrets: SECRET_KEY is shorter than 16 characters: use a long random one," \
           " e.g. from `python -c 'import secrets; print(secrets.token_hex())'`." in lines
    assert "OK    secrets: the secrets of 1 account are readable. They are encrypted with" \
           " SECRET_KEY: set HELPDESK_SECRET_KEY to change SECRET_KEY without losing them." \
           in lines

    rotated = bare_factory(config={"SECRET_KEY": "a-new-and-long-secret-key"}, plugins=[Chat()])
    code, lines = _doctor(rotated)
    assert code == 1
    assert "FAIL  secrets: the stored secrets of chat:bot cannot be decrypted: set" \
           " HELPDESK_SECRET_KEY (or SECRET_KEY) back to the key they were saved with, or" \
           " enter them again on the Channels page." in lines


# ----------------------------------------------------------------- plugins


def test_plugins_shows_the_distribution_of_entry_point_plugins(
        app_factory: t.Callable[..., Flask]) -> None:
    from importlib.metadata import version

    app = app_factory(config={"HELPDESK_LOAD_ENTRY_POINTS": True})
    with app.app_context():
        lines = run(app, "plugins").output.splitlines()
    assert f"email (flask-helpdesk-email {version('flask-helpdesk-email')})" in lines
    assert "flask_helpdesk.plugins.defaults.web [built in]" in lines
