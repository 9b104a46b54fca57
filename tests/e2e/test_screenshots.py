"""Screenshots of the agent pages for the docs, in English and Russian.

Refresh the committed PNGs in docs/_static/screenshots/ with::

    HELPDESK_SCREENSHOTS=update .venv/bin/python -m pytest -q tests/e2e/test_screenshots.py
"""

from __future__ import annotations

import re
import struct
import typing as t

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Message
from flask_helpdesk.models import Ticket

from .conftest import Login
from .conftest import Screenshot
from .support import VIEWPORT
from .support import LiveSite

pytestmark = pytest.mark.e2e

CYRILLIC = re.compile("[А-Яа-яЁё]")

#: A word of each page that must be translated, per language.
WORDS = {"en": ("Filter", "Send reply", "Contacts"),
         "ru": ("Фильтр", "Отправить ответ", "Контакты")}


#: The rule pages' heading and save button, per language.
RULE_WORDS = {"en": ("Rules", "Save rule"), "ru": ("Правила", "Сохранить правило")}


def showcase_ticket(site: LiveSite, lang: str) -> tuple[int, int]:
    """(ticket id, customer id) of the demo ticket in ``lang`` with the longest
    conversation that still takes a reply, open or pending first (the small
    demo data is made relative to now: on some days none is open)."""
    with site.app.app_context():
        found = get_state().db.session.execute(
            sa.select(Ticket.id, Ticket.customer_id, Ticket.subject, sa.func.count(Message.id))
            .join(Message, Message.ticket_id == Ticket.id)
            .where(Ticket.merged_into_id.is_(None), Ticket.status != "closed")
            .group_by(Ticket.id)
            .order_by(Ticket.status.in_(("open", "pending")).desc(),
                      sa.func.count(Message.id).desc(), Ticket.id)).all()
    for ticket_id, customer_id, subject, _count in found:
        if bool(CYRILLIC.search(subject)) == (lang == "ru"):
            return ticket_id, customer_id
    subject = "Не приходит счёт за ноябрь" if lang == "ru" else "The November invoice is missing"
    ticket_id = site.write_in(subject, subject)
    with site.app.app_context():
        customer_id = get_state().db.session.scalar(
            sa.select(Ticket.customer_id).where(Ticket.id == ticket_id))
    assert customer_id is not None
    return ticket_id, customer_id


def png_size(path: t.Any) -> tuple[int, int]:
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_screenshots_of_the_agent_pages(live_site: LiveSite, page: Page, login: Login,
                                        screenshot: Screenshot, lang: str) -> None:
    live_site.set_language("admin", lang)
    ticket_id, customer_id = showcase_ticket(live_site, lang)
    filter_word, reply_word, contacts_word = WORDS[lang]
    login(page, "admin")

    page.goto("/helpdesk/tickets")
    expect(page.get_by_role("button", name=filter_word)).to_be_visible()
    shots = [screenshot(page, "tickets", lang)]

    page.goto(f"/helpdesk/tickets/{ticket_id}")
    expect(page.get_by_role("button", name=reply_word)).to_be_visible()
    shots.append(screenshot(page, "ticket", lang))

    page.goto(f"/helpdesk/customers/{customer_id}")
    expect(page.get_by_role("heading", name=contacts_word)).to_be_visible()
    shots.append(screenshot(page, "customer", lang))

    page.goto("/helpdesk/rules")
    expect(page.get_by_role("heading", name=RULE_WORDS[lang][0])).to_be_visible()
    shots.append(screenshot(page, "rules", lang))

    page.locator("tr.hd-rule-row a").nth(4).click()  # the out-of-hours auto-reply
    expect(page.get_by_role("button", name=RULE_WORDS[lang][1]).last).to_be_visible()
    shots.append(screenshot(page, "rule_form", lang))

    for path in shots:
        assert png_size(path) == (VIEWPORT["width"], VIEWPORT["height"])
        assert path.parent.name == lang
