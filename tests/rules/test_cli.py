"""``flask helpdesk run-rule`` and ``flask helpdesk scheduler``."""

from __future__ import annotations

import typing as t

from flask import Flask

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import tickets
from tests.cli.test_commands import run
from tests.rules.helpers import rule
from tests.rules.helpers import ticket
from tests.services_check import require


def test_run_rule_changes_matching_tickets_and_prints_counts(app: Flask, team: t.Any) -> None:
    printers = [ticket(team, "Printer on fire"), ticket(team, "PRINTER jam")]
    other = ticket(team, "Login")
    rule(name="Printers to support", conditions={"all": [
        {"field": "subject", "op": "contains_any", "value": "printer"}]},
        actions=[{"type": "set_group", "group_id": team.support.id}])
    result = run(app, "run-rule", "Printers to support")
    assert result.exit_code == 0
    assert result.output == ("Rule Printers to support: 2 tickets, 2 changed, 0 skipped,"
                             " 0 failed.\n")
    groups = [tickets.get_ticket(tk.id, actor=SYSTEM).group_id for tk in (*printers, other)]
    assert groups == [team.support.id, team.support.id, None]


def test_run_rule_unknown_name_and_paused_rule(app: Flask, team: t.Any) -> None:
    result = run(app, "run-rule", "nope")
    assert (result.exit_code, result.output) == (1, "Error: No rule is called nope.\n")
    ticket(team)
    rule(name="to anna", actions=[{"type": "assign", "agent_id": team.anna.id}])
    agents.update_agent(team.anna.id, actor=SYSTEM, active=False)
    result = run(app, "run-rule", "to anna")
    assert result.exit_code == 1
    assert "0 changed" in result.output and "paused" in result.output
    assert "deactivated" in result.output


def test_scheduler_refuses_an_in_memory_broker(app: Flask) -> None:
    result = run(app, "scheduler", "--once")
    assert result.exit_code == 1
    assert "needs a shared broker" in result.output


def test_scheduler_sends_the_tick_to_redis(app_factory: t.Callable[..., Flask]) -> None:
    require("Redis", "127.0.0.1", 6379)
    from flask_helpdesk.extension import get_state
    from flask_helpdesk.tasks import QUEUE

    app = app_factory(config={"HELPDESK_BROKER_URL": "redis://127.0.0.1:6379/14"})
    broker = get_state(app).jobs.broker
    broker.flush_all()
    result = run(app, "scheduler", "--once")
    assert result.exit_code == 0, result.output
    assert "a rules tick every 60.0 s" in result.output
    client = broker.client
    queued = client.hvals(f"dramatiq:{QUEUE}.msgs")
    assert len(queued) == 1 and b"helpdesk.rules_tick" in queued[0]
    client.flushdb()


def test_scheduler_also_sends_the_periodic_jobs_of_plugins(
        app_factory: t.Callable[..., Flask]) -> None:
    require("Redis", "127.0.0.1", 6379)
    from flask_helpdesk import hookimpl
    from flask_helpdesk.extension import get_state
    from flask_helpdesk.tasks import QUEUE

    class Periodic:
        @hookimpl
        def helpdesk_startup(self, helpdesk: t.Any) -> None:
            helpdesk.jobs.declare("tidy_up", lambda: None, max_retries=0)
            helpdesk.jobs.every("tidy_up", 300)

    app = app_factory(config={"HELPDESK_BROKER_URL": "redis://127.0.0.1:6379/14"},
                      plugins=[Periodic()])
    broker = get_state(app).jobs.broker
    broker.flush_all()
    result = run(app, "scheduler", "--once")
    assert result.exit_code == 0, result.output
    assert "tidy_up every 300.0 s" in result.output
    queued = b"".join(broker.client.hvals(f"dramatiq:{QUEUE}.msgs"))
    assert b"helpdesk.rules_tick" in queued and b"helpdesk.tidy_up" in queued
    broker.client.flushdb()
