"""The rule editor on the example site: a manager builds the seeds' rules and sees them work."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from flask_helpdesk import business_hours as bh
from flask_helpdesk.models import Ticket
from flask_helpdesk.models import utcnow
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import CalendarChanges
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import calendars
from flask_helpdesk.services import templates
from flask_helpdesk.services import tickets

from .conftest import Login
from .support import LiveSite

pytestmark = pytest.mark.e2e

REMINDER = "Remind pending customers after 24 hours"
AUTO_CLOSE = "Resolve pending tickets 72 hours after the reminder"
OUT_OF_HOURS = "Out-of-hours auto-reply"


def _enable(page: Page, name: str) -> None:
    page.get_by_role("button", name=f"Enable {name}").click()
    expect(page.get_by_text(f"Rule {name} enabled.")).to_be_visible()
    row = page.locator("tr.hd-rule-row", has=page.get_by_role("link", name=name, exact=True))
    expect(row.locator(".hd-badge-on")).to_be_visible()


def _closed_now(site: LiveSite) -> None:
    """Make the demo calendar closed now: today is a holiday in Berlin (if it was open)."""
    with site.app.app_context():
        [calendar] = calendars.list_calendars(actor=SYSTEM)
        if bh.is_open(calendar.schedule, utcnow()):
            today = bh.local_time(calendar.schedule, utcnow()).date().isoformat()
            calendars.update_calendar(calendar.id, actor=SYSTEM, changes=CalendarChanges(
                holidays=[*calendar.holidays, {"date": today, "name": "Team day"}]))


def _outage_tickets(site: LiveSite, n: int) -> list[int]:
    """``n`` new open tickets tagged "outage" (new: the small demo may have fewer open ones)."""
    ids = [site.write_in(f"Payment failed ({i})", "My card payment fails.", name=f"Payer {i}",
                         email=f"payer{i}@example.org") for i in range(n)]
    with site.app.app_context():
        for tid in ids:
            tickets.update_ticket(tid, actor=SYSTEM, changes=TicketChanges(add_tags=["outage"]))
        templates.create_template(
            actor=SYSTEM, name="Outage notice", shared=True,
            body="Hello {{ customer.first_name }}, our payment service is down; ticket"
                 " #{{ ticket.id }} waits for it. We will write when it is back.")
    return ids


def test_a_manager_builds_the_seed_rules_and_sees_them_work(
        live_site: LiveSite, page: Page, login: Login) -> None:
    _closed_now(live_site)
    login(page, "manager")
    page.get_by_role("link", name="Rules", exact=True).click()
    expect(page.get_by_role("heading", name="Rules")).to_be_visible()

    # The shipped reminder and auto-close, and the out-of-hours answer: enable them.
    for name in (REMINDER, AUTO_CLOSE, OUT_OF_HOURS):
        _enable(page, name)

    # "new feature" in the subject or the text -> high priority, assigned to Chen.
    page.get_by_role("link", name="New rule").click()
    page.get_by_label("Name", exact=True).fill("New feature requests to Chen")
    page.get_by_label("Enabled").check()
    page.get_by_label("when something happens").check()
    page.get_by_label("Event").select_option("ticket.created")
    add = page.get_by_role("button", name="Add a condition")
    add.focus()
    page.keyboard.press("Enter")  # keyboard: the new row gets the focus
    rows = page.locator("#hd-condition-rows > li")
    expect(rows.last.locator("select[name$=_group]")).to_be_focused()
    for field, row in (("subject", rows.nth(0)), ("text", None)):
        if row is None:
            add.click()
            row = rows.nth(1)
        row.locator("select[name$=_group]").select_option("any")
        row.locator("select[name$=_field]").select_option(field)
        row.locator("select[name$=_op]").select_option("contains_any")
        row.locator("input[name$=_text]").fill("new feature||feature request")
    actions = page.locator("#hd-action-rows > li")
    actions.nth(0).locator("select[name$=_type]").select_option("set_priority")
    actions.nth(0).locator("select[name$=_priority]").select_option("high")
    # Chen works in Tech: move the ticket there, then assign it to him.
    page.get_by_role("button", name="Add an action").click()
    actions.nth(1).locator("select[name$=_type]").select_option("set_group")
    actions.nth(1).locator("select[name$=_group_id]").select_option(label="Tech")
    page.get_by_role("button", name="Add an action").click()
    actions.nth(2).locator("select[name$=_type]").select_option("assign")
    actions.nth(2).locator("select[name$=_strategy]").select_option("agent")
    expect(actions.nth(2).locator("select[name$=_group_id]")).to_be_hidden()
    actions.nth(2).locator("select[name$=_agent_id]").select_option(label="Chen Wei")
    page.get_by_role("button", name="Save rule").last.click()
    expect(page.get_by_text("Rule New feature requests to Chen saved.")).to_be_visible()

    ticket_id = live_site.write_in("Dark mode", "Could you add a new feature: dark mode?")
    chen = live_site.agent_id("chen")
    page.goto(f"/helpdesk/tickets/{ticket_id}")
    expect(page.locator(".hd-history")).to_contain_text("Rule: New feature requests to Chen")
    assert live_site.scalar(sa.select(Ticket.assignee_id).where(Ticket.id == ticket_id)) == chen
    assert live_site.scalar(sa.select(Ticket.priority).where(Ticket.id == ticket_id)) == 2
    # ... and the calendar is closed now, so the customer got the out-of-hours answer.
    answer = live_site.outbox.wait_for("Our team is away now; we are back")
    assert answer.ticket_id == ticket_id

    # The outage notice: a manual rule, dry run, then "Run rule" with its progress.
    outage = _outage_tickets(live_site, 3)
    page.goto("/helpdesk/rules/new")
    page.get_by_label("Name", exact=True).fill("Outage notice")
    page.get_by_label("only when run by hand").check()
    page.get_by_role("button", name="Add a condition").click()
    row = page.locator("#hd-condition-rows > li").first
    row.locator("select[name$=_field]").select_option("tags")
    row.locator("select[name$=_op]").select_option("has_any")
    row.locator("input[name$=_text]").fill("outage")
    action = page.locator("#hd-action-rows > li").first
    action.locator("select[name$=_type]").select_option("send_template")
    action.locator("select[name$=_template_id]").select_option(label="Outage notice")
    page.get_by_role("button", name="Save rule").last.click()
    expect(page.get_by_text("Rule Outage notice saved.")).to_be_visible()
    page.get_by_role("link", name="Outage notice", exact=True).click()
    page.get_by_role("link", name="Dry run").click()
    expect(page.locator(".hd-dry-run-total")).to_contain_text("would touch 3 tickets")
    for tid in outage:
        expect(page.locator(f'a[href="/helpdesk/tickets/{tid}"]')).to_be_visible()
    page.get_by_role("button", name="Run rule").click()
    expect(page.get_by_role("heading", name="Run of Outage notice")).to_be_visible()
    expect(page.locator("[data-field=state]")).to_have_text("finished", timeout=30_000)
    expect(page.locator("#hd-run-progress")).to_have_attribute("value", "3")
    expect(page.locator("[data-field=touched]")).to_have_text("3")
    expect(page.locator("[data-field=failed]")).to_have_text("0")
    for tid in outage:
        sent = live_site.outbox.wait_for(f"ticket #{tid} waits for it", timeout=30)
        assert sent.ticket_id == tid
    page.get_by_role("link", name="All rules").click()
    row = page.locator("tr.hd-rule-row", has=page.get_by_role("link", name="Outage notice"))
    expect(row.locator(".hd-rule-last-run")).to_contain_text("3 touched, 0 skipped, 0 failed")

    # The reminder works on the demo's old pending tickets: run it by hand now.
    page.get_by_role("link", name=REMINDER).click()
    page.get_by_role("button", name="Run rule").click()
    expect(page.locator("[data-field=state]")).to_have_text("finished", timeout=30_000)
    touched = int(page.locator("[data-field=touched]").inner_text())
    assert touched >= 1
    live_site.outbox.wait_for("we are waiting for your information", timeout=30)
