"""The example of docs/testing.rst ("Writing an end-to-end test"), run as shown."""

from __future__ import annotations

# -- start example --
from playwright.sync_api import expect


def test_note_is_marked_internal(live_site, page, login):
    ticket_id = live_site.write_in("Printer jam", "Paper is stuck.")
    login(page, "anna")
    page.goto(f"/helpdesk/tickets/{ticket_id}")
    page.locator("#note textarea[name=text]").fill("Ask for the model")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".hd-msg-note").last).to_contain_text("Internal note")
# -- end example --
