from __future__ import annotations

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import customers
from flask_helpdesk.services import tickets

from .conftest import PREFIX


def test_customer_lifecycle(team, api_as) -> None:
    api = api_as(team.anna)
    created = api.post("/customers", json={
        "name": "Dora", "notes": "Prefers phone", "attributes": {"plan": "pro"},
        "identities": [{"kind": "email", "value": "Dora@Example.org"},
                       {"kind": "phone", "value": "+1 (555) 0101"}]})
    assert created.status_code == 201, created.json
    dora = created.json
    assert [(i["kind"], i["value"]) for i in dora["identities"]] == [
        ("email", "dora@example.org"), ("phone", "+15550101")]
    assert api.get(f"/customers/{dora['id']}").json["attributes"] == {"plan": "pro"}

    changed = api.patch(f"/customers/{dora['id']}", json={"name": "Dora D.",
                                                          "attributes": {}})
    assert changed.status_code == 200
    assert changed.json["name"] == "Dora D." and changed.json["attributes"] == {}
    found = api.get("/customers", query_string={"q": "dora@"}).json["items"]
    assert [c["id"] for c in found] == [dora["id"]]


def test_customer_list_pages(team, api_as) -> None:
    for i in range(4):
        customers.create_customer(actor=SYSTEM, name=f"C{i}")
    api = api_as(team.anna)
    first = api.get("/customers", query_string={"limit": 3}).json
    second = api.get("/customers", query_string={"limit": 3,
                                                 "cursor": first["next_cursor"]}).json
    names = [c["name"] for c in first["items"] + second["items"]]
    assert names == ["Carla Customer", "C0", "C1", "C2", "C3"]
    assert second["next_cursor"] is None


def test_identities_duplicates_and_removal(team, api_as) -> None:
    api = api_as(team.anna)
    other = customers.create_customer(actor=SYSTEM, name="Eve")
    taken = api.post(f"/customers/{other.id}/identities",
                     json={"kind": "email", "value": "CARLA@example.org"})
    assert taken.status_code == 409
    assert taken.json["error"]["details"] == {"customer_id": team.customer.id}
    bad = api.post(f"/customers/{other.id}/identities", json={"kind": "email",
                                                             "value": "not-an-email"})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "value"
    added = api.post(f"/customers/{other.id}/identities",
                     json={"kind": "telegram", "value": "@Eve"})
    assert added.status_code == 201 and added.json["value"] == "eve"
    assert api.delete(f"/identities/{added.json['id']}").status_code == 204
    assert api.delete(f"/identities/{added.json['id']}").status_code == 404
    assert api.get(f"/customers/{other.id}").json["identities"] == []
    dup = api.post("/customers", json={"identities": [{"kind": "email", "value": "a@b.c"},
                                                      {"kind": "email", "value": "A@b.c"}]})
    assert dup.status_code == 409
    assert customers.find_by_identity("email", "a@b.c") is None


def test_customer_tickets_and_merge(team, api_as) -> None:
    other = customers.create_customer(actor=SYSTEM, name="Carla (phone)",
                                      identities=[("phone", "+15550199")])
    ticket = tickets.create_ticket(actor=team.anna, customer_id=other.id, subject="Call",
                                   text="Called", group_id=team.support.id)
    anna, manager = api_as(team.anna), api_as(team.manager)
    listed = anna.get(f"/customers/{other.id}/tickets").json["items"]
    assert [t["id"] for t in listed] == [ticket.id]
    assert anna.get("/customers/999/tickets").status_code == 404

    refused = anna.post(f"/customers/{other.id}/merge", json={"into_id": team.customer.id})
    assert refused.status_code == 403
    merged = manager.post(f"/customers/{other.id}/merge", json={"into_id": team.customer.id})
    assert merged.status_code == 200, merged.json
    assert {i["kind"] for i in merged.json["identities"]} == {"email", "phone"}
    assert anna.get(f"/tickets/{ticket.id}").json["customer"]["id"] == team.customer.id
    again = manager.post(f"/customers/{other.id}/merge", json={"into_id": team.customer.id})
    assert again.status_code == 409


