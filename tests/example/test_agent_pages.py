"""The plain agent pages, driven like a person would: real forms, real tokens."""

from __future__ import annotations

import re
import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_helpdesk import DeliveryReceipt
from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk import hookimpl
from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Agent
from flask_helpdesk.models import Group
from flask_helpdesk.models import Message
from flask_helpdesk.models import Tag
from flask_helpdesk.models import Ticket
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import inbound
from flask_helpdesk.services import messages
from flask_helpdesk.services import tickets

from .conftest import Browser

STATUS = re.compile(r'class="hd-status hd-status-(\w+)"')
#: Where the list's rows start.
TBODY = '<tbody class="hd-rows"'
ROW_ID = re.compile(r'<td class="hd-id">(\d+)</td>')


def _scalar(app: Flask, query: t.Any) -> t.Any:
    with app.app_context():
        return get_state().db.session.scalar(query)


def _agent_id(app: Flask, login: str) -> int:
    return t.cast(int, _scalar(app, sa.select(Agent.id).where(Agent.user_id == login)))


def _group_id(app: Flask, name: str) -> int:
    return t.cast(int, _scalar(app, sa.select(Group.id).where(Group.name == name)))


def _write_in(app: Flask, subject: str, text: str = "Hello", *, name: str = "Zoe Quill",
              html: str | None = None, group: str = "First line support") -> int:
    """A customer writes in through the web channel; returns the new ticket id."""
    with app.app_context():
        result = inbound.ingest(InboundMessage(
            channel="web", external_id=f"test-{subject}",
            sender=Identity("email", "zoe.quill@example.org", name), subject=subject,
            text=text, html=html, group=group))
        return result.ticket_id


def test_list_shows_saved_views_with_counts(site: Flask, browser: Browser) -> None:
    browser.login("admin")
    page = browser.get("/helpdesk/tickets").text
    pending = _scalar(site, sa.select(sa.func.count()).select_from(Ticket).where(
        Ticket.status == "pending", Ticket.merged_into_id.is_(None)))
    match = re.search(r'>Waiting for the customer</a>\s*'
                      r'<span class="hd-count" data-hd-count="view-\d+">(\d+)</span>', page)
    assert match and int(match.group(1)) == pending
    view_id = re.search(r'href="/helpdesk/tickets\?view=(\d+)">Waiting for the customer',
                        page).group(1)
    listed = browser.get(f"/helpdesk/tickets?view={view_id}").text
    assert set(STATUS.findall(listed.split(TBODY)[1])) == {"pending"}


@pytest.mark.parametrize("query,check", [
    ("status=resolved", lambda s: set(s) == {"resolved"}),
    ("priority=urgent", lambda s: len(s) > 0),
])
def test_filters_narrow_the_list(browser: Browser, query: str,
                                 check: t.Callable[[list[str]], bool]) -> None:
    browser.login("admin")
    body = browser.get(f"/helpdesk/tickets?{query}").text.split(TBODY)[1]
    assert check(STATUS.findall(body))
    if query.startswith("priority"):
        assert set(re.findall(r'hd-priority-(\w+)"', body)) == {"urgent"}


def test_assignee_group_and_tag_filters(site: Flask, browser: Browser) -> None:
    browser.login("manager")
    boris, billing = _agent_id(site, "boris"), _group_id(site, "Billing")
    body = browser.get(f"/helpdesk/tickets?assignee={boris}&group={billing}").text
    rows = body.split(TBODY)[1]
    assert ROW_ID.findall(rows)
    assert rows.count("Boris Petrov") == len(ROW_ID.findall(rows))
    tag = _common_tag(site)
    tagged = browser.get(f"/helpdesk/tickets?tags={tag}").text.split(TBODY)[1]
    ids = ROW_ID.findall(tagged)
    assert ids and tagged.count(f'<span class="hd-tag">{tag}</span>') == len(ids)


def _common_tag(app: Flask) -> str:
    """The tag on most tickets of the demo data (a seeded demo, so always the same)."""
    with app.app_context():
        tag = get_state().db.session.scalar(
            sa.select(Tag.name).join(Ticket.tags).group_by(Tag.name)
            .order_by(sa.func.count().desc(), Tag.name).limit(1))
    assert tag, "the demo data has no tagged ticket"
    return str(tag)


def test_text_search_finds_the_ticket(site: Flask, browser: Browser) -> None:
    ticket_id = _write_in(site, "Zeppelin tickets lost", "My zeppelin boarding pass vanished")
    browser.login("anna")
    body = browser.get("/helpdesk/tickets?q=zeppelin").text.split(TBODY)[1]
    assert ROW_ID.findall(body) == [str(ticket_id)]


