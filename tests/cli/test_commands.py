"""``flask helpdesk`` commands, run through Flask's CLI runner."""

from __future__ import annotations

import gc
import typing as t

import click
import dramatiq
import pytest
from flask import Flask
from sqlalchemy import update

from flask_helpdesk import hookimpl
from flask_helpdesk.config import DEFAULTS
from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Message
from flask_helpdesk.services import agents
from flask_helpdesk.services import messages
from flask_helpdesk.services import tickets
from flask_helpdesk.tasks import QUEUE


def run(app: Flask, *args: str, input: str | None = None) -> t.Any:
    result = app.test_cli_runner().invoke(args=["helpdesk", *args], input=input)
    assert "Traceback" not in result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


# ------------------------------------------------------------- create-agent


def test_create_agent_with_existing_groups(app: Flask, team: t.Any) -> None:
    result = run(app, "create-agent", "--name", "Nina New", "--email", "Nina@Example.com",
                 "--user-id", "42", "--role", "manager", "--group", "support",
                 "--group", "Billing")
    assert result.exit_code == 0, result.output
    agent = agents.get_by_user_id("42")
    assert agent is not None
    assert f"Created agent {agent.id}: Nina New (manager)." in result.output
    assert (agent.name, agent.email, agent.role) == ("Nina New", "nina@example.com", "manager")
    assert sorted(g.name for g in agent.groups) == ["Billing", "Support"]


def test_create_agent_refuses_unknown_groups_unless_asked(app: Flask, team: t.Any) -> None:
    result = run(app, "create-agent", "--name", "Olga", "--group", "Sales")
    assert result.exit_code == 1
    assert "No group named Sales (known: Billing, Support); add --create-groups" in result.output
    assert agents.get_group_by_name("Sales") is None
    assert [a.name for a in agents.list_agents() if a.name == "Olga"] == []

    result = run(app, "create-agent", "--name", "Olga", "--group", "Sales", "--create-groups")
    assert result.exit_code == 0, result.output
    sales = agents.get_group_by_name("Sales")
    assert sales is not None
    [olga] = [a for a in agents.list_agents() if a.name == "Olga"]
    assert [g.id for g in olga.groups] == [sales.id]


def test_refused_agent_leaves_no_new_group_behind(app: Flask, team: t.Any) -> None:
    result = run(app, "create-agent", "--name", "Ada Again", "--email", "ada@example.com",
                 "--group", "Sales", "--create-groups")
    assert result.exit_code == 1
    assert "Error: Another agent has the email ada@example.com." in result.output
    assert agents.get_group_by_name("Sales") is None


@pytest.mark.parametrize(("args", "message"), [
    (["--name", "X", "--role", "boss"], "'boss' is not one of 'agent', 'manager', 'admin'"),
    (["--name", "X", "--email", "not-an-address"], "not-an-address is not an email address"),
    (["--email", "x@example.com"], "Missing option '--name'"),
])
def test_create_agent_bad_input_is_a_clear_error(
    app: Flask, args: list[str], message: str,
) -> None:
    result = run(app, "create-agent", *args)
    assert result.exit_code in (1, 2)
    assert message in result.output


# ------------------------------------------------------------------- config


@pytest.fixture
def app(app_factory: t.Callable[..., Flask], recorder: t.Any) -> t.Iterator[Flask]:
    app = app_factory(config={
        "HELPDESK_MAIL_PASSWORD": "hunter2",
        "HELPDESK_JIRA_API_TOKEN": "tok-123",
        "HELPDESK_CRM_SECRET": {"client": "abc", "key": "xyz"},
        "HELPDESK_IMAP_URL": "imaps://bob:pa55word@mail.example.com:993/INBOX",
        "HELPDESK_EMPTY_API_KEY": None,
    }, plugins=[recorder, Gizmo()])
    with app.app_context():
        yield app


def test_config_lists_every_key_with_secrets_masked(app: Flask) -> None:
    output = run(app, "config").output
    lines = dict(line.split(" = ", 1) for line in output.splitlines())
    assert set(DEFAULTS) <= set(lines)
    assert lines["HELPDESK_URL_PREFIX"] == "'/helpdesk'"
    assert lines["HELPDESK_BROKER_URL"] == "'stub'"  # the effective value
    assert lines["HELPDESK_DATABASE_BIND_KEY"] == "None"  # a bind name, not a secret
    assert lines["HELPDESK_MAIL_PASSWORD"] == "'********'"
    assert lines["HELPDESK_JIRA_API_TOKEN"] == "'********'"
    assert lines["HELPDESK_CRM_SECRET"] == "'********'"
    assert lines["HELPDESK_IMAP_URL"] == "'imaps://bob:***@mail.example.com:993/INBOX'"
    assert lines["HELPDESK_EMPTY_API_KEY"] == "None"  # unset stays visible
    for secret in ("hunter2", "tok-123", "abc", "xyz", "pa55word"):
        assert secret not in output
    assert lines["HELPDESK_GIZMO_COLOR"] == "'blue'"  # declared by a plugin


