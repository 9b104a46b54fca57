"""The calendars endpoints and a group's calendar, through the REST API."""

from __future__ import annotations

BODY = {"name": "Berlin office", "timezone": "Europe/Berlin",
        "periods": [{"weekday": "mon", "start": "09:00", "end": "13:00"},
                    {"weekday": "mon", "start": "14:00", "end": "18:00"}],
        "holidays": [{"date": "2026-12-25", "name": "Christmas"}], "is_default": True}


def test_admins_manage_calendars_and_managers_read_them(team, api_as) -> None:
    admin, manager, agent = api_as(team.admin), api_as(team.manager), api_as(team.anna)
    created = admin.post("/calendars", json=BODY)
    assert created.status_code == 201, created.json
    calendar = created.json
    assert calendar["periods"][1] == {"weekday": "mon", "start": "14:00", "end": "18:00"}
    assert calendar["holidays"] == [{"date": "2026-12-25", "name": "Christmas"}]
    assert calendar["is_default"] is True
    assert manager.get("/calendars").json["items"][0]["id"] == calendar["id"]
    assert manager.get(f"/calendars/{calendar['id']}").json["name"] == "Berlin office"
    assert manager.post("/calendars", json={**BODY, "name": "x"}).status_code == 403
    assert agent.get("/calendars").status_code == 403
    changed = admin.patch(f"/calendars/{calendar['id']}", json={"timezone": "Europe/Moscow"})
    assert changed.status_code == 200 and changed.json["timezone"] == "Europe/Moscow"
    assert admin.post("/calendars", json=BODY).status_code == 409
    assert admin.delete(f"/calendars/{calendar['id']}").status_code == 204
    assert admin.get(f"/calendars/{calendar['id']}").status_code == 404


def test_validation_errors_name_the_field(team, api_as) -> None:
    admin = api_as(team.admin)
    zone = admin.post("/calendars", json={**BODY, "timezone": "Europe/Atlantis"})
    assert zone.status_code == 422 and zone.json["error"]["field"] == "timezone"
    night = admin.post("/calendars", json={**BODY, "periods": [
        {"weekday": "fri", "start": "22:00", "end": "06:00"}]})
    assert night.status_code == 422 and night.json["error"]["field"] == "periods"
    assert "overnight" in night.json["error"]["message"]
    shape = admin.post("/calendars", json={**BODY, "periods": [{"weekday": "fri"}]})
    assert shape.status_code == 400
    time = admin.post("/calendars", json={**BODY, "periods": [
        {"weekday": "fri", "start": "25:00", "end": "26:00"}]})
    assert time.status_code == 422


def test_a_group_gets_its_calendar(team, api_as) -> None:
    admin = api_as(team.admin)
    calendar = admin.post("/calendars", json={**BODY, "is_default": False}).json
    changed = admin.patch(f"/groups/{team.support.id}", json={"calendar_id": calendar["id"]})
    assert changed.status_code == 200 and changed.json["calendar_id"] == calendar["id"]
    assert {g["name"]: g["calendar_id"] for g in admin.get("/groups").json["items"]} == {
        "Billing": None, "Support": calendar["id"]}
    missing = admin.patch(f"/groups/{team.support.id}", json={"calendar_id": 999})
    assert missing.status_code == 422 and missing.json["error"]["field"] == "calendar_id"
    created = admin.post("/groups", json={"name": "Night", "calendar_id": calendar["id"]})
    assert created.status_code == 201 and created.json["calendar_id"] == calendar["id"]
    cleared = admin.patch(f"/groups/{team.support.id}", json={"calendar_id": None})
    assert cleared.json["calendar_id"] is None
