"""The notifications page: an agent reads what rules told them and marks it read."""

from __future__ import annotations

import re
import typing as t

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import notifications
from flask_helpdesk.services import rules
from flask_helpdesk.services import tickets


def _notify_on_create(**action: t.Any) -> None:
    rules.create_rule(actor=SYSTEM, name="tell", enabled=True,
                      when={"type": "event", "on": "ticket.created"},
                      actions=[{"type": "notify", "message": "Call {{ customer.name }} back",
                                **action}])


def _ticket(team: t.Any, subject: str) -> t.Any:
    return tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id, subject=subject,
                                 text="Please help", group_id=team.support.id,
                                 assignee_id=team.anna.id)


def _unread_badge(html: str) -> str:
    match = re.search(r'<span class="hd-unread" data-hd-unread( hidden)?>(\d+)</span>', html)
    assert match, "the header has no notifications link"
    return "hidden" if match.group(1) else match.group(2)


def test_the_header_counts_and_the_page_lists_and_marks_read(team: t.Any, browse: t.Any
                                                              ) -> None:
    _notify_on_create()
    first, second = _ticket(team, "Printer"), _ticket(team, "Scanner")
    anna = browse(team.anna)
    page = anna.get("/helpdesk/tickets").text
    assert 'href="/helpdesk/notifications"' in page and _unread_badge(page) == "2"
    assert _unread_badge(browse(team.boris).get("/helpdesk/tickets").text) == "hidden"

    listing = anna.get("/helpdesk/notifications")
    assert listing.status_code == 200
    assert listing.text.count("Call Carla Customer back") == 2
    assert f'href="/helpdesk/tickets/{first.id}">#{first.id} Printer</a>' in listing.text
    assert "Rule: tell" in listing.text
    # Newest first while both are unread.
    assert listing.text.index("Scanner") < listing.text.index("Printer")

    [newest, oldest] = notifications.list_notifications(actor=team.anna)
    assert newest.ticket_id == second.id
    answer = anna.submit(f"/helpdesk/notifications/{newest.id}/read", {"open": "1"},
                         page="/helpdesk/notifications")
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/helpdesk/tickets/{second.id}")
    page = anna.get("/helpdesk/notifications").text
    assert _unread_badge(page) == "1"
    # Unread first: the older, unread one now comes before the one just read.
    assert page.index("Printer") < page.index("Scanner")

    answer = anna.submit("/helpdesk/notifications/read", {}, page="/helpdesk/notifications")
    assert answer.status_code == 302
    page = anna.get("/helpdesk/notifications").text
    assert _unread_badge(page) == "hidden" and "Mark all read" not in page
    assert notifications.unread_count(actor=team.anna) == 0
    assert oldest.id  # still listed, read
    assert page.count("Call Carla Customer back") == 2


def test_an_agent_cannot_mark_anothers_notification(team: t.Any, browse: t.Any) -> None:
    _notify_on_create()
    _ticket(team, "Printer")
    [mine] = notifications.list_notifications(actor=team.anna)
    boris = browse(team.boris)
    answer = boris.submit(f"/helpdesk/notifications/{mine.id}/read", {})
    assert answer.status_code == 404
    assert "Call Carla Customer back" not in boris.get("/helpdesk/notifications").text
    assert notifications.unread_count(actor=team.anna) == 1
    # Without the page's CSRF token nothing is marked either.
    assert browse(team.anna).post(f"/helpdesk/notifications/{mine.id}/read").status_code == 400
    assert notifications.unread_count(actor=team.anna) == 1


def test_the_page_is_in_the_agents_language(
        team: t.Any, browse: t.Any) -> None:
    agents.update_agent(team.boris.id, actor=team.boris, language="ru")
    page = browse(team.boris).get("/helpdesk/notifications").text
    assert "<h1>Уведомления</h1>" in page and "Уведомлений пока нет" in page