def test_next_page_continues_without_overlap(browser: Browser) -> None:
    browser.login("admin")
    first = browser.get("/helpdesk/tickets").text
    next_url = re.search(r'<a rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = browser.get(next_url).text
    one, two = ROW_ID.findall(first), ROW_ID.findall(second)
    assert len(one) == 25 and two and not set(one) & set(two)


def test_ticket_page_tells_inbound_replies_and_notes_apart(site: Flask,
                                                         browser: Browser) -> None:
    ticket_id = _write_in(site, "Printer on fire", "Smoke everywhere")
    browser.login("anna")
    browser.submit(f"/helpdesk/tickets/{ticket_id}", f"/helpdesk/tickets/{ticket_id}/note",
                   {"text": "Call the fire brigade first"})
    browser.submit(f"/helpdesk/tickets/{ticket_id}", f"/helpdesk/tickets/{ticket_id}/reply",
                   {"text": "Please leave the building", "status": "pending"})
    page = browser.get(f"/helpdesk/tickets/{ticket_id}").text
    kinds = re.findall(r'class="hd-msg hd-msg-(\w+)"', page)
    assert kinds == ["inbound", "note", "reply"]
    note_block = page.split('hd-msg-note')[1].split("</li>")[0]
    assert "Internal note" in note_block and "Call the fire brigade first" in note_block
    assert "Printer on fire" in page and "History" in page


def test_reply_with_status_and_note_through_the_forms(site: Flask, browser: Browser) -> None:
    ticket_id = _write_in(site, "Refund please")
    browser.login("anna")
    url = f"/helpdesk/tickets/{ticket_id}"
    done = browser.submit(url, f"{url}/reply", {"text": "Refund on its way", "status":
                                                "pending"})
    assert done.status_code == 302 and done.location.endswith(f"{url}#reply")
    with site.app_context():
        assert tickets.get_ticket(ticket_id, actor=SYSTEM).status == "pending"
    assert "Reply sent." in browser.get(url).text
    history = browser.get(url).text.split("hd-history")[1]
    assert "replied" in history and "changed the status from open to pending" in history


def test_properties_form_changes_status_priority_assignee_group_tags(
        site: Flask, browser: Browser) -> None:
    ticket_id = _write_in(site, "Many changes")
    browser.login("manager")
    tech, chen = _group_id(site, "Tech"), _agent_id(site, "chen")
    url = f"/helpdesk/tickets/{ticket_id}"
    response = browser.submit(url, f"{url}/properties", {
        "status": "on_hold", "priority": "urgent", "group_id": str(tech),
        "assignee_id": str(chen), "tags": "vip, printer"})
    assert response.status_code == 302
    with site.app_context():
        ticket = tickets.get_ticket(ticket_id, actor=SYSTEM)
        assert (ticket.status, ticket.priority_name, ticket.group_id, ticket.assignee_id) == (
            "on_hold", "urgent", tech, chen)
        assert [tag.name for tag in ticket.tags] == ["printer", "vip"]
    history = browser.get(url).text.split("hd-history")[1]
    assert "assigned it to Chen Wei" in history and "added tags printer, vip" in history


def test_reassign_with_note_and_error_keeps_typed_text(site: Flask, browser: Browser) -> None:
    ticket_id = _write_in(site, "Wrong team")
    browser.login("anna")
    url = f"/helpdesk/tickets/{ticket_id}"
    billing, chen, boris = _group_id(site, "Billing"), _agent_id(site, "chen"), _agent_id(
        site, "boris")
    refused = browser.submit(url, f"{url}/reassign", {
        "group_id": str(billing), "assignee_id": str(chen), "note": "Payment logs attached"})
    assert refused.status_code == 422
    form = refused.text.split('id="reassign"')[1].split("</form>")[0]
    assert "not a member of the group Billing" in form
    assert "Payment logs attached</textarea>" in form
    done = browser.submit(url, f"{url}/reassign", {
        "group_id": str(billing), "assignee_id": str(boris), "note": "Payment logs attached"})
    assert done.status_code == 302
    with site.app_context():
        ticket = tickets.get_ticket(ticket_id, actor=SYSTEM)
        assert (ticket.group_id, ticket.assignee_id) == (billing, boris)
        notes = [m.text for m in messages.list_messages(ticket_id, actor=SYSTEM)
                 if m.kind == "note"]
        assert notes == ["Payment logs attached"]


def test_empty_reply_shows_the_error_next_to_the_form(site: Flask, browser: Browser) -> None:
    ticket_id = _write_in(site, "Empty answer")
    browser.login("anna")
    url = f"/helpdesk/tickets/{ticket_id}"
    response = browser.submit(url, f"{url}/reply", {"text": "   ", "status": "resolved"})
    assert response.status_code == 422
    form = response.text.split('id="reply"')[1].split("</form>")[0]
    assert "The message is empty." in form
    assert '<option value="resolved" selected>' in form


def test_post_without_csrf_token_is_refused(site: Flask, browser: Browser) -> None:
    ticket_id = _write_in(site, "No token")
    browser.login("anna")
    url = f"/helpdesk/tickets/{ticket_id}"
    for action in ("reply", "note", "properties", "reassign", "merge"):
        response = browser.client.post(f"{url}/{action}", data={"text": "sneaky",
                                                                "note": "sneaky"})
        assert response.status_code == 400
    forged = browser.client.post(f"{url}/note", data={"text": "sneaky", "csrf_token": "x"})
    assert forged.status_code == 400
    with site.app_context():
        assert len(messages.list_messages(ticket_id, actor=SYSTEM)) == 1


def test_agent_cannot_open_another_groups_ticket_by_url(site: Flask, browser: Browser) -> None:
    ticket_id = _write_in(site, "First line only")
    browser.login("boris")  # Billing only
    assert browser.get(f"/helpdesk/tickets/{ticket_id}").status_code == 403
    body = browser.get("/helpdesk/tickets?q=first+line+only").text.split(TBODY)[1]
    assert not ROW_ID.findall(body)
    browser.login("anna")
    assert browser.get(f"/helpdesk/tickets/{ticket_id}").status_code == 200


def test_customer_page_shows_identities_and_tickets(site: Flask, browser: Browser) -> None:
    ticket_id = _write_in(site, "Customer page please")
    with site.app_context():
        customer_id = tickets.get_ticket(ticket_id, actor=SYSTEM).customer_id
    browser.login("anna")
    page = browser.get(f"/helpdesk/customers/{customer_id}").text
    assert "zoe.quill@example.org" in page and "Zoe Quill" in page
    assert f'href="/helpdesk/tickets/{ticket_id}"' in page


def test_merge_form_moves_the_conversation(site: Flask, browser: Browser) -> None:
    first = _write_in(site, "Merge me A", "first words")
    second = _write_in(site, "Merge me B", "second words")
    browser.login("anna")
    url = f"/helpdesk/tickets/{second}"
    response = browser.submit(url, f"{url}/merge", {"into": str(first)})
    assert response.location.endswith(f"/helpdesk/tickets/{first}")
    page = browser.get(f"/helpdesk/tickets/{first}").text
    assert "first words" in page and "second words" in page
    assert f"merged ticket #{second} into this one" in page


class _Outgoing:
    """Records what outbound delivery receives; the web channel still sends it."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    @hookimpl(tryfirst=True)
    def helpdesk_deliver_message(self, message: t.Any) -> DeliveryReceipt | None:
        self.texts.append(message.text)
        return None


def test_note_never_reaches_the_customer(site: Flask, browser: Browser) -> None:
    outgoing = _Outgoing()
    state = get_state(site)
    state.pm.register(outgoing)
    ticket_id = _write_in(site, "Secret handling")
    browser.login("anna")
    url = f"/helpdesk/tickets/{ticket_id}"
    browser.submit(url, f"{url}/note", {"text": "Customer owes us money, be firm"})
    browser.submit(url, f"{url}/reply", {"text": "We are on it", "status": "pending"})
    state.jobs.start(sweep=False)
    state.jobs.join()
    assert outgoing.texts == ["We are on it"]
    with site.app_context():
        public = messages.public_messages(ticket_id)
        assert [m.kind for m in public] == ["inbound", "reply"]
        assert all("owes us money" not in m.text for m in public)
        reply = get_state().db.session.scalar(sa.select(Message).where(
            Message.ticket_id == ticket_id, Message.kind == "reply"))
        assert reply.delivery_state == "sent"


SCRIPT = "<script>alert(1)</script>"


def test_script_from_a_customer_is_escaped_on_every_page(site: Flask, browser: Browser) -> None:
    ticket_id = _write_in(site, f"Help {SCRIPT}", f"body {SCRIPT}", name=f"Eve {SCRIPT}")
    html_id = _write_in(site, "Html mail", html=f"<p>hi</p>{SCRIPT}<img src=x onerror=alert(2)>",
                        name="Mallory")
    with site.app_context():
        customer_id = tickets.get_ticket(ticket_id, actor=SYSTEM).customer_id
        tickets.update_ticket(ticket_id, actor=SYSTEM, changes=tickets.TicketChanges(
            add_tags=["x"], subject=f"Renamed {SCRIPT}"))
    browser.login("admin")
    pages = [browser.get(u).text for u in (
        "/helpdesk/tickets", f"/helpdesk/tickets/{ticket_id}", f"/helpdesk/tickets/{html_id}",
        f"/helpdesk/customers/{customer_id}", "/helpdesk/tickets?q=alert")]
    for page in pages:
        assert "<script>alert" not in page
        assert "onerror" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[1]
    assert "<p>hi</p>" in pages[2]  # the sanitized HTML is shown as HTML
