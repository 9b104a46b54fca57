"""Two agents on one ticket in two browsers: presence, typing, the banner, drafts, the guard.

Anna and Daria both work in "First line support" in the demo. They open the
same ticket; each sees the other viewing, and typing in the reply box shows
as replying. Anna sends first. Daria, who has written a draft, gets a banner
instead of losing it, reloads and finds her draft restored from the server,
sends, is shown Anna's reply in the conflict notice, confirms and sends. The
customer gets one reply from each.
"""

from __future__ import annotations

import re
import typing as t

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from flask_helpdesk.models import Message

from .conftest import TIMEOUT_MS
from .support import VIEWPORT
from .support import LiveSite

if t.TYPE_CHECKING:
    from playwright.sync_api import Browser

    from .conftest import Login

pytestmark = pytest.mark.e2e

#: Waits for things that travel over the socket (two slow cores in CI).
LIVE_MS = 3 * TIMEOUT_MS

ANNA, DARIA = "Anna Smith", "Daria Ivanova"
DRAFT = "Daria here: the refund left our bank this morning."


@pytest.fixture
def second_page(chromium: Browser, live_site: LiveSite) -> t.Iterator[Page]:
    """A tab in another browser context: a second person with their own cookies."""
    ctx = chromium.new_context(base_url=live_site.url, viewport=VIEWPORT, locale="en-US")
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx.new_page()
    ctx.close()


def _open(page: Page, ticket_id: int) -> None:
    page.goto(f"/helpdesk/tickets/{ticket_id}")
    # live.js is connected once the page has been told who is there.
    page.wait_for_function("window.hdSocket && window.hdSocket.connected", timeout=LIVE_MS)


def _presence(page: Page) -> t.Any:
    return page.locator("[data-hd-presence-list]")


def _reply_editor(page: Page) -> t.Any:
    return page.locator("#reply .ql-editor")


def test_two_agents_collide_and_nothing_is_lost(live_site: LiveSite, page: Page,
                                                second_page: Page, login: Login) -> None:
    ticket_id = live_site.write_in("Refund twice?", "Was my refund sent? I need it today.")
    live_site.set_language("daria", "en")
    anna, daria = page, second_page
    login(anna, "anna")
    login(daria, "daria")
    _open(anna, ticket_id)
    _open(daria, ticket_id)

    # Each sees the other viewing.
    expect(_presence(anna)).to_contain_text(f"{DARIA} is viewing", timeout=LIVE_MS)
    expect(_presence(daria)).to_contain_text(f"{ANNA} is viewing", timeout=LIVE_MS)

    # Anna types: Daria sees her replying.
    _reply_editor(anna).click()
    anna.keyboard.type("Anna here: the refund was sent today.")
    expect(_presence(daria)).to_contain_text(f"{ANNA} is replying", timeout=LIVE_MS)

    # Daria writes her own answer, and the server keeps it.
    _reply_editor(daria).click()
    daria.keyboard.type(DRAFT)
    expect(_presence(anna)).to_contain_text(f"{DARIA} is replying", timeout=LIVE_MS)
    expect(daria.locator("#reply [data-hd-draft-status]")).to_have_text(
        "Draft saved", timeout=LIVE_MS)

    # Anna sends first; Daria gets a banner, and her draft stays in the box.
    anna.locator("#reply").get_by_role("button", name="Send reply").click()
    expect(anna.get_by_text("Reply sent.")).to_be_visible()
    banner = daria.locator("[data-hd-live-banner]")
    expect(banner).to_be_visible(timeout=LIVE_MS)
    expect(banner).to_contain_text(f"{ANNA} replied.")
    expect(_reply_editor(daria)).to_have_text(DRAFT)

    # A reload (or a crash) loses nothing: the draft comes back from the server.
    daria.reload()
    expect(_reply_editor(daria)).to_have_text(DRAFT)
    expect(daria.locator("#reply [data-hd-draft-status]")).to_contain_text("Draft restored")
    expect(daria.locator(".hd-msg-new")).to_contain_text("Anna here: the refund was sent")

    # Sending shows what arrived since the draft was written, and waits for a confirmation.
    daria.locator("#reply").get_by_role("button", name="Send reply").click()
    notice = daria.locator(".hd-conflict")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("While you were writing, new messages arrived")
    expect(notice.get_by_role("link")).to_contain_text(ANNA)
    expect(_reply_editor(daria)).to_have_text(DRAFT)
    assert _replies(live_site, ticket_id) == [ANNA]
    notice.get_by_label("I have read the new messages; send anyway").check()
    daria.locator("#reply").get_by_role("button", name="Send reply").click()
    expect(daria.get_by_text("Reply sent.")).to_be_visible()

    # One reply each, both delivered, and no draft left behind.
    thread = daria.locator(".hd-msg-reply")
    expect(thread).to_have_count(2)
    expect(thread.nth(0)).to_contain_text(ANNA)
    expect(thread.nth(1)).to_contain_text(DARIA)
    assert _replies(live_site, ticket_id) == [ANNA, DARIA]
    live_site.outbox.wait_for("Anna here: the refund was sent today.")
    live_site.outbox.wait_for(DRAFT)
    daria.reload()
    expect(_reply_editor(daria)).to_have_text("")
    expect(daria.locator("#reply [data-hd-draft-status]")).to_have_text(re.compile(r"^$"))


def test_a_draft_left_on_pagehide_is_kept(live_site: LiveSite, page: Page,
                                          login: Login) -> None:
    ticket_id = live_site.write_in("Wrong size", "The shoes are too small.")
    login(page, "anna")
    page.goto(f"/helpdesk/tickets/{ticket_id}")
    page.locator("#hd-note-text").fill("Check stock of size 42 first")
    # Leave at once, before the autosave's pause: the page saves as it goes.
    page.goto("/helpdesk/tickets")
    page.goto(f"/helpdesk/tickets/{ticket_id}")
    expect(page.locator("#hd-note-text")).to_have_value("Check stock of size 42 first")


def _replies(site: LiveSite, ticket_id: int) -> list[str]:
    with site.app.app_context():
        from flask_helpdesk.extension import get_state

        rows = get_state().db.session.scalars(sa.select(Message.author_name).where(
            Message.ticket_id == ticket_id, Message.kind == "reply").order_by(Message.id))
        return list(rows)
