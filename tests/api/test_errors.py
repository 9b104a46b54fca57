from __future__ import annotations

import base64
import json
import typing as t

import pytest

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import tickets

from .conftest import PREFIX


def _ticket(team: t.Any) -> t.Any:
    return tickets.create_ticket(actor=team.anna, customer_id=team.customer.id,
                                 subject="Printer", text="Broken", group_id=team.support.id)


def test_unknown_address_and_wrong_method_answer_json(team, api_as) -> None:
    api = api_as(team.anna)
    missing = api.get("/no/such/thing")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    assert api.get("/").status_code == 404
    assert api.get("/tickets/abc").status_code == 404
    assert api.get(f"/tickets/{2**31}").status_code == 404  # beyond any id: no overflow
    wrong = api.open("PUT", "/tickets/1")
    assert wrong.status_code == 405
    assert wrong.json["error"]["code"] == "method_not_allowed"
    assert set(wrong.headers["Allow"].split(", ")) == {"GET", "PATCH"}


def test_unknown_ids_are_404(team, api_as) -> None:
    api = api_as(team.admin)
    for path in ("/tickets/999", "/customers/999", "/agents/999", "/views/999",
                 "/attachments/999", "/tickets/999/messages"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json["error"]["code"] == "not_found"


@pytest.mark.parametrize(("body", "field"), [
    ({"subject": 5}, "subject"),
    ({"priority": ["high"]}, "priority"),
    ({"custom_fields": ["a"]}, "custom_fields"),
    ({"custom_fields": {"a": {"nested": 1}}}, "custom_fields.a"),
    ({"add_tags": "vip"}, "add_tags"),
    ({"group_id": "2"}, "group_id"),
    ({"group_id": True}, "group_id"),
    ({"colour": "red"}, "colour"),
])
def test_wrong_types_and_unknown_fields_are_400(team, api_as, body, field) -> None:
    ticket = _ticket(team)
    response = api_as(team.anna).patch(f"/tickets/{ticket.id}", json=body)
    assert response.status_code == 400, response.json
    assert response.json["error"] == {"code": "invalid_request", "field": field,
                                      "message": response.json["error"]["message"]}
    assert tickets.list_events(ticket.id, actor=SYSTEM)[-1].type == "message.received"


@pytest.mark.parametrize("raw", [b"{", b"[1, 2", b'{"a": NaN}', b"\xff\xfe", b"[" * 100_000])
def test_malformed_json_is_400(team, api_as, raw) -> None:
    response = api_as(team.anna).post("/tickets", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "malformed_json"


def test_body_that_is_not_an_object_is_400(team, api_as) -> None:
    response = api_as(team.anna).post("/tickets", json=[1, 2])
    assert response.status_code == 400
    assert response.json["error"]["field"] == "body"


def test_nul_characters_are_refused(team, api_as) -> None:
    ticket = _ticket(team)
    api = api_as(team.anna)
    body = api.patch(f"/tickets/{ticket.id}", json={"custom_fields": {"k": "a\x00b"}})
    assert body.status_code == 400
    assert api.get("/tickets", query_string={"tags": "a\x00"}).status_code == 400


def test_too_long_and_out_of_range_values_are_422(team, api_as) -> None:
    ticket = _ticket(team)
    api = api_as(team.anna)
    long = api.patch(f"/tickets/{ticket.id}", json={"subject": "x" * 251})
    assert long.status_code == 422
    assert long.json["error"]["code"] == "validation_error"
    assert long.json["error"]["field"] == "subject"
    assert api.get("/tickets", query_string={"limit": 1000}).status_code == 422
    assert api.get("/tickets", query_string={"sort": "sideways"}).status_code == 422
    assert api.get("/tickets", query_string={"limit": "ten"}).status_code == 400
    assert api.get("/tickets", query_string={"created_after": "yesterday"}).status_code == 422
    assert api.get("/tickets", query_string={"cursor": "garbage"}).status_code == 422
    assert tickets.get_ticket(ticket.id, actor=SYSTEM).subject == "Printer"


def test_service_refusals_keep_their_status(team, api_as) -> None:
    ticket = _ticket(team)
    api = api_as(team.anna)
    api.patch(f"/tickets/{ticket.id}", json={"status": "closed"})
    closed = api.patch(f"/tickets/{ticket.id}", json={"status": "open"})
    assert closed.status_code == 422 and closed.json["error"]["field"] == "status"
    other = api_as(team.admin).post("/groups", json={"name": "Support"})
    assert other.status_code == 409 and other.json["error"]["code"] == "conflict"


def test_huge_body_is_413_json(app_factory) -> None:
    app = app_factory(config={"HELPDESK_API_MAX_REQUEST_SIZE": 1000})
    with app.app_context():
        client = app.test_client()
        response = client.post(f"{PREFIX}/tickets", json={"subject": "x" * 2000})
    assert response.status_code == 413
    assert response.json["error"]["code"] == "request_too_large"


def test_body_of_another_media_type_is_415(team, api_as) -> None:
    response = api_as(team.anna).post("/tickets", data="subject=hi",
                                      content_type="text/plain")
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("raw", ['["2024-01-01T00:00:00", 1e400]',
                                 '["2024-01-01T00:00:00", 99999999999999999999]',
                                 '["2024-01-01T00:00:00"]', '{"a": 1}'])
def test_forged_cursors_are_422_not_500(team, api_as, raw) -> None:
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    response = api_as(team.anna).get("/tickets", query_string={"cursor": cursor})
    assert response.status_code == 422
    assert response.json["error"]["field"] == "cursor"


def test_text_that_lower_casing_lengthens_is_422_not_500(team, api_as) -> None:
    # "İ".lower() is two characters: a 320-character address becomes 620.
    address = "İ" * 150 + "@" + "İ" * 150
    api = api_as(team.admin)
    identity = api.post(f"/customers/{team.customer.id}/identities",
                        json={"kind": "email", "value": address})
    assert identity.status_code == 422
    agent = api.post("/agents", json={"name": "Ida", "email": address})
    assert agent.status_code == 422


#: Text that str.isdigit() calls digits: superscript two, Arabic-Indic three,
#: fullwidth one. Only ASCII digits make an id.
NOT_ASCII_DIGITS = ["\u00b2", "\u0663", "\uff11", "1\u00b2"]


@pytest.mark.parametrize("cursor", NOT_ASCII_DIGITS)
def test_cursor_of_digits_that_are_not_ascii_is_422_not_500(team, api_as, cursor) -> None:
    ticket = _ticket(team)
    api = api_as(team.admin)
    for path in ("/customers", f"/tickets/{ticket.id}/messages",
                 f"/tickets/{ticket.id}/events", "/quarantine"):
        response = api.get(path, query_string={"cursor": cursor})
        assert response.status_code == 422, (path, response.json)
        assert response.json["error"]["field"] == "cursor"


def test_an_id_cursor_past_the_last_id_is_an_empty_page(team, api_as) -> None:
    ticket = _ticket(team)
    response = api_as(team.admin).get(f"/tickets/{ticket.id}/events",
                                      query_string={"cursor": "9999999999"})
    assert response.status_code == 200
    assert response.json == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("cursor", ["\u00b2", "abc", "1", "9" * 50])
def test_a_plain_agent_on_an_admin_list_gets_403_whatever_the_cursor(team, api_as,
                                                                     cursor) -> None:
    response = api_as(team.anna).get("/quarantine", query_string={"cursor": cursor})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/tickets/0", 404),
    ("GET", f"/tickets/{2**31}", 404),
    ("GET", "/tickets/007", 404),
    ("GET", "/tickets/\u0663", 404),
    ("GET", "/tickets/0/messages", 404),
    ("DELETE", "/calendars/0", 404),
    ("PATCH", f"/customers/{2**31}", 404),
    ("GET", "", 404),
    ("GET", "/tickets//messages", 404),
    ("PURGE", "/tickets", 405),
    ("PUT", "/calendars", 405),
])
def test_every_answer_under_the_api_is_json(team, api_as, method, path, status) -> None:
    response = api_as(team.admin).open(method, path)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.json["error"]["code"] == {404: "not_found",
                                              405: "method_not_allowed"}[status]
    if status == 405:
        assert response.headers["Allow"] == "GET, POST"