def test_groups(team, api_as) -> None:
    admin, anna = api_as(team.admin), api_as(team.anna)
    assert [g["name"] for g in anna.get("/groups").json["items"]] == ["Billing", "Support"]
    assert anna.post("/groups", json={"name": "Sales"}).status_code == 403
    created = admin.post("/groups", json={"name": "Sales", "description": "Pre-sales"})
    assert created.status_code == 201
    renamed = admin.patch(f"/groups/{created.json['id']}", json={"name": "Sales EU"})
    assert renamed.status_code == 200 and renamed.json["name"] == "Sales EU"
    clash = admin.patch(f"/groups/{created.json['id']}", json={"name": "billing"})
    assert clash.status_code == 409
    assert admin.patch("/groups/999", json={"name": "x"}).status_code == 404
    assert admin.post("/groups", json={"name": ""}).status_code == 422


def test_group_reply_to_resolved_tickets(team, api_as) -> None:
    admin = api_as(team.admin)
    assert admin.get("/groups").json["items"][0]["resolved_reply"] == "reopen"
    created = admin.post("/groups", json={"name": "Sales", "resolved_reply": "follow_up"})
    assert created.status_code == 201 and created.json["resolved_reply"] == "follow_up"
    changed = admin.patch(f"/groups/{created.json['id']}", json={"resolved_reply": "reopen"})
    assert changed.status_code == 200 and changed.json["resolved_reply"] == "reopen"
    bad = admin.patch(f"/groups/{created.json['id']}", json={"resolved_reply": "ignore"})
    assert bad.status_code == 422
    assert agents.get_group(created.json["id"]).resolved_reply == "reopen"


def test_agents_and_me(team, api_as) -> None:
    admin, anna = api_as(team.admin), api_as(team.anna)
    me = anna.get("/me").json
    assert me["id"] == team.anna.id and me["groups"] == [{"id": team.support.id,
                                                          "name": "Support"}]
    names = [a["name"] for a in anna.get("/agents").json["items"]]
    assert "Boris Billing" in names
    assert anna.post("/agents", json={"name": "Zed"}).status_code == 403
    created = admin.post("/agents", json={"name": "Zed", "email": "zed@example.com",
                                          "groups": [team.billing.id], "role": "agent"})
    assert created.status_code == 201, created.json
    zed = created.json["id"]
    assert admin.post("/agents", json={"name": "Zed 2", "email": "ZED@example.com"}
                      ).status_code == 409
    assert admin.post("/agents", json={"name": "Zed", "groups": [999]}).status_code == 404
    assert admin.post("/agents", json={"name": "Zed", "groups": [1, 1]}).status_code == 422
    assert anna.patch(f"/agents/{team.anna.id}", json={"language": "ru"}).status_code == 200
    assert anna.patch(f"/agents/{team.anna.id}", json={"role": "admin"}).status_code == 403
    off = admin.patch(f"/agents/{zed}", json={"active": False})
    assert off.status_code == 200 and off.json["active"] is False
    assert zed not in [a["id"] for a in anna.get("/agents").json["items"]]
    everyone = anna.get("/agents", query_string={"include_inactive": "true"}).json["items"]
    assert zed in [a["id"] for a in everyone]
    assert anna.get(f"/agents/{zed}").json["name"] == "Zed"


def test_tokens_are_shown_once_and_revocable(team, api_as, app) -> None:
    anna, admin = api_as(team.anna), api_as(team.admin)
    created = anna.post("/tokens", json={"name": "CLI"})
    assert created.status_code == 201
    secret = created.json["secret"]
    assert secret.startswith("hdk_") and created.json["prefix"] == secret[:12]
    listed = anna.get("/tokens").json["items"]
    assert "CLI" in [t["name"] for t in listed]
    assert all("secret" not in t for t in listed)
    assert anna.post("/tokens", json={"name": "x", "agent_id": team.boris.id}
                     ).status_code == 403
    assert anna.get("/tokens", query_string={"agent_id": team.boris.id}).status_code == 403
    assert admin.post("/tokens", json={"name": "for boris", "agent_id": team.boris.id}
                      ).status_code == 201
    assert api_as(team.boris).delete(f"/tokens/{created.json['id']}").status_code == 403

    assert anna.delete(f"/tokens/{created.json['id']}").status_code == 204
    client = app.test_client()
    refused = client.get(f"{PREFIX}/me", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401
    assert anna.delete("/tokens/999").status_code == 404
    assert agents.authenticate_token(secret) is None


def test_changing_an_admin_to_a_taken_email_is_409_not_500(team, api_as) -> None:
    response = api_as(team.admin).patch(f"/agents/{team.manager.id}",
                                        json={"email": "anna@example.com", "role": "agent"})
    assert response.status_code == 409
    assert response.json["error"]["field"] == "email"
