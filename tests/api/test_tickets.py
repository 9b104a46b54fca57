from __future__ import annotations

import base64
import io
import typing as t

from flask_helpdesk import DeliveryError
from flask_helpdesk import hookimpl
from flask_helpdesk.channels import Identity
from flask_helpdesk.channels import InboundAttachment
from flask_helpdesk.channels import InboundMessage
from flask_helpdesk.extension import get_state
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import customers
from flask_helpdesk.services import inbound
from flask_helpdesk.services import messages
from flask_helpdesk.services import outbox
from flask_helpdesk.services import tickets
from flask_helpdesk.services import views

from .conftest import PREFIX


def _ticket(team: t.Any, **kw: t.Any) -> t.Any:
    kw.setdefault("group_id", team.support.id)
    return tickets.create_ticket(actor=team.anna, customer_id=team.customer.id,
                                 subject=kw.pop("subject", "Printer"), text="Broken", **kw)


def test_create_ticket_as_json_with_attachment(team, api_as) -> None:
    api = api_as(team.anna)
    response = api.post("/tickets", json={
        "customer_id": team.customer.id, "subject": "Cannot log in", "text": "Help",
        "group_id": team.support.id, "priority": "high", "tags": ["Login"],
        "attachments": [{"filename": "../../etc/notes.txt", "content_type": "image/png",
                         "data": base64.b64encode(b"not really a png").decode()}],
    })
    assert response.status_code == 201, response.json
    body = response.json
    assert body["subject"] == "Cannot log in" and body["priority"] == "high"
    assert body["customer"] == {"id": team.customer.id, "name": "Carla Customer"}
    assert body["group"] == {"id": team.support.id, "name": "Support"}
    assert body["assignee"] is None and body["tags"] == ["login"]
    assert body["created_at"].endswith("Z")
    first = api.get(f"/tickets/{body['id']}/messages").json["items"][0]
    assert first["kind"] == "inbound" and first["author"]["kind"] == "customer"
    attachment = first["attachments"][0]
    assert attachment["filename"] == "notes.txt"
    # The bytes are not a PNG: the declared type is not believed.
    assert attachment["content_type"] == "text/plain"


def test_create_ticket_refuses_bad_input_and_other_groups(team, api_as) -> None:
    api = api_as(team.anna)
    assert api.post("/tickets", json={"subject": "No customer"}).status_code == 400
    missing = api.post("/tickets", json={"customer_id": 999, "subject": "x", "text": "y"})
    assert missing.status_code == 404
    bad = api.post("/tickets", json={"customer_id": team.customer.id, "subject": "x",
                                     "text": "y", "attachments": [{"filename": "a",
                                                                   "data": "!!!"}]})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "attachments[0].data"
    other = api.post("/tickets", json={"customer_id": team.customer.id, "subject": "x",
                                       "text": "y", "group_id": team.billing.id})
    assert other.status_code == 403
    assert api.get("/tickets").json["items"] == []


def test_create_ticket_as_multipart(team, api_as) -> None:
    response = api_as(team.anna).post("/tickets", content_type="multipart/form-data", data={
        "customer_id": str(team.customer.id), "subject": "Scanner", "text": "See photo",
        "group_id": str(team.support.id), "tags": "scanner,hardware",
        "attachments": [(io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 64), "photo.png")],
    })
    assert response.status_code == 201, response.json
    assert response.json["tags"] == ["hardware", "scanner"]
    message = messages.list_messages(response.json["id"], actor=team.anna)[0]
    assert [(a.filename, a.content_type) for a in message.attachments] == [
        ("photo.png", "image/png")]


def test_multipart_refuses_unknown_fields(team, api_as) -> None:
    response = api_as(team.anna).post("/tickets", content_type="multipart/form-data", data={
        "customer_id": str(team.customer.id), "subject": "x", "text": "y", "spam": "1"})
    assert response.status_code == 400 and response.json["error"]["field"] == "spam"


def test_attachment_over_the_size_limit_is_refused(app_factory) -> None:
    app = app_factory(config={"HELPDESK_MAX_ATTACHMENT_SIZE": 10})
    with app.app_context():
        agent = agents.create_agent(actor=SYSTEM, name="Ann", role="admin")
        customer = customers.create_customer(actor=SYSTEM, name="Carl")
        _token, secret = agents.create_token(actor=SYSTEM, agent_id=agent.id, name="t")
        response = app.test_client().post(
            f"{PREFIX}/tickets", headers={"Authorization": f"Bearer {secret}"},
            json={"customer_id": customer.id, "subject": "x", "text": "y", "attachments": [
                {"filename": "big.bin", "data": base64.b64encode(b"0" * 11).decode()}]})
        assert response.status_code == 422
        assert response.json["error"]["field"] == "attachments"
        assert views.count_tickets(actor=SYSTEM, filters=views.TicketFilter()) == 0


