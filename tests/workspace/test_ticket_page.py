"""The ticket page: attachments, rich replies, the conflict guard, related tickets."""

from __future__ import annotations

import io
import typing as t

from flask_helpdesk.channels import Identity
from flask_helpdesk.channels import InboundMessage
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import messages
from flask_helpdesk.services import tickets
from flask_helpdesk.services.inbound import ingest

#: The smallest valid PNG (1x1 pixel).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def _ticket(team: t.Any, **kw: t.Any) -> t.Any:
    kw.setdefault("group_id", team.support.id)
    kw.setdefault("customer_id", team.customer.id)
    return tickets.create_ticket(actor=SYSTEM, subject="Broken invoice", text="It is wrong",
                                 **kw)


def _page(agent: t.Any, ticket_id: int) -> str:
    response = agent.get(f"/helpdesk/tickets/{ticket_id}")
    assert response.status_code == 200
    return t.cast(str, response.text)


def test_reply_with_files_shows_previews_and_serves_them_safely(team: t.Any,
                                                                 browse: t.Any) -> None:
    ticket = _ticket(team)
    agent = browse(team.anna)
    url = f"/helpdesk/tickets/{ticket.id}"
    response = agent.submit(f"{url}/reply", {
        "text": "Here you are", "attachments": [(io.BytesIO(PNG), "shot.png"),
                                                (io.BytesIO(b"<script>x</script>"), "a.html")]},
        page=url, content_type="multipart/form-data")
    assert response.status_code == 302
    (reply,) = [m for m in messages.list_messages(ticket.id, actor=SYSTEM) if m.kind == "reply"]
    png, page_file = reply.attachments
    page = _page(agent, ticket.id)
    assert f'src="/helpdesk/attachments/{png.id}?inline=1"' in page
    assert f'src="/helpdesk/attachments/{page_file.id}?inline=1"' not in page
    assert f'href="/helpdesk/attachments/{page_file.id}" download>a.html' in page
    image = agent.get(f"/helpdesk/attachments/{png.id}?inline=1")
    assert image.data == PNG and image.mimetype == "image/png"
    assert "attachment" not in image.headers.get("Content-Disposition", "inline")
    html = agent.get(f"/helpdesk/attachments/{page_file.id}?inline=1")
    assert html.headers["Content-Disposition"].startswith("attachment")
    assert html.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in html.headers["Content-Security-Policy"]


def test_attachments_of_other_groups_are_refused(team: t.Any, browse: t.Any) -> None:
    ticket = _ticket(team, group_id=team.billing.id)
    messages.reply(ticket.id, actor=team.boris, text="file",
                   attachments=[_file("contract.pdf", b"%PDF-1.4 secret")])
    attachment_id = messages.list_messages(ticket.id, actor=SYSTEM)[-1].attachments[0].id
    assert browse(team.anna).get(f"/helpdesk/attachments/{attachment_id}").status_code == 403
    assert browse(team.boris).get(f"/helpdesk/attachments/{attachment_id}").status_code == 200


def _file(name: str, data: bytes) -> t.Any:
    from flask_helpdesk.channels import InboundAttachment

    return InboundAttachment(filename=name, content_type="application/octet-stream", data=data)


def test_rich_reply_is_sanitized_and_shown_as_html(team: t.Any, browse: t.Any) -> None:
    ticket = _ticket(team)
    url = f"/helpdesk/tickets/{ticket.id}"
    browse(team.anna).submit(f"{url}/reply", {
        "text": "Hello there", "html": "<p>Hello <b>there</b></p><script>alert(1)</script>"},
        page=url)
    (reply,) = [m for m in messages.list_messages(ticket.id, actor=SYSTEM) if m.kind == "reply"]
    assert reply.html == "<p>Hello <b>there</b></p>"
    page = _page(browse(team.anna), ticket.id)
    assert "<p>Hello <b>there</b></p>" in page and "<script>alert(1)" not in page


