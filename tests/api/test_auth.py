from __future__ import annotations

import typing as t

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import tickets
from flask_helpdesk.testing import User

from .conftest import PREFIX


def _ticket(team: t.Any) -> t.Any:
    return tickets.create_ticket(actor=team.anna, customer_id=team.customer.id,
                                 subject="Printer", text="Broken", group_id=team.support.id)


def test_no_credentials_is_401_json(team, anonymous) -> None:
    response = anonymous.get("/tickets")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_and_revoked_tokens_are_401(team, api_as, app) -> None:
    token, secret = agents.create_token(actor=team.anna, agent_id=team.anna.id, name="laptop")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"{PREFIX}/me", headers=headers).json["id"] == team.anna.id

    agents.revoke_token(token.id, actor=team.anna)
    response = client.get(f"{PREFIX}/me", headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"
    bogus = client.get(f"{PREFIX}/me", headers={"Authorization": "Bearer hdk_nope"})
    assert bogus.status_code == 401


def test_token_of_deactivated_agent_is_refused(team, api_as) -> None:
    api = api_as(team.boris)
    agents.update_agent(team.boris.id, actor=SYSTEM, active=False)
    assert api.get("/me").status_code == 401


def test_logged_in_user_who_is_not_an_agent_gets_403(team, app) -> None:
    client = app.test_client(user=User("999"))
    response = client.get(f"{PREFIX}/tickets")
    assert response.status_code == 403
    assert response.json["error"]["code"] == "not_an_agent"


def test_session_changes_need_the_csrf_token(team, login) -> None:
    ticket = _ticket(team)
    client = login(team.anna)
    url = f"{PREFIX}/tickets/{ticket.id}"
    assert client.get(url).status_code == 200  # reading needs no token

    refused = client.patch(url, json={"priority": "high"})
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "csrf_failed"
    wrong = client.patch(url, json={"priority": "high"}, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    assert tickets.get_ticket(ticket.id, actor=SYSTEM).priority_name == "normal"

    csrf = client.get(f"{PREFIX}/me").json["csrf_token"]
    done = client.patch(url, json={"priority": "high"}, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200 and done.json["priority"] == "high"


def test_token_requests_need_no_csrf_and_get_none(team, api_as) -> None:
    api = api_as(team.anna)
    assert api.get("/me").json["csrf_token"] is None
    ticket = _ticket(team)
    assert api.patch(f"/tickets/{ticket.id}", json={"priority": "low"}).status_code == 200


def test_agent_cannot_read_or_change_another_groups_ticket(team, api_as) -> None:
    ticket = _ticket(team)
    boris = api_as(team.boris)
    assert boris.get(f"/tickets/{ticket.id}").status_code == 403
    response = boris.patch(f"/tickets/{ticket.id}", json={"subject": "Mine now"})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "permission_denied"
    assert boris.get(f"/tickets/{ticket.id}/messages").status_code == 403
    assert boris.post(f"/tickets/{ticket.id}/reply", json={"text": "hi"}).status_code == 403
    assert tickets.get_ticket(ticket.id, actor=SYSTEM).subject == "Printer"
    assert ticket.id not in [t["id"] for t in boris.get("/tickets").json["items"]]


def test_openapi_document_is_public(anonymous) -> None:
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    assert response.json["openapi"].startswith("3.1")
