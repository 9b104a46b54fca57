"""The inbox page: columns, sidebar counts, load more, bulk actions, views, search."""

from __future__ import annotations

import dataclasses
import re
import typing as t

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import messages
from flask_helpdesk.services import tickets
from flask_helpdesk.services import views

ROW = re.compile(r'<tr data-ticket-id="(\d+)"')


def _ticket(team: t.Any, subject: str = "Printer on fire", **kw: t.Any) -> t.Any:
    kw.setdefault("group_id", team.support.id)
    return tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id, subject=subject,
                                 text="Please help", **kw)


def _rows(html: str) -> list[int]:
    return [int(x) for x in ROW.findall(html)]


def test_list_shows_channel_and_waiting_since_until_answered(team: t.Any, browse: t.Any) -> None:
    waiting = _ticket(team, "Still waiting")
    answered = _ticket(team, "Answered already")
    messages.reply(answered.id, actor=team.anna, text="Done")
    page = browse(team.anna).get("/helpdesk/tickets").text
    row = page.split(f'data-ticket-id="{waiting.id}"')[1].split("</tr>")[0]
    assert 'class="hd-wait"><time' in row and "Web" in row
    row = page.split(f'data-ticket-id="{answered.id}"')[1].split("</tr>")[0]
    assert 'class="hd-wait">—' in row


def test_sidebar_counts_unsolved_tickets_per_visible_group_and_tag(team: t.Any,
                                                                    browse: t.Any) -> None:
    for _ in range(3):
        _ticket(team, tags=["refund"])
    done = _ticket(team, tags=["refund"])
    tickets.update_ticket(done.id, actor=SYSTEM, changes=tickets.TicketChanges(status="resolved"))
    _ticket(team, group_id=team.billing.id)
    page = browse(team.anna).get("/helpdesk/tickets").text
    assert f'data-hd-count="group-{team.support.id}">3<' in page
    assert f'data-hd-count="group-{team.billing.id}"' not in page  # anna is not in billing
    assert 'data-hd-count="tag-refund">3<' in page
    data = browse(team.manager).get("/helpdesk/tickets/counts").get_json()
    assert data["groups"] == {str(team.support.id): 3, str(team.billing.id): 1}
    assert data["tags"] == {"refund": 3}