def test_get_and_patch_ticket(team, api_as, recorder) -> None:
    ticket = _ticket(team)
    api = api_as(team.anna)
    assert api.get(f"/tickets/{ticket.id}").json["subject"] == "Printer"
    recorder.clear()
    response = api.patch(f"/tickets/{ticket.id}", json={
        "subject": "Printer on fire", "priority": "urgent", "assignee_id": team.anna.id,
        "add_tags": ["Fire"], "custom_fields": {"floor": 3}, "status": "pending"})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["subject"] == "Printer on fire" and body["status"] == "pending"
    assert body["assignee"] == {"id": team.anna.id, "name": "Anna Agent"}
    assert body["tags"] == ["fire"] and body["custom_fields"] == {"floor": 3}
    assert "ticket.status_changed" in recorder.types
    cleared = api.patch(f"/tickets/{ticket.id}", json={"assignee_id": None,
                                                        "remove_tags": ["fire"],
                                                        "custom_fields": {"floor": None}})
    assert cleared.json["assignee"] is None and cleared.json["tags"] == []
    assert cleared.json["custom_fields"] == {}


def test_reply_and_collision(team, api_as) -> None:
    ticket = _ticket(team)
    api = api_as(team.anna)
    seen = api.get(f"/tickets/{ticket.id}/events").json["items"][-1]["id"]
    reply = api.post(f"/tickets/{ticket.id}/reply", json={
        "text": "Try turning it off", "status": "pending", "seen_event_id": seen})
    assert reply.status_code == 201, reply.json
    assert reply.json["kind"] == "reply"
    assert reply.json["delivery"]["state"] == "queued"
    assert api.get(f"/tickets/{ticket.id}").json["status"] == "pending"

    inbound.ingest(InboundMessage(channel="web", external_id="m-1", ticket_hint=ticket.id,
                                  sender=Identity("email", "carla@example.org"),
                                  subject="Re: Printer", text="Still broken"))
    stale = api.post(f"/tickets/{ticket.id}/reply", json={"text": "Fixed?",
                                                          "seen_event_id": seen})
    assert stale.status_code == 409
    assert stale.json["error"]["details"]["events"][0]["type"] == "message.received"
    forced = api.post(f"/tickets/{ticket.id}/reply", json={"text": "Fixed?", "confirm": True,
                                                           "seen_event_id": seen})
    assert forced.status_code == 201


def test_reply_with_multipart_attachment(team, api_as) -> None:
    ticket = _ticket(team)
    response = api_as(team.anna).post(
        f"/tickets/{ticket.id}/reply", content_type="multipart/form-data",
        data={"text": "Manual attached", "confirm": "true",
              "attachments": [(io.BytesIO(b"%PDF-1.4 manual"), "manual.pdf")]})
    assert response.status_code == 201, response.json
    attachment = response.json["attachments"][0]
    assert attachment["filename"] == "manual.pdf"
    assert attachment["content_type"] == "application/pdf"


def test_notes_are_marked_as_notes_and_never_public(team, api_as) -> None:
    ticket = _ticket(team)
    api = api_as(team.anna)
    note = api.post(f"/tickets/{ticket.id}/notes", json={"text": "VIP, be nice"})
    assert note.status_code == 201 and note.json["kind"] == "note"
    assert note.json["delivery"] is None
    listed = api.get(f"/tickets/{ticket.id}/messages").json["items"]
    assert [m["kind"] for m in listed] == ["inbound", "note"]
    assert [m.kind for m in messages.public_messages(ticket.id)] == ["inbound"]
    history = api.get(f"/tickets/{ticket.id}/events").json["items"]
    assert "VIP" not in str(history)
    assert api.post(f"/tickets/{ticket.id}/notes", json={"text": ""}).status_code == 422


def test_reassign_and_merge(team, api_as) -> None:
    ticket = _ticket(team, assignee_id=team.anna.id)
    api = api_as(team.anna)
    moved = api.post(f"/tickets/{ticket.id}/reassign",
                     json={"group_id": team.billing.id, "note": "Payment logs, please"})
    assert moved.status_code == 200, moved.json
    assert moved.json["group"]["name"] == "Billing" and moved.json["assignee"] is None
    assert api.post(f"/tickets/{ticket.id}/reassign", json={}).status_code == 400

    a, b = _ticket(team), _ticket(team)
    merged = api.post(f"/tickets/{b.id}/merge", json={"into_id": a.id})
    assert merged.status_code == 200 and merged.json["id"] == a.id
    assert api.get(f"/tickets/{b.id}").json["merged_into_id"] == a.id
    assert api.post(f"/tickets/{a.id}/merge", json={"into_id": a.id}).status_code == 422
    assert api.post(f"/tickets/{a.id}/merge", json={"into_id": 999}).status_code == 404


