"""Reply templates in a real browser: two clicks to answer, managers edit, agents cannot."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from flask_helpdesk.models import ReplyTemplate

from .conftest import Login
from .support import LiveSite

pytestmark = pytest.mark.e2e


def test_answer_with_a_template_in_two_clicks(live_site: LiveSite, page: Page,
                                              login: Login) -> None:
    ticket_id = live_site.write_in("Refund for order 4411", "I returned the shoes last week.")
    login(page, "anna")
    page.goto(f"/helpdesk/tickets/{ticket_id}")
    reply = page.locator("#reply")
    reply.get_by_role("button", name="Templates").click()                   # click 1
    reply.get_by_role("option", name=re.compile("^Refund issued")).click()  # click 2
    editor = reply.locator(".ql-editor")
    expect(editor).to_contain_text(f"we have refunded your payment for ticket #{ticket_id}")
    expect(editor).to_contain_text("Anna Smith")
    expect(reply.locator(".hd-template-will-also")).to_contain_text("refund")
    reply.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Reply sent.")).to_be_visible()
    expect(page.locator(".hd-meta .hd-status")).to_have_class(re.compile("hd-status-pending"))
    expect(page.locator("#properties input[name=tags]")).to_have_value(re.compile(r"\brefund\b"))
    expect(page.locator(".hd-history")).to_contain_text("Refund issued")
    sent = live_site.outbox.wait_for("we have refunded your payment")
    assert sent.ticket_id == ticket_id


def test_the_picker_works_with_the_keyboard_alone(live_site: LiveSite, page: Page,
                                                  login: Login) -> None:
    ticket_id = live_site.write_in("Where is my invoice?", "I cannot find it.")
    login(page, "anna")
    page.goto(f"/helpdesk/tickets/{ticket_id}")
    page.keyboard.press("Alt+t")
    search = page.locator("#reply .hd-template-search")
    expect(search).to_be_focused()
    search.fill("invoice")
    expect(page.locator("#reply [role=option]").first).to_contain_text("Invoice copy")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#reply .ql-editor")).to_contain_text("Settings → Billing → Invoices")


def test_a_manager_edits_a_shared_template_and_an_agent_cannot(
        live_site: LiveSite, page: Page, login: Login) -> None:
    template_id = live_site.scalar(sa.select(ReplyTemplate.id).where(
        ReplyTemplate.name == "Invoice copy"))
    login(page, "manager")
    page.goto("/helpdesk/templates")
    page.locator(f"#template-{template_id}").get_by_role("link", name="Edit").click()
    page.get_by_label("Text").fill("Hello {{ customer.first_name }}, the invoice is attached.")
    page.get_by_role("button", name="Save template").click()
    expect(page.locator(f"#template-{template_id}")).to_contain_text("the invoice is attached")

    login(page, "anna")
    page.goto("/helpdesk/templates")
    expect(page.locator(f"#template-{template_id}")).to_be_visible()
    row = page.locator(f"#template-{template_id}")
    expect(row.get_by_role("link", name="Edit")).to_have_count(0)
    response = page.goto(f"/helpdesk/templates/{template_id}/edit")
    assert response is not None and response.status == 403
