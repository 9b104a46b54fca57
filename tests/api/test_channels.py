from __future__ import annotations

from flask_helpdesk.services import quarantine


def test_channel_accounts_are_for_admins_and_hide_secrets(team, api_as) -> None:
    admin, anna = api_as(team.admin), api_as(team.anna)
    body = {"channel": "web", "name": "site", "group_id": team.support.id,
            "settings": {"url": "https://example.org"}, "secrets": {"token": "s3cret"}}
    assert anna.post("/channel-accounts", json=body).status_code == 403
    created = admin.post("/channel-accounts", json=body)
    assert created.status_code == 201, created.json
    account = created.json
    assert account["has_secrets"] is True and "s3cret" not in str(account)
    assert account["settings"] == {"url": "https://example.org"}
    assert admin.post("/channel-accounts", json=body).status_code == 409
    assert admin.post("/channel-accounts", json={**body, "channel": "fax"}).status_code == 422
    changed = admin.patch(f"/channel-accounts/{account['id']}",
                          json={"enabled": False, "secrets": {}})
    assert (changed.json["enabled"], changed.json["has_secrets"]) == (False, False)
    assert admin.get(f"/channel-accounts/{account['id']}").json == changed.json
    assert [a["name"] for a in admin.get("/channel-accounts").json["items"]] == ["site"]
    assert anna.get("/channel-accounts").status_code == 403
    assert admin.get("/channel-accounts/999").status_code == 404


def test_quarantine_list_and_discard(team, api_as) -> None:
    ids = [quarantine.quarantine_message(channel="web", account="site", raw=b"x" * i,
                                         error="broken", source=f"#{i}").id
           for i in range(1, 4)]
    admin = api_as(team.admin)
    assert api_as(team.manager).get("/quarantine").status_code == 403
    first = admin.get("/quarantine?limit=2").json
    assert [q["id"] for q in first["items"]] == ids[::-1][:2]
    assert first["items"][0]["size"] == 3 and first["items"][0]["error"] == "broken"
    rest = admin.get(f"/quarantine?cursor={first['next_cursor']}").json
    assert [q["id"] for q in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    assert admin.delete(f"/quarantine/{ids[1]}").status_code == 204
    assert admin.delete(f"/quarantine/{ids[1]}").status_code == 404
    assert [q["id"] for q in admin.get("/quarantine").json["items"]] == [ids[2], ids[0]]
