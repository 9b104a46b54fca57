"""The REST API of reply templates: CRUD with permissions, the preview, replies."""

from __future__ import annotations

import base64
import io

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import tickets
from tests.templates.helpers import shared
from tests.templates.helpers import ticket


def test_manager_creates_a_shared_template_agent_gets_403(team, api_as) -> None:
    manager, agent = api_as(team.manager), api_as(team.anna)
    made = manager.post("/templates", json={
        "name": "Refund", "folder": "Billing / Refunds", "shared": True,
        "body": "Hello {{ customer.first_name }}", "actions": {
            "status": "pending", "add_tags": ["Refund"]},
        "attachments": [{"filename": "policy.txt", "content_type": "text/plain",
                         "data": base64.b64encode(b"30 days").decode()}]})
    assert made.status_code == 201, made.json
    body = made.json
    assert body["folder"] == "Billing/Refunds" and body["shared"] is True
    assert body["owner_id"] is None and body["created_by_id"] == team.manager.id
    assert body["actions"] == {"status": "pending", "add_tags": ["refund"]}
    assert [a["filename"] for a in body["attachments"]] == ["policy.txt"]
    url = f"/templates/{body['id']}"
    # Agents read shared templates but may not write them.
    assert agent.get(url).json["name"] == "Refund"
    for response in (agent.patch(url, json={"name": "Mine"}), agent.delete(url),
                     agent.post("/templates", json={"name": "x", "body": "y",
                                                    "shared": True})):
        assert response.status_code == 403
        assert response.json["error"]["code"] == "permission_denied"
    # Their own personal ones they manage.
    own = agent.post("/templates", json={"name": "Mine", "body": "Hi"})
    assert own.status_code == 201 and own.json["owner_id"] == team.anna.id
    changed = agent.patch(f"/templates/{own.json['id']}", json={"body": "Hi there"})
    assert changed.status_code == 200 and changed.json["body"] == "Hi there"
    assert manager.get(f"/templates/{own.json['id']}").status_code == 404
    assert manager.patch(url, json={"remove_attachments": [body["attachments"][0]["id"]]},
                         ).json["attachments"] == []
    assert manager.delete(url).status_code == 204
    assert manager.get(url).status_code == 404


def test_validation_errors_name_the_field(team, api_as) -> None:
    api = api_as(team.manager)
    bad = api.post("/templates", json={"name": "x", "body": "{{ customer.nmae }}"})
    assert bad.status_code == 422
    assert bad.json["error"]["field"] == "body"
    assert "customer.nmae" in bad.json["error"]["message"]
    bad = api.post("/templates", json={"name": "x", "body": "y",
                                       "actions": {"assignee_id": 999}})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "actions.assignee_id"
    assert api.post("/templates", json={"name": "x", "body": "y",
                                        "actions": {"colour": "red"}}).status_code == 400


def test_multipart_create_with_a_file(team, api_as) -> None:
    api = api_as(team.admin)
    response = api.post("/templates", data={
        "name": "Invoice", "body": "See the invoice", "shared": "true",
        "attachments": (io.BytesIO(b"%PDF-1.4 x"), "invoice.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    assert response.json["attachments"][0]["content_type"] == "application/pdf"


def test_list_search_folder_and_render(team, api_as) -> None:
    shared("Refund", "Money back, {{ customer.first_name }}", folder="Billing",
           actions={"status": "pending", "add_tags": ["refund"]})
    shared("Возврат", "Деньги вернули, {{ customer.name }}", folder="Billing/RU")
    shared("Reset", "Use the link", folder="Tech")
    api = api_as(team.anna)
    assert [t["name"] for t in api.get("/templates?q=деньги").json["items"]] == ["Возврат"]
    assert [t["name"] for t in api.get("/templates?folder=Billing").json["items"]] == [
        "Refund", "Возврат"]
    case = ticket(team)
    refund = api.get("/templates?q=refund").json["items"][0]
    preview = api.get(f"/templates/{refund['id']}/render?ticket_id={case.id}")
    assert preview.status_code == 200
    assert preview.json["text"] == "Money back, Carla"
    assert preview.json["summary"] == ["set status pending", "add tags refund"]
    assert api.get(f"/templates/{refund['id']}/render").status_code == 422
    assert api.get(f"/templates/{refund['id']}/render?ticket_id=99999").status_code == 404


def test_reply_endpoint_takes_template_id(team, api_as) -> None:
    row = shared(actions={"status": "pending", "add_tags": ["refund"]})
    case = ticket(team)
    api = api_as(team.anna)
    sent = api.post(f"/tickets/{case.id}/reply", json={"text": "Your money is on its way",
                                                       "template_id": row.id})
    assert sent.status_code == 201, sent.json
    assert sent.json["text"] == "Your money is on its way"
    after = tickets.get_ticket(case.id, actor=SYSTEM)
    assert after.status == "pending" and [t.name for t in after.tags] == ["refund"]
    assert api.get(f"/templates/{row.id}").json["usage_count"] == 1
    events = api.get(f"/tickets/{case.id}/events").json["items"]
    assert any(e["type"] == "template.applied" and e["data"]["name"] == "Refund"
               for e in events)
    assert api.post(f"/tickets/{case.id}/reply", json={
        "text": "x", "template_id": 9999}).status_code == 404
