"""The rich-text reply editor (static/helpdesk/editor.js) on a test-only form page."""

from __future__ import annotations

import typing as t

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from .support import VIEWPORT
from .support import LiveSite

pytestmark = pytest.mark.e2e

DEMO = "/_e2e/editor"


def submitted(page: Page) -> dict[str, str]:
    """What the demo page says the browser posted (waits for the POST's page)."""
    expect(page.locator("#submitted")).to_have_count(1)
    fields = page.locator("#submitted dd")
    return {fields.nth(i).get_attribute("data-field") or "": fields.nth(i).text_content() or ""
            for i in range(fields.count())}


def reply_form(page: Page) -> t.Any:
    return page.locator("#reply")


def editor(page: Page) -> t.Any:
    return reply_form(page).get_by_role("textbox", name="Reply to the customer")


def test_editor_mounts_over_the_textarea(page: Page) -> None:
    page.goto(DEMO)
    expect(editor(page)).to_be_visible()
    expect(reply_form(page).locator("textarea[name=text]")).to_be_hidden()
    toolbar = reply_form(page).get_by_role("toolbar", name="Formatting")
    for name in ("Bold", "Italic", "Link", "Bulleted list", "Numbered list", "Quote"):
        expect(toolbar.get_by_role("button", name=name)).to_be_visible()
    page.get_by_text("Reply to the customer").click()  # the label focuses the editor
    expect(editor(page)).to_be_focused()
    # Without a label, the form's heading names the editor; each form has its own.
    note = page.get_by_role("textbox", name="Internal note (agents only)")
    expect(note).to_be_visible()
    expect(page.locator("#note input[name=html]")).to_have_count(1)


def test_formatting_is_posted_as_html_and_as_plain_text(page: Page) -> None:
    page.goto(DEMO)
    box = editor(page)
    box.click()
    page.keyboard.type("Hello ")
    page.keyboard.press("Control+b")
    page.keyboard.type("Zoe")
    page.keyboard.press("Control+b")
    page.keyboard.press("Enter")
    reply_form(page).get_by_role("button", name="Bulleted list").click()
    page.keyboard.type("clear the cache")
    page.keyboard.press("Enter")
    page.keyboard.type("log in again")
    page.get_by_role("button", name="Send reply").click()
    sent = submitted(page)
    assert "<strong>Zoe</strong>" in sent["html"]
    assert "<ul><li>clear the cache</li><li>log in again</li></ul>" in sent["html"]
    assert sent["text"] == "Hello Zoe\n- clear the cache\n- log in again"


def test_keyboard_only_quote_and_link(page: Page) -> None:
    page.goto(DEMO)
    editor(page).focus()
    page.keyboard.type("See the guide")
    page.keyboard.press("Shift+Home")
    page.keyboard.press("Control+k")  # the link tooltip opens with its address field
    address = reply_form(page).get_by_label("Link address")
    expect(address).to_be_focused()
    address.fill("https://example.com/guide")
    address.press("Enter")
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("Quoted line")
    # Tab leaves the editor (no focus trap): Shift+Tab walks back to the toolbar.
    page.keyboard.press("Shift+Tab")
    quote = reply_form(page).get_by_role("button", name="Quote")
    for _ in range(8):
        if quote.evaluate("b => b === document.activeElement"):
            break
        page.keyboard.press("Shift+Tab")
    expect(quote).to_be_focused()
    page.keyboard.press("Enter")  # the button works from the keyboard
    editor(page).focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send reply")).to_be_focused()
    page.keyboard.press("Enter")
    sent = submitted(page)
    assert '<a href="https://example.com/guide"' in sent["html"]
    assert "<blockquote>Quoted line</blockquote>" in sent["html"]
    assert sent["text"] == "See the guide <https://example.com/guide>\n> Quoted line"


def test_a_re_rendered_form_keeps_the_draft(page: Page) -> None:
    page.goto(f"{DEMO}?text=Plain+draft")
    expect(editor(page)).to_have_text("Plain draft")
    page.goto(f"{DEMO}?text=x&html=%3Cp%3EA+%3Cem%3Erich%3C%2Fem%3E+draft%3C%2Fp%3E")
    expect(editor(page).locator("em")).to_have_text("rich")
    page.get_by_role("button", name="Send reply").click()  # the POST re-renders the form
    expect(editor(page).locator("em")).to_have_text("rich")
    assert submitted(page)["text"] == "A rich draft"


def test_template_is_inserted_at_the_cursor(page: Page) -> None:
    page.goto(DEMO)
    editor(page).click()
    page.keyboard.type("Hi Zoe, ")
    page.keyboard.press("Enter")
    page.keyboard.type("Regards")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("End")
    handled = page.evaluate("""() => {
        const event = new CustomEvent("hd:template-inserted", {cancelable: true,
            detail: {text: "thanks for waiting.", html: "thanks for <b>waiting</b>."}});
        return !document.querySelector("#reply textarea").dispatchEvent(event);
    }""")
    assert handled, "the editor did not claim the template (preventDefault)"
    page.get_by_role("button", name="Send reply").click()
    sent = submitted(page)
    assert sent["text"] == "Hi Zoe, thanks for waiting.\nRegards"
    assert "thanks for <strong>waiting</strong>." in sent["html"]


def test_empty_editor_is_not_sent(page: Page) -> None:
    page.goto(DEMO)
    page.get_by_role("button", name="Send reply").click()
    expect(editor(page)).to_have_attribute("aria-invalid", "true")
    expect(editor(page)).to_be_focused()
    expect(page.locator("#submitted")).to_have_count(0)


def test_without_javascript_the_textarea_is_sent(chromium: Browser, live_site: LiveSite) -> None:
    context = chromium.new_context(base_url=live_site.url, viewport=VIEWPORT,
                                   java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(DEMO)
        page.get_by_label("Reply to the customer").fill("Plain answer")
        page.get_by_role("button", name="Send reply").click()
        assert submitted(page) == {"html": "", "text": "Plain answer"}
    finally:
        context.close()