def test_list_filters(team, api_as) -> None:
    printer = _ticket(team, subject="Printer", tags=["hardware"], priority="high")
    _ticket(team, subject="Invoice", group_id=None)
    billing = tickets.create_ticket(actor=team.admin, customer_id=team.customer.id,
                                    subject="Refund", text="Money", group_id=team.billing.id)
    api = api_as(team.manager)

    def ids(**query: t.Any) -> list[int]:
        response = api.get("/tickets", query_string=query)
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json["items"]]

    assert set(ids()) == {printer.id, printer.id + 1, billing.id}
    assert ids(tags="hardware") == [printer.id]
    assert ids(priority=["high", "urgent"]) == [printer.id]
    assert ids(group="none") == [printer.id + 1]
    assert set(ids(group=f"{team.billing.id},none")) == {billing.id, printer.id + 1}
    assert ids(q="refund") == [billing.id]
    assert ids(status="pending") == []
    assert ids(assignee="me") == []
    assert ids(customer=team.customer.id, sort="created") == [
        printer.id, printer.id + 1, billing.id]
    assert ids(created_after="2000-01-01T00:00:00Z", sort="-created")[0] == billing.id
    assert ids(created_before="2000-01-01T00:00:00+02:00") == []


def test_pagination_with_cursor_visits_every_ticket_once(team, api_as) -> None:
    created = [_ticket(team, subject=f"T{i}").id for i in range(7)]
    api = api_as(team.anna)
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 3, "sort": "created", **({"cursor": cursor} if cursor else {})}
        body = api.get("/tickets", query_string=query).json
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == created and pages == 3


def test_messages_and_events_paginate_by_id(team, api_as) -> None:
    ticket = _ticket(team)
    for i in range(4):
        messages.add_note(ticket.id, actor=team.anna, text=f"note {i}")
    api = api_as(team.anna)
    first = api.get(f"/tickets/{ticket.id}/messages", query_string={"limit": 3}).json
    assert len(first["items"]) == 3 and first["next_cursor"]
    rest = api.get(f"/tickets/{ticket.id}/messages",
                   query_string={"limit": 3, "cursor": first["next_cursor"]}).json
    assert [m["text"] for m in rest["items"]] == ["note 2", "note 3"]
    assert rest["next_cursor"] is None
    events = api.get(f"/tickets/{ticket.id}/events", query_string={"limit": 2}).json
    assert [e["type"] for e in events["items"]] == ["ticket.created", "message.received"]
    assert api.get(f"/tickets/{ticket.id}/events",
                   query_string={"cursor": "-1"}).status_code == 422


def test_attachment_download_is_a_safe_download(team, api_as) -> None:
    ticket = _ticket(team, attachments=[InboundAttachment(
        'evil"\r\nX-Injected: 1.html', "text/html", b"<script>alert(1)</script>")])
    api = api_as(team.anna)
    url = api.get(f"/tickets/{ticket.id}/messages").json["items"][0]["attachments"][0]["url"]
    response = api.client.get(url, headers=api.headers)
    assert response.status_code == 200
    assert response.data == b"<script>alert(1)</script>"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "X-Injected" not in response.headers
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert api_as(team.boris).client.get(url, headers=api_as(team.boris).headers
                                         ).status_code == 403


class _FailingDelivery:
    @hookimpl(tryfirst=True)
    def helpdesk_deliver_message(self, message: t.Any) -> None:
        raise DeliveryError("mailbox full", permanent=True)


def test_retry_a_failed_reply(team, api_as, app) -> None:
    ticket = _ticket(team)
    reply = messages.reply(ticket.id, actor=team.anna, text="Answer")
    api = api_as(team.anna)
    early = api.post(f"/messages/{reply.id}/retry")
    assert early.status_code == 422  # still queued, not failed
    plugin = _FailingDelivery()
    get_state(app).pm.register(plugin)
    try:
        assert outbox.deliver(reply.id) == "failed"
    finally:
        get_state(app).pm.unregister(plugin)
    failed = api.get(f"/tickets/{ticket.id}/messages").json["items"][-1]["delivery"]
    assert failed["state"] == "failed" and failed["last_error"] == "mailbox full"
    assert api_as(team.boris).post(f"/messages/{reply.id}/retry").status_code == 403
    response = api.post(f"/messages/{reply.id}/retry")
    assert response.status_code == 200, response.json
    assert response.json["delivery"]["state"] == "queued"
    assert response.json["delivery"]["attempts"] == 0
