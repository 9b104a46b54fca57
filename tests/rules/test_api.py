"""The rules endpoints of the REST API."""

from __future__ import annotations

import typing as t

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import tickets
from tests.rules.helpers import ticket

API = "/helpdesk/api/v1"


def _csrf(client: t.Any) -> dict[str, str]:
    return {"X-CSRF-Token": client.get(f"{API}/me").get_json()["csrf_token"]}


def test_manager_creates_dry_runs_and_runs_a_rule(team, login, app) -> None:
    from flask_helpdesk.services import automation

    hit = ticket(team, "Refund please")
    ticket(team, "Hello")
    client = login(team.manager)
    headers = _csrf(client)
    body = {"name": "Refunds", "when": {"type": "manual"},
            "conditions": {"all": [{"field": "subject", "op": "contains_any",
                                    "value": "refund"}]},
            "actions": [{"type": "add_tags", "tags": ["refund"]}]}
    created = client.post(f"{API}/rules", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    rule = created.get_json()
    assert (rule["enabled"], rule["error"]) == (False, None)
    dry = client.get(f"{API}/rules/{rule['id']}/dry-run").get_json()
    assert dry == {"total": 1, "ticket_ids": [hit.id]}
    started = client.post(f"{API}/rules/{rule['id']}/run", headers=headers)
    assert started.status_code == 202
    run = started.get_json()
    assert run["state"] == "queued"
    again = client.post(f"{API}/rules/{rule['id']}/run", headers=headers)
    assert again.status_code == 409
    automation.execute_run(run["id"])  # what the rules_run job does
    status = client.get(f"{API}/rule-runs/{run['id']}").get_json()
    assert {k: status[k] for k in ("state", "total", "done", "touched")} == {
        "state": "done", "total": 1, "done": 1, "touched": 1}
    assert [tg.name for tg in tickets.get_ticket(hit.id, actor=SYSTEM).tags] == ["refund"]


def test_agents_get_403(team, login) -> None:
    assert login(team.anna).get(f"{API}/rules").status_code == 403


def test_bad_rule_is_a_422(team, login) -> None:
    client = login(team.manager)
    bad = client.post(f"{API}/rules", json={
        "name": "x", "when": {"type": "manual"},
        "actions": [{"type": "reply", "text": "Hi {name}"}]}, headers=_csrf(client))
    assert bad.status_code == 422
    assert "Unknown placeholder {name}" in bad.get_json()["error"]["message"]


def test_patch_enables_and_delete_removes(team, login) -> None:
    client = login(team.admin)
    headers = _csrf(client)
    rule = client.post(f"{API}/rules", json={
        "name": "x", "when": {"type": "event", "on": "ticket.created"},
        "actions": [{"type": "add_tags", "tags": ["new"]}]}, headers=headers).get_json()
    patched = client.patch(f"{API}/rules/{rule['id']}", json={"enabled": True},
                           headers=headers)
    assert patched.get_json()["enabled"] is True
    assert [tg.name for tg in tickets.get_ticket(ticket(team).id, actor=SYSTEM).tags] == ["new"]
    assert client.delete(f"{API}/rules/{rule['id']}", headers=headers).status_code == 204
    assert client.get(f"{API}/rules/{rule['id']}").status_code == 404


def test_the_notify_action_takes_whom_and_email(team, login) -> None:
    client = login(team.manager)
    headers = _csrf(client)
    action = {"type": "notify", "message": "Look at #{{ ticket.id }}", "to": "agents",
              "agent_ids": [team.anna.id], "email": False}
    body = {"name": "Tell Anna", "when": {"type": "manual"}, "actions": [action]}
    created = client.post(f"{API}/rules", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["actions"] == [action]
    bad = client.post(f"{API}/rules", json={**body, "name": "Tell nobody", "actions": [
        {**action, "agent_ids": [999]}]}, headers=headers)
    assert bad.status_code == 422
    assert bad.get_json()["error"]["message"] == "Agent 999 does not exist."