def test_load_more_fragment_continues_without_overlap(app: t.Any, team: t.Any,
                                                      browse: t.Any) -> None:
    made = [_ticket(team, f"Ticket {i}").id for i in range(30)]
    agent = browse(team.anna)
    page = agent.get("/helpdesk/tickets?sort=created").text
    seen = _rows(page)
    url = re.search(r'rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    while url:
        fragment = agent.get(url + "&partial=rows").text
        assert fragment.lstrip().startswith("<tbody") and "<html" not in fragment
        seen += _rows(fragment)
        url = re.search(r'data-next-url="([^"]*)"', fragment).group(1).replace("&amp;", "&")
    assert seen == made


def test_bulk_status_changes_each_ticket_and_reports_refusals(team: t.Any,
                                                              browse: t.Any) -> None:
    first, second = _ticket(team), _ticket(team)
    closed = _ticket(team)
    tickets.update_ticket(closed.id, actor=SYSTEM, changes=tickets.TicketChanges(status="closed"))
    response = browse(team.anna).submit("/helpdesk/tickets/bulk", {
        "action": "status", "status": "pending", "next": "/helpdesk/tickets?status=open",
        "ticket_ids": [str(first.id), str(second.id), str(closed.id)]}, follow_redirects=True)
    assert response.request.path == "/helpdesk/tickets"
    assert "2 tickets changed." in response.text
    assert f"Ticket #{closed.id} was not changed" in response.text
    for ticket_id, status in ((first.id, "pending"), (second.id, "pending"),
                              (closed.id, "closed")):
        assert tickets.get_ticket(ticket_id, actor=SYSTEM).status == status
    history = tickets.list_events(first.id, actor=SYSTEM)
    assert history[-1].type == "ticket.status_changed" and history[-1].actor_name == "Anna Agent"


def test_bulk_assign_group_tags_and_merge(team: t.Any, browse: t.Any) -> None:
    a, b, c = _ticket(team), _ticket(team), _ticket(team)
    agent = browse(team.anna)
    ids = [str(a.id), str(b.id)]
    agent.submit("/helpdesk/tickets/bulk", {"action": "assign", "assignee_id": "me",
                                            "ticket_ids": ids})
    agent.submit("/helpdesk/tickets/bulk", {"action": "tags", "add_tags": "vip, refund",
                                            "ticket_ids": ids})
    agent.submit("/helpdesk/tickets/bulk", {"action": "tags", "remove_tags": "vip",
                                            "ticket_ids": [str(a.id)]})
    got_a, got_b = (tickets.get_ticket(x.id, actor=SYSTEM) for x in (a, b))
    assert got_a.assignee_id == got_b.assignee_id == team.anna.id
    assert [tag.name for tag in got_a.tags] == ["refund"]
    assert [tag.name for tag in got_b.tags] == ["refund", "vip"]
    browse(team.manager).submit("/helpdesk/tickets/bulk", {
        "action": "group", "group_id": str(team.billing.id), "ticket_ids": [str(b.id)]})
    assert tickets.get_ticket(b.id, actor=SYSTEM).group_id == team.billing.id
    response = agent.submit("/helpdesk/tickets/bulk", {
        "action": "merge", "into": f"#{c.id}", "ticket_ids": [str(a.id), str(c.id)]},
        follow_redirects=True)
    assert "1 ticket changed." in response.text
    assert tickets.get_ticket(a.id, actor=SYSTEM).merged_into_id == c.id


def test_bulk_cannot_touch_tickets_the_agent_cannot_see(team: t.Any, browse: t.Any) -> None:
    theirs = _ticket(team, group_id=team.billing.id)
    response = browse(team.anna).submit("/helpdesk/tickets/bulk", {
        "action": "status", "status": "resolved", "ticket_ids": [str(theirs.id)]},
        follow_redirects=True)
    assert f"Ticket #{theirs.id} was not changed" in response.text
    assert tickets.get_ticket(theirs.id, actor=SYSTEM).status == "open"


def test_bulk_needs_a_selection_a_csrf_token_and_a_safe_return_path(team: t.Any,
                                                                    browse: t.Any) -> None:
    agent = browse(team.anna)
    response = agent.submit("/helpdesk/tickets/bulk", {"action": "status", "status": "pending",
                                                       "next": "//evil.example/"})
    assert response.status_code == 302 and response.location == "/helpdesk/tickets"
    assert "Select at least one ticket." in agent.get("/helpdesk/tickets").text
    ticket = _ticket(team)
    refused = agent.post("/helpdesk/tickets/bulk", data={
        "action": "status", "status": "pending", "ticket_ids": [str(ticket.id)]})
    assert refused.status_code == 400
    assert tickets.get_ticket(ticket.id, actor=SYSTEM).status == "open"


def test_save_and_delete_personal_views_shared_only_for_managers(team: t.Any,
                                                                 browse: t.Any) -> None:
    _ticket(team, priority="urgent")
    _ticket(team)
    agent = browse(team.anna)
    page = agent.get("/helpdesk/tickets?priority=urgent").text
    assert "Save as a view" in page and 'name="shared"' not in page
    response = agent.submit("/helpdesk/views", {
        "name": "My urgent", "priority": "urgent", "sort": "priority", "shared": "1"},
        follow_redirects=True)
    assert "Only a manager may do this." in response.text
    response = agent.submit("/helpdesk/views", {"name": "My urgent", "priority": "urgent",
                                                "sort": "priority"}, follow_redirects=True)
    (view,) = views.list_views(actor=team.anna)
    assert view.owner_id == team.anna.id and view.filters == {"priority": ["urgent"]}
    assert len(_rows(response.text)) == 1 and "My urgent" in response.text
    assert view.name not in browse(team.boris).get("/helpdesk/tickets").text
    shared = browse(team.manager).submit("/helpdesk/views", {
        "name": "Team urgent", "priority": "urgent", "shared": "1"}, follow_redirects=True)
    assert "Team urgent" in browse(team.boris).get("/helpdesk/tickets").text
    assert shared.status_code == 200
    agent.submit(f"/helpdesk/views/{view.id}/delete", {})
    assert [v.name for v in views.list_views(actor=team.anna)] == ["Team urgent"]


def test_quick_search_opens_a_ticket_by_number_or_searches(team: t.Any, browse: t.Any) -> None:
    ticket = _ticket(team)
    agent = browse(team.anna)
    assert agent.get(f"/helpdesk/search?q=%23{ticket.id}").location == (
        f"/helpdesk/tickets/{ticket.id}")
    assert agent.get(f"/helpdesk/search?q={ticket.id}").location == (
        f"/helpdesk/tickets/{ticket.id}")
    assert agent.get("/helpdesk/search?q=printer").location == "/helpdesk/tickets?q=printer"


def test_inbox_is_translated_for_the_agents_language(team: t.Any, browse: t.Any) -> None:
    from flask_helpdesk.services import agents

    agents.update_agent(team.anna.id, actor=SYSTEM, language="ru")
    page = browse(team.anna).get("/helpdesk/tickets").text
    assert 'lang="ru"' in page and "Применить к выбранным" in page


def test_sidebar_counts_are_reused_for_the_configured_seconds(app: t.Any, team: t.Any) -> None:
    import time as clock

    from flask_helpdesk.extension import get_state

    _ticket(team, tags=["refund"])
    state = get_state()
    state.config = dataclasses.replace(state.config, count_cache_seconds=0.5)
    try:
        first = views.sidebar_counts(actor=team.anna, views=[])
        _ticket(team, tags=["refund"])
        assert views.sidebar_counts(actor=team.anna, views=[]) == first  # reused
        assert views.sidebar_counts(actor=team.boris, views=[]).groups == {}  # not shared
        clock.sleep(0.6)
        again = views.sidebar_counts(actor=team.anna, views=[])
        assert again.groups == {team.support.id: 2} and again.tags == [("refund", 2)]
    finally:
        state.config = dataclasses.replace(state.config, count_cache_seconds=0)


def test_view_counts_stop_above_the_configured_limit(app: t.Any, team: t.Any,
                                                     browse: t.Any) -> None:
    from flask_helpdesk.extension import get_state

    for i in range(5):
        _ticket(team, f"Open {i}")
    big = views.create_view(actor=team.manager, name="Everything open",
                            filters={"status": ["open"]}, shared=True)
    small = views.create_view(actor=team.manager, name="Refunds",
                              filters={"status": ["open"], "tags": ["refund"]}, shared=True)
    _ticket(team, "Refund please", tags=["refund"])
    state = get_state()
    state.config = dataclasses.replace(state.config, view_count_limit=4)
    try:
        page = browse(team.anna).get("/helpdesk/tickets").text
        assert f'data-hd-count="view-{big.id}">4+<' in page
        assert f'data-hd-count="view-{small.id}">1<' in page
        counts = browse(team.anna).get("/helpdesk/tickets/counts").get_json()["views"]
        assert counts[str(big.id)] == "4+" and counts[str(small.id)] == "1"
        # Exactly at the limit is not "more than".
        assert views.view_counts(actor=team.anna, views=[big], limit=6)[big.id] == 6
        assert views.view_counts(actor=team.anna, views=[big], limit=5)[big.id] == 6
        state.config = dataclasses.replace(state.config, view_count_limit=0)
        page = browse(team.anna).get("/helpdesk/tickets").text
        assert f'data-hd-count="view-{big.id}">6<' in page
    finally:
        state.config = dataclasses.replace(state.config, view_count_limit=1000)