def test_options_lists_the_methods_of_the_address(team, api_as) -> None:
    api = api_as(team.admin)
    ticket = api.open("OPTIONS", "/tickets/1")
    assert ticket.status_code == 204
    assert ticket.headers["Allow"] == "GET, PATCH, HEAD, OPTIONS"
    calendars = api.open("OPTIONS", "/calendars/5")
    assert calendars.headers["Allow"] == "GET, PATCH, DELETE, HEAD, OPTIONS"
    assert api.open("OPTIONS", "/tickets/0").status_code == 404


def test_a_json_patch_without_a_field_is_400(team, api_as) -> None:
    ticket = _ticket(team)
    response = api_as(team.anna).patch(f"/tickets/{ticket.id}", json={})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_request"


def test_a_json_body_that_is_not_utf8_is_400(team, api_as) -> None:
    body = json.dumps({"customer_id": team.customer.id, "subject": "Hi", "text": "Hello"})
    response = api_as(team.anna).post("/tickets", data=body.encode("utf-16"),
                                      content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "malformed_json"


def test_an_identity_kind_the_document_does_not_list_is_422(team, api_as) -> None:
    response = api_as(team.admin).post(f"/customers/{team.customer.id}/identities",
                                       json={"kind": "fax", "value": "+1 555 0199"})
    assert response.status_code == 422
    assert response.json["error"]["field"] == "kind"


@pytest.mark.parametrize(("path", "query"), [
    ("/tickets", "limit="), ("/agents", "include_inactive="), ("/tokens", "agent_id="),
    ("/agents", "include_inactive=1"), ("/tickets", "limit=%2B5"),
])
def test_query_values_the_document_does_not_allow_are_400(team, api_as, path,
                                                          query) -> None:
    response = api_as(team.admin).get(f"{path}?{query}")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_request"


def test_a_whole_number_written_with_a_fraction_is_a_number(team, api_as) -> None:
    ticket = _ticket(team)
    response = api_as(team.admin).patch(f"/tickets/{ticket.id}",
                                        json={"group_id": float(team.billing.id)})
    assert response.status_code == 200
    assert response.json["group"]["id"] == team.billing.id


def test_object_fields_of_a_form_are_json_text(team, api_as) -> None:
    response = api_as(team.admin).post("/templates", data={
        "name": "Refund", "body": "Hello", "actions": json.dumps({"priority": "high"})},
        content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    assert response.json["actions"]["priority"] == "high"