def test_conflict_shows_what_arrived_keeps_the_draft_and_sends_on_confirm(
        team: t.Any, browse: t.Any) -> None:
    ticket = _ticket(team)
    agent = browse(team.anna)
    url = f"/helpdesk/tickets/{ticket.id}"
    seen = tickets.list_events(ticket.id, actor=SYSTEM)[-1].id
    result = ingest(InboundMessage(
        channel="web", external_id="more-1", sender=Identity("email", "carla@example.org"),
        text="Actually it is the March invoice", ticket_hint=ticket.id))
    assert result.ticket_id == ticket.id
    refused = agent.submit(f"{url}/reply", {"text": "The refund was made today",
                                            "seen_event_id": str(seen)}, page=url)
    assert refused.status_code == 409
    assert "While you were writing, new messages arrived" in refused.text
    assert f'href="#message-{result.message_id}"' in refused.text
    assert "The refund was made today</textarea>" in refused.text
    assert [m.kind for m in messages.list_messages(ticket.id, actor=SYSTEM)] == [
        "inbound", "inbound"]
    sent = agent.submit(f"{url}/reply", {"text": "The refund was made today",
                                         "seen_event_id": str(seen), "confirm": "1"}, page=url)
    assert sent.status_code == 302
    assert messages.list_messages(ticket.id, actor=SYSTEM)[-1].text == (
        "The refund was made today")


def test_note_carries_the_seen_event_too(team: t.Any, browse: t.Any) -> None:
    ticket = _ticket(team)
    url = f"/helpdesk/tickets/{ticket.id}"
    seen = tickets.list_events(ticket.id, actor=SYSTEM)[-1].id
    messages.reply(ticket.id, actor=team.manager, text="Max answered first")
    refused = browse(team.anna).submit(f"{url}/note", {"text": "I will answer",
                                                       "seen_event_id": str(seen)}, page=url)
    assert refused.status_code == 409 and "I will answer</textarea>" in refused.text


def test_related_tickets_list_follow_ups_merges_and_the_customers_requests(
        team: t.Any, browse: t.Any) -> None:
    ticket = _ticket(team)
    sibling = _ticket(team)
    merged = _ticket(team)
    hidden = _ticket(team, group_id=team.billing.id)
    tickets.merge_tickets(merged.id, ticket.id, actor=SYSTEM)
    page = _page(browse(team.anna), ticket.id)
    related = page.split("Related tickets")[1].split("</ul>")[0]
    assert f"#{sibling.id} " in related and f"#{merged.id} " in related
    assert "merged into this one" in related
    assert f"#{hidden.id} " not in related
    assert f'<option value="{sibling.id}">' in page  # offered as a merge target


def test_history_tab_lists_the_events(team: t.Any, browse: t.Any) -> None:
    ticket = _ticket(team)
    tickets.update_ticket(ticket.id, actor=team.anna, changes=tickets.TicketChanges(
        priority="urgent", add_tags=["vip"]))
    page = _page(browse(team.anna), ticket.id)
    assert 'role="tab" id="tab-history"' in page
    history = page.split('id="history"')[1]
    assert "changed the priority from normal to urgent" in history
    assert "added tags vip" in history


def test_failed_delivery_shows_the_servers_error(team: t.Any, browse: t.Any) -> None:
    from flask_helpdesk import DeliveryError
    from flask_helpdesk.extension import get_state
    from flask_helpdesk.services import outbox
    from tests.plugins.channel import RecordingChannel

    channel = RecordingChannel()
    channel.always_fail = DeliveryError("550 5.1.1 mailbox unavailable", permanent=True)
    get_state().pm.register(channel)
    get_state().channels["test"] = "Test"
    try:
        ticket = _ticket(team, channel="test")
        reply = messages.reply(ticket.id, actor=team.anna, text="Hello")
        outbox.deliver(reply.id)
        page = _page(browse(team.anna), ticket.id)
    finally:
        get_state().pm.unregister(channel)
        get_state().channels.pop("test")
    assert "not delivered" in page and "550 5.1.1 mailbox unavailable" in page
