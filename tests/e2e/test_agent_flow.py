"""An agent's day in a real browser: list, filter, open, reply, note, hand over."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Ticket
from flask_helpdesk.services import messages

from .conftest import Login
from .support import LiveSite

pytestmark = pytest.mark.e2e


def open_ticket_from_list(page: Page, subject: str) -> None:
    """From the ticket list, search for ``subject`` and follow its link."""
    page.goto("/helpdesk/tickets")
    page.get_by_role("searchbox", name="Search", exact=True).fill(subject)
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name=subject).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(subject)


def test_filter_the_list_by_status(live_site: LiveSite, page: Page, login: Login) -> None:
    login(page, "admin")
    expect(page).to_have_url(re.compile(r"/helpdesk/tickets$"))
    page.locator("form.hd-filters").get_by_label("Status").select_option("pending")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"status=pending"))
    expect(page.locator("form.hd-filters").get_by_label("Status")).to_have_value("pending")
    badges = page.locator(".hd-tickets tbody .hd-status")
    pending = live_site.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
        Ticket.status == "pending", Ticket.merged_into_id.is_(None)))
    assert pending > 0, "the demo data has no pending ticket"
    page_size = get_state(live_site.app).config.page_size
    expect(badges).to_have_count(min(pending, page_size))
    expect(page.locator(".hd-tickets tbody .hd-status-pending")).to_have_count(badges.count())


def test_open_a_ticket_and_reply(live_site: LiveSite, page: Page, login: Login) -> None:
    ticket_id = live_site.write_in("Printer prints blank pages", "Every page comes out white.")
    login(page, "anna")
    open_ticket_from_list(page, "Printer prints blank pages")
    expect(page).to_have_url(re.compile(rf"/helpdesk/tickets/{ticket_id}$"))
    expect(page.locator(".hd-thread")).to_contain_text("Every page comes out white.")
    reply = page.locator("#reply")
    reply.locator(".ql-editor").fill("Please replace the toner cartridge.")
    reply.get_by_label("and set status").select_option("pending")
    reply.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Reply sent.")).to_be_visible()
    answer = page.locator(".hd-msg-reply").last
    expect(answer).to_contain_text("Please replace the toner cartridge.")
    expect(answer).to_contain_text("Anna Smith")
    expect(page.locator(".hd-meta .hd-status")).to_have_class(re.compile("hd-status-pending"))
    delivered = live_site.outbox.wait_for("Please replace the toner cartridge.")
    assert delivered.ticket_id == ticket_id and delivered.recipient is not None
    assert delivered.recipient.value == "zoe.quill@example.org"


def test_internal_note_never_reaches_the_customer(live_site: LiveSite, page: Page,
                                                  login: Login) -> None:
    """The note is on the agent page, but not in what the customer can see or receives.

    Checked where a leak would happen: the messages handed to the channel for
    delivery (the reply written after the note must not quote it) and
    ``public_messages``, the one reader of every customer-facing view.
    """
    secret = "Customer is on the fraud watch list"
    ticket_id = live_site.write_in("Refund not received", "Where is my refund?")
    login(page, "anna")
    page.goto(f"/helpdesk/tickets/{ticket_id}")
    note_form = page.locator("#note")
    note_form.locator("textarea[name=text]").fill(secret)
    note_form.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Note added.")).to_be_visible()
    note = page.locator(".hd-msg-note").last
    expect(note).to_contain_text(secret)
    expect(note.locator(".hd-label-note")).to_have_text("Internal note")

    page.locator("#reply .ql-editor").fill("We are checking your refund.")
    page.locator("#reply").get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Reply sent.")).to_be_visible()
    live_site.outbox.wait_for("We are checking your refund.")

    sent = [m for m in live_site.outbox.messages if m.ticket_id == ticket_id]
    assert sent and all(secret not in (m.text + (m.html or "") + m.subject) for m in sent)
    with live_site.app.app_context():
        public = [m.text for m in messages.public_messages(ticket_id)]
    assert public == ["Where is my refund?", "We are checking your refund."]


def test_reassign_with_a_note_shows_in_the_history(live_site: LiveSite, page: Page,
                                                   login: Login) -> None:
    ticket_id = live_site.write_in("Charged twice this month", "Two charges on my card.")
    login(page, "manager")  # in First line and Billing: still sees it afterwards
    page.goto(f"/helpdesk/tickets/{ticket_id}")
    form = page.locator("#reassign")
    form.get_by_label("Group").select_option(label="Billing")
    form.get_by_label("Assignee").select_option(label="Boris Petrov")
    form.get_by_label("Note for the colleagues").fill("Please refund the second charge.")
    form.get_by_role("button", name="Reassign").click()
    expect(page.get_by_text("Ticket reassigned.")).to_be_visible()
    history = page.locator(".hd-history")
    expect(history).to_contain_text("moved it to Billing")
    expect(history).to_contain_text("assigned it to Boris Petrov")
    expect(history).to_contain_text("added an internal note")
    expect(page.locator(".hd-msg-note").last).to_contain_text("Please refund the second charge.")
    expect(page.locator("#properties").get_by_label("Group")).to_have_value(
        str(live_site.group_id("Billing")))


def test_agent_of_another_group_gets_403(live_site: LiveSite, page: Page, login: Login) -> None:
    ticket_id = live_site.write_in("Invoice address is wrong", group="Billing")
    own_id = live_site.write_in("API returns 500", group="Tech")
    login(page, "chen")  # Tech only
    response = page.goto(f"/helpdesk/tickets/{ticket_id}")
    assert response is not None and response.status == 403
    expect(page.locator(".hd-error")).to_have_text(
        f"Ticket #{ticket_id} belongs to a group you are not in.")
    expect(page.locator("body")).not_to_contain_text("Invoice address is wrong")
    # Nor can chen post to it with a valid token taken from one of his own tickets.
    page.goto(f"/helpdesk/tickets/{own_id}")
    token = page.locator("#note input[name=csrf_token]").input_value()
    posted = page.request.post(f"/helpdesk/tickets/{ticket_id}/note",
                               form={"text": "sneaky", "csrf_token": token})
    assert posted.status == 403
    with live_site.app.app_context():
        assert "sneaky" not in [m.text for m in messages.public_messages(ticket_id)]


def test_handing_over_out_of_ones_group_lands_on_a_page_one_may_see(
        live_site: LiveSite, page: Page, login: Login) -> None:
    ticket_id = live_site.write_in("Need a VAT invoice")
    login(page, "anna")  # First line only
    page.goto(f"/helpdesk/tickets/{ticket_id}")
    form = page.locator("#reassign")
    form.get_by_label("Group").select_option(label="Billing")
    form.get_by_label("Assignee").select_option(label="Boris Petrov")
    form.get_by_label("Note for the colleagues").fill("VAT invoice, please.")
    with page.expect_navigation() as navigation:
        form.get_by_role("button", name="Reassign").click()
    assert navigation.value is not None and navigation.value.status == 200
    expect(page.get_by_text("Ticket reassigned.")).to_be_visible()
