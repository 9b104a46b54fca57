"""Who may open the admin pages and post their forms; CSRF; the header link."""

from __future__ import annotations

import pytest

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import calendars
from flask_helpdesk.services import channels
from flask_helpdesk.services import quarantine
from flask_helpdesk.services import tickets

from .conftest import csrf_from


@pytest.fixture
def ids(team) -> dict[str, int]:
    """A ticket (visible to everyone), an account, a token, a tag, a quarantined message
    and a business calendar."""
    ticket = tickets.create_ticket(actor=team.admin, customer_id=team.customer.id,
                                   subject="Help", text="Hi", tags=["printer", "vip"])
    account = channels.create_account(actor=SYSTEM, channel="test", name="main",
                                      settings={"host": "h", "port": 1},
                                      secrets={"token": "s3cret"})
    item = quarantine.quarantine_message(channel="test", account="main", raw=b"junk",
                                         error="unparsable")
    from flask_helpdesk.services import agents
    from flask_helpdesk.services import tags

    token, _secret = agents.create_token(actor=SYSTEM, agent_id=team.anna.id, name="ci")
    calendar = calendars.create_calendar(actor=SYSTEM, name="Berlin", timezone="Europe/Berlin")
    return {"ticket": ticket.id, "account": account.id, "item": item.id, "token": token.id,
            "tag": tags.find_tag("printer").id, "vip": tags.find_tag("vip").id,
            "calendar": calendar.id}


def _pages(team, ids) -> list[str]:
    return [
        "/helpdesk/admin/", f"/helpdesk/admin/groups/{team.support.id}",
        f"/helpdesk/admin/agents/{team.anna.id}", "/helpdesk/admin/tags",
        "/helpdesk/admin/channels", "/helpdesk/admin/channels/new/test",
        f"/helpdesk/admin/channels/{ids['account']}", "/helpdesk/admin/quarantine",
        "/helpdesk/admin/calendars/new", f"/helpdesk/admin/calendars/{ids['calendar']}",
    ]


def _posts(team, ids) -> list[tuple[str, dict[str, str]]]:
    return [
        ("/helpdesk/admin/groups", {"name": "Sales"}),
        (f"/helpdesk/admin/groups/{team.support.id}", {"name": "Renamed"}),
        (f"/helpdesk/admin/groups/{team.billing.id}/delete", {}),
        ("/helpdesk/admin/agents", {"user_id": "99", "name": "New", "role": "admin"}),
        (f"/helpdesk/admin/agents/{team.anna.id}", {"name": "Anna", "role": "admin",
                                                    "active": "1"}),
        (f"/helpdesk/admin/agents/{team.anna.id}/deactivate", {}),
        (f"/helpdesk/admin/agents/{team.anna.id}/tokens", {"name": "mine"}),
        (f"/helpdesk/admin/tokens/{ids['token']}/revoke", {}),
        (f"/helpdesk/admin/tags/{ids['tag']}/rename", {"name": "printers"}),
        (f"/helpdesk/admin/tags/{ids['tag']}/merge", {"into": "vip"}),
        (f"/helpdesk/admin/tags/{ids['tag']}/delete", {}),
        ("/helpdesk/admin/channels/new/test", {"name": "x", "host": "h", "port": "1",
                                               "token": "t"}),
        (f"/helpdesk/admin/channels/{ids['account']}", {"name": "renamed", "host": "h",
                                                        "port": "1"}),
        (f"/helpdesk/admin/quarantine/{ids['item']}/retry", {}),
        (f"/helpdesk/admin/quarantine/{ids['item']}/discard", {}),
        ("/helpdesk/admin/calendars/new", {"name": "Lisbon", "timezone": "Europe/Lisbon"}),
        (f"/helpdesk/admin/calendars/{ids['calendar']}", {"name": "Renamed",
                                                         "timezone": "UTC"}),
        (f"/helpdesk/admin/calendars/{ids['calendar']}/delete", {}),
    ]


def test_admins_open_every_admin_page(team, ids, login) -> None:
    client = login(team.admin)
    for page in _pages(team, ids):
        response = client.get(page, follow_redirects=True)
        assert response.status_code == 200, page


@pytest.mark.parametrize("who", ["anna", "manager"])
def test_agents_and_managers_get_403_on_admin_pages(team, ids, login, who: str) -> None:
    client = login(getattr(team, who))
    for page in _pages(team, ids):
        assert client.get(page).status_code == 403, page


def test_managers_see_groups_and_agents_read_only(team, ids, login) -> None:
    client = login(team.manager)
    groups = client.get("/helpdesk/admin/groups")
    agents_page = client.get("/helpdesk/admin/agents")
    assert groups.status_code == agents_page.status_code == 200
    assert "Support" in groups.text and "Anna Agent" in agents_page.text
    for page in (groups.text, agents_page.text):
        main = page.split('<main class="hd-main"')[1]  # the header has the quick search
        assert "<form" not in main and "/helpdesk/admin/tags" not in page
    assert login(team.anna).get("/helpdesk/admin/groups").status_code == 403
    assert login(team.anna).get("/helpdesk/admin/agents").status_code == 403


@pytest.mark.parametrize("who", ["anna", "manager"])
def test_direct_posts_of_non_admins_are_refused(team, ids, login, who: str) -> None:
    client = login(getattr(team, who))
    token = csrf_from(client.get(f"/helpdesk/tickets/{ids['ticket']}").text)
    for action, data in _posts(team, ids):
        response = client.post(action, data={**data, "csrf_token": token})
        assert response.status_code == 403, action
    admin = login(team.admin)
    assert "Renamed" not in admin.get("/helpdesk/admin/groups").text
    assert "printer" in admin.get("/helpdesk/admin/tags").text
    assert channels.get_account(ids["account"], actor=SYSTEM).name == "main"


def test_posts_without_a_csrf_token_are_refused(team, ids, login) -> None:
    client = login(team.admin)
    for action, data in _posts(team, ids):
        assert client.post(action, data=data).status_code == 400, action
        bad = client.post(action, data={**data, "csrf_token": "forged"})
        assert bad.status_code == 400, action
    assert "Sales" not in client.get("/helpdesk/admin/groups").text


def test_the_admin_link_is_shown_to_admins_only(team, ids, login) -> None:
    page = f"/helpdesk/tickets/{ids['ticket']}"
    link = 'href="/helpdesk/admin/groups"'
    assert link in login(team.admin).get(page).text
    assert link not in login(team.manager).get(page).text
    assert link not in login(team.anna).get(page).text
