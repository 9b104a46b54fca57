from __future__ import annotations

from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk import get_state
from flask_helpdesk import hookimpl
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
                                         error="broken", source=f"#{i}", imported=i == 2).id
           for i in range(1, 4)]
    admin = api_as(team.admin)
    assert api_as(team.manager).get("/quarantine").status_code == 403
    first = admin.get("/quarantine?limit=2").json
    assert [q["id"] for q in first["items"]] == ids[::-1][:2]
    assert first["items"][0]["size"] == 3 and first["items"][0]["error"] == "broken"
    assert [q["imported"] for q in first["items"]] == [False, True]
    rest = admin.get(f"/quarantine?cursor={first['next_cursor']}").json
    assert [q["id"] for q in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    assert admin.delete(f"/quarantine/{ids[1]}").status_code == 204
    assert admin.delete(f"/quarantine/{ids[1]}").status_code == 404
    assert [q["id"] for q in admin.get("/quarantine").json["items"]] == [ids[2], ids[0]]


class Reparser:
    """Reads ``sender\\ntext`` bytes of the ``web`` channel again."""

    @hookimpl
    def helpdesk_reparse_message(self, channel: str, account: str,
                                 raw: bytes) -> InboundMessage | None:
        if channel != "web":
            return None
        sender, _, text = raw.decode().partition("\n")
        if "@" not in sender:
            raise ValueError(f"no sender in {raw!r}")
        return InboundMessage(channel="web", account=account, external_id=f"r-{text}",
                              sender=Identity("email", sender), text=text)


def test_quarantine_retry(team, api_as, app) -> None:
    bad = quarantine.quarantine_message(channel="web", account="site", raw=b"nobody\nhi",
                                        error="broken")
    good = quarantine.quarantine_message(channel="web", account="site",
                                         raw=b"dan@example.org\nmy printer", error="broken")
    admin = api_as(team.admin)
    assert api_as(team.manager).post(f"/quarantine/{good.id}/retry").status_code == 403
    no_plugin = admin.post(f"/quarantine/{good.id}/retry")
    assert no_plugin.status_code == 422, no_plugin.json
    assert "discard" in no_plugin.json["error"]["message"]
    pm = get_state(app).pm
    pm.register(Reparser(), name="reparser")
    try:
        failed = admin.post(f"/quarantine/{bad.id}/retry")
        assert failed.status_code == 422 and failed.json["error"]["code"] == "retry_failed"
        [kept] = [q for q in admin.get("/quarantine").json["items"] if q["id"] == bad.id]
        assert kept["attempts"] == 2 and "no sender" in kept["error"]
        done = admin.post(f"/quarantine/{good.id}/retry")
        assert done.status_code == 200, done.json
        assert done.json["created"] is True and done.json["duplicate"] is False
        [message] = admin.get(f"/tickets/{done.json['ticket_id']}/messages").json["items"]
        assert message["text"] == "my printer"
        assert [q["id"] for q in admin.get("/quarantine").json["items"]] == [bad.id]
        assert admin.post(f"/quarantine/{good.id}/retry").status_code == 404
    finally:
        pm.unregister(name="reparser")