# ------------------------------------------------------------------ plugins


class Gizmo:
    """A plugin with a config default and a command."""

    __name__ = "gizmo"

    @hookimpl
    def helpdesk_config_defaults(self) -> dict[str, t.Any]:
        return {"HELPDESK_GIZMO_COLOR": "blue"}

    @hookimpl
    def helpdesk_register_commands(self, cli: t.Any) -> None:
        @cli.command("gizmo")
        def gizmo() -> None:
            print("gizmo ran")


def test_plugins_lists_names_versions_and_hooks(app: Flask) -> None:
    output = run(app, "plugins").output
    blocks = output.split("\n")
    web = blocks.index("flask_helpdesk.plugins.defaults.web [built in]")
    assert blocks[web + 1:web + 3] == ["    helpdesk_deliver_message",
                                       "    helpdesk_register_channels"]
    gizmo = blocks.index("gizmo")
    assert blocks[gizmo + 1:gizmo + 3] == ["    helpdesk_config_defaults",
                                           "    helpdesk_register_commands"]
    assert run(app, "gizmo").output == "gizmo ran\n"


def test_commands_keep_the_collector_off_start_up_objects_only_while_they_run(
        app: Flask) -> None:
    frozen: list[int] = []
    app.cli.commands["helpdesk"].add_command(  # type: ignore[attr-defined]
        click.Command("probe", callback=lambda: frozen.append(gc.get_freeze_count())))
    assert gc.get_freeze_count() == 0
    assert run(app, "probe").exit_code == 0
    assert frozen[0] > 10_000  # the modules, the app: not walked by each full collection
    assert gc.get_freeze_count() == 0  # the caller (here, the tests) collects as before


# ------------------------------------------------------------------- outbox


def _reply(team: t.Any) -> Message:
    ticket = tickets.create_ticket(actor=team.anna, customer_id=team.customer.id,
                                   subject="Broken", text="Help", group_id=team.support.id)
    return messages.reply(ticket.id, actor=team.anna, text="Fixed.")


def test_outbox_status_sweep_and_retry(app: Flask, team: t.Any) -> None:
    state = get_state()
    lost = _reply(team)
    failed = _reply(team)
    s = state.db.session
    s.execute(update(Message).where(Message.id == failed.id).values(
        delivery_state="failed", attempts=8, last_error="550 mailbox unavailable\nmore"))
    s.commit()
    state.jobs.broker.flush_all()  # the broker lost every job

    output = run(app, "outbox", "status").output
    assert "queued: 1\nsending: 0\nsent: 0\nfailed: 1\n" in output
    assert f"failed #{failed.id} (ticket {failed.ticket_id}, 8 attempts): 550 mailbox" \
           " unavailable\n" in output

    worker = dramatiq.Worker(state.jobs.broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        assert run(app, "outbox", "sweep").output == "Re-sent 1 replies.\n"
        state.jobs.broker.join(QUEUE)
        worker.join()
        assert run(app, "outbox", "retry", str(failed.id)).output == \
            f"Reply {failed.id} is queued again.\n"
        state.jobs.broker.join(QUEUE)
        worker.join()
    finally:
        worker.stop()
    assert "queued: 0\nsending: 0\nsent: 2\nfailed: 0\n" in run(app, "outbox", "status").output

    result = run(app, "outbox", "retry", str(lost.id))
    assert result.exit_code == 1
    assert "Error: Only a failed reply can be retried." in result.output


def test_worker_refuses_an_in_memory_broker(app: Flask) -> None:
    result = run(app, "worker")
    assert result.exit_code == 1
    assert "set HELPDESK_BROKER_URL to a redis:// or amqp:// URL" in result.output


def test_worker_names_an_unreachable_broker(app_factory: t.Callable[..., Flask]) -> None:
    app = app_factory(config={"HELPDESK_BROKER_URL": "redis://:sekret@127.0.0.1:1/0"})
    with app.app_context():
        result = run(app, "worker")
    assert result.exit_code == 1
    assert "Cannot reach the broker redis://:***@127.0.0.1:1/0" in result.output
    assert "sekret" not in result.output
