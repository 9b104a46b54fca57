"""GET/PUT/DELETE /tickets/{id}/drafts/{kind}: the caller's own draft, and the guard."""

from __future__ import annotations

import typing as t

from flask_helpdesk.extension import get_state
from flask_helpdesk.services import tickets

from .conftest import PREFIX


def _ticket(team: t.Any) -> int:
    return tickets.create_ticket(actor=team.anna, customer_id=team.customer.id,
                                 subject="Printer", text="Broken", group_id=team.support.id).id


def _last_event(api: t.Any, ticket_id: int) -> int:
    return int(api.get(f"/tickets/{ticket_id}/events").json["items"][-1]["id"])


def test_put_get_delete_a_draft(team: t.Any, api_as: t.Any) -> None:
    ticket_id, api = _ticket(team), api_as(team.anna)
    url = f"/tickets/{ticket_id}/drafts/reply"
    assert api.get(url).status_code == 404
    seen = _last_event(api, ticket_id)
    saved = api.put(url, json={"text": "On its way", "html": "<p>On its <b>way</b></p>",
                               "status": "pending", "seen_event_id": seen})
    assert saved.status_code == 200, saved.json
    assert saved.json["text"] == "On its way" and saved.json["status"] == "pending"
    body = api.get(url).json
    assert {k: body[k] for k in ("ticket_id", "kind", "html", "seen_event_id")} == {
        "ticket_id": ticket_id, "kind": "reply", "html": "<p>On its <b>way</b></p>",
        "seen_event_id": seen}
    assert body["updated_at"].endswith("Z")
    # The colleague's drafts are their own: Anna's is not theirs to read or delete.
    manager = api_as(team.manager)
    assert manager.get(url).status_code == 404
    assert manager.delete(url).status_code == 204
    assert api.get(url).json["text"] == "On its way"
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert api.delete(url).status_code == 204  # nothing to discard: still done


def test_an_empty_put_discards_and_notes_take_no_status(team: t.Any, api_as: t.Any) -> None:
    ticket_id, api = _ticket(team), api_as(team.anna)
    url = f"/tickets/{ticket_id}/drafts/note"
    assert api.put(url, json={"text": "Ask the vendor"}).status_code == 200
    assert api.put(url, json={"text": "", "html": None}).status_code == 204
    assert api.get(url).status_code == 404
    refused = api.put(url, json={"text": "x", "status": "pending"})
    assert refused.status_code == 422 and refused.json["error"]["code"] == "validation_error"


def test_bad_drafts_are_refused(team: t.Any, api_as: t.Any) -> None:
    ticket_id, api = _ticket(team), api_as(team.anna)
    assert api.put(f"/tickets/{ticket_id}/drafts/email", json={"text": "x"}).status_code == 404
    assert api_as(team.boris).put(f"/tickets/{ticket_id}/drafts/reply",
                                  json={"text": "x"}).status_code == 403
    limit = get_state().config.draft_max_chars
    too_long = api.put(f"/tickets/{ticket_id}/drafts/reply",
                       json={"text": "x" * limit, "html": "y"})
    assert too_long.status_code == 422
    assert str(limit) in too_long.json["error"]["message"]
    unknown = api.put(f"/tickets/{ticket_id}/drafts/reply", json={"attachments": []})
    assert unknown.status_code == 400  # attachments are not kept in drafts


def test_sending_through_the_api_removes_the_draft_and_a_conflict_keeps_it(
        team: t.Any, api_as: t.Any) -> None:
    ticket_id = _ticket(team)
    anna, max_ = api_as(team.anna), api_as(team.manager)
    seen = _last_event(anna, ticket_id)
    for api, text in ((anna, "Anna's answer"), (max_, "Max's answer")):
        api.put(f"/tickets/{ticket_id}/drafts/reply", json={"text": text, "seen_event_id": seen})
    assert anna.post(f"/tickets/{ticket_id}/reply",
                     json={"text": "Anna's answer", "seen_event_id": seen}).status_code == 201
    assert anna.get(f"/tickets/{ticket_id}/drafts/reply").status_code == 404
    late = anna.put(f"/tickets/{ticket_id}/drafts/reply",
                    json={"text": "Anna's answer", "seen_event_id": seen})
    assert late.status_code == 409  # an autosave that arrives after the send is not kept
    refused = max_.post(f"/tickets/{ticket_id}/reply",
                        json={"text": "Max's answer", "seen_event_id": seen})
    assert refused.status_code == 409
    assert max_.get(f"/tickets/{ticket_id}/drafts/reply").json["text"] == "Max's answer"


def test_session_clients_need_the_csrf_token_to_save(team: t.Any, login: t.Any) -> None:
    ticket_id, client = _ticket(team), login(team.anna)
    url = f"{PREFIX}/tickets/{ticket_id}/drafts/reply"
    assert client.put(url, json={"text": "x"}).status_code == 403
    csrf = client.get(f"{PREFIX}/me").json["csrf_token"]
    assert client.put(url, json={"text": "x"}, headers={"X-CSRF-Token": csrf}).status_code == 200
