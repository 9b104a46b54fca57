from __future__ import annotations

import typing as t

from flask_helpdesk.services import tickets


def _ticket(team: t.Any, subject: str, **kw: t.Any) -> t.Any:
    return tickets.create_ticket(actor=team.anna, customer_id=team.customer.id,
                                 subject=subject, text="x", group_id=team.support.id, **kw)


def test_views_crud_tickets_and_counts(team, api_as) -> None:
    urgent = _ticket(team, "Fire", priority="urgent", tags=["vip"])
    _ticket(team, "Dust", priority="low")
    anna, manager = api_as(team.anna), api_as(team.manager)

    created = anna.post("/views", json={
        "name": "My urgent", "filters": {"priority": ["urgent", "high"], "tags": ["VIP"]},
        "sort": "-priority"})
    assert created.status_code == 201, created.json
    view = created.json
    assert view["shared"] is False and view["owner_id"] == team.anna.id
    assert view["filters"] == {"priority": ["urgent", "high"], "tags": ["vip"]}
    listed = anna.get(f"/views/{view['id']}/tickets").json
    assert [t["id"] for t in listed["items"]] == [urgent.id]

    assert anna.post("/views", json={"name": "All", "shared": True}).status_code == 403
    shared = manager.post("/views", json={"name": "Open", "shared": True,
                                          "filters": {"status": ["open"]}})
    assert shared.status_code == 201
    counts = {c["view_id"]: c["count"] for c in anna.get("/views/counts").json["items"]}
    assert counts == {view["id"]: 1, shared.json["id"]: 2}

    # Another agent's personal view does not exist for boris.
    boris = api_as(team.boris)
    assert boris.get(f"/views/{view['id']}").status_code == 404
    assert boris.delete(f"/views/{view['id']}").status_code == 404
    assert [v["name"] for v in boris.get("/views").json["items"]] == ["Open"]
    assert anna.patch(f"/views/{shared.json['id']}", json={"name": "x"}).status_code == 403

    renamed = anna.patch(f"/views/{view['id']}", json={"name": "Hot", "position": 2,
                                                       "filters": {"status": ["pending"]}})
    assert renamed.status_code == 200 and renamed.json["name"] == "Hot"
    assert anna.get(f"/views/{view['id']}/tickets").json["items"] == []
    assert anna.delete(f"/views/{view['id']}").status_code == 204
    assert anna.get(f"/views/{view['id']}").status_code == 404


def test_view_input_is_checked(team, api_as) -> None:
    api = api_as(team.anna)
    unknown = api.post("/views", json={"name": "x", "filters": {"colour": ["red"]}})
    assert unknown.status_code == 400 and unknown.json["error"]["field"] == "filters.colour"
    bad_sort = api.post("/views", json={"name": "x", "sort": "random"})
    assert bad_sort.status_code == 422
    bad_date = api.post("/views", json={"name": "x", "filters": {
        "created_after": "0001-01-01T00:00:00+01:00"}})
    assert bad_date.status_code == 422
    assert api.get("/views").json["items"] == []


def test_tags_list_with_prefix_and_pages(team, api_as) -> None:
    _ticket(team, "A", tags=["billing", "bug", "hardware", "big_deal"])
    api = api_as(team.anna)
    names = [t["name"] for t in api.get("/tags").json["items"]]
    assert names == ["big_deal", "billing", "bug", "hardware"]
    assert [t["name"] for t in api.get("/tags", query_string={"prefix": "B"}).json["items"]
            ] == ["big_deal", "billing", "bug"]
    assert [t["name"] for t in api.get("/tags", query_string={"prefix": "bi_"}).json["items"]
            ] == []
    first = api.get("/tags", query_string={"limit": 2}).json
    rest = api.get("/tags", query_string={"limit": 2, "cursor": first["next_cursor"]}).json
    assert [t["name"] for t in first["items"] + rest["items"]] == names
