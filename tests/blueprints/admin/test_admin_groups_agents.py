"""The group and agent admin pages, driven through their forms."""

from __future__ import annotations

import re

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels
from flask_helpdesk.services import tickets

from .conftest import submit

GROUPS = "/helpdesk/admin/groups"
AGENTS = "/helpdesk/admin/agents"


def _row(html: str, name: str) -> str:
    match = re.search(rf'<tr class="hd-group-row">\s*<td>(?:<a [^>]*>)?{re.escape(name)}'
                      r".*?</tr>", html, re.S)
    assert match, f"no row for {name}"
    return match.group(0)


def test_group_list_shows_members_and_open_tickets(team, login) -> None:
    for status in ("open", "resolved"):
        ticket = tickets.create_ticket(actor=team.admin, customer_id=team.customer.id,
                                       subject="Help", text="Hi", group_id=team.support.id)
        if status != "open":
            tickets.update_ticket(ticket.id, actor=team.admin,
                                  changes=TicketChanges(status=status))
    row = _row(login(team.admin).get(GROUPS).text, "Support")
    assert '<td class="hd-members">2</td>' in row
    assert '<td class="hd-unsolved">1</td>' in row


def test_create_a_group_and_see_it_listed(team, login) -> None:
    client = login(team.admin)
    response = submit(client, GROUPS, GROUPS, {"name": "Sales", "description": "New deals"})
    assert response.status_code == 302
    page = client.get(GROUPS).text
    assert "Group created." in page and "New deals" in _row(page, "Sales")


def test_a_taken_group_name_is_shown_next_to_the_field_and_kept(team, login) -> None:
    client = login(team.admin)
    response = submit(client, GROUPS, GROUPS, {"name": "support", "description": "Typed"})
    assert response.status_code == 409
    form = response.text.split('id="create"')[1]
    assert "A group named support already exists." in form.split('id="create-description"')[0]
    assert 'value="support"' in form and ">Typed</textarea>" in form
    assert 'aria-invalid="true"' in form


def test_rename_and_describe_a_group(team, login) -> None:
    client = login(team.admin)
    page = f"{GROUPS}/{team.billing.id}"
    assert submit(client, page, page, {"name": "Invoices", "description": "Money"}
                  ).status_code == 302
    assert agents.get_group(team.billing.id).name == "Invoices"
    bad = submit(client, page, page, {"name": "", "description": "kept"})
    assert bad.status_code == 422 and ">kept</textarea>" in bad.text
    assert "name must not be empty." in bad.text


def test_choose_what_a_reply_to_a_resolved_ticket_does(team, login) -> None:
    client = login(team.admin)
    created = submit(client, GROUPS, GROUPS, {"name": "Sales", "resolved_reply": "follow_up"})
    assert created.status_code == 302
    sales = agents.get_group_by_name("Sales")
    assert sales is not None and sales.resolved_reply == "follow_up"
    page = f"{GROUPS}/{sales.id}"
    form = client.get(page).text.split('id="edit"')[1].split("</form>")[0]
    assert '<option value="follow_up" selected>' in form
    assert submit(client, page, page, {"name": "Sales", "description": "",
                                       "resolved_reply": "reopen"}).status_code == 302
    assert agents.get_group(sales.id).resolved_reply == "reopen"
    bad = submit(client, page, page, {"name": "Sales", "resolved_reply": "ignore"})
    assert bad.status_code == 422 and "resolved_reply must be one of" in bad.text
    # A form without the field (an older template) leaves the setting alone.
    assert submit(client, page, page, {"name": "Sales"}).status_code == 302
    assert agents.get_group(sales.id).resolved_reply == "reopen"


def test_delete_is_refused_with_a_clear_message_then_moves(team, login) -> None:
    ticket = tickets.create_ticket(actor=team.admin, customer_id=team.customer.id,
                                   subject="Help", text="Hi", group_id=team.billing.id)
    channels.create_account(actor=SYSTEM, channel="test", name="main",
                            group_id=team.billing.id)
    client = login(team.admin)
    page = f"{GROUPS}/{team.billing.id}"
    refused = submit(client, page, f"{page}/delete", {"move_to": ""})
    assert refused.status_code == 409
    assert "Billing still has 1 tickets and 1 channel accounts" in refused.text
    assert f'<option value="{team.support.id}">Support</option>' in refused.text  # offered
    moved = submit(client, page, f"{page}/delete", {"move_to": str(team.support.id)})
    assert moved.status_code == 302
    assert tickets.get_ticket(ticket.id, actor=SYSTEM).group_id == team.support.id
    assert "Billing" not in client.get(GROUPS).text


def test_group_and_agent_names_are_escaped(team, login) -> None:
    agents.create_group(actor=SYSTEM, name="<script>alert(1)</script>")
    agents.update_agent(team.anna.id, actor=SYSTEM, name="<b>Anna</b>")
    client = login(team.admin)
    for page in (GROUPS, AGENTS):
        html = client.get(page).text
        assert "<script>alert(1)</script>" not in html and "<b>Anna</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(GROUPS).text
    assert "&lt;b&gt;Anna&lt;/b&gt;" in client.get(AGENTS).text


def test_agent_list_shows_role_groups_language_and_state(team, login) -> None:
    agents.update_agent(team.boris.id, actor=SYSTEM, language="pt_BR", active=False)
    html = login(team.admin).get(AGENTS).text
    row = re.search(r'<tr class="hd-agent-row hd-inactive">.*?</tr>', html, re.S).group(0)
    assert "Boris Billing" in row and "boris@example.com" in row and "Billing" in row
    assert "Português (Brasil)" in row and "deactivated" in row
    assert "administrator" in html and "manager" in html


def test_create_an_agent_for_a_host_user(team, login) -> None:
    client = login(team.admin)
    response = submit(client, AGENTS, AGENTS, {
        "user_id": "42", "name": "Nina New", "email": "Nina@Example.com", "role": "manager",
        "language": "ru", "groups": [str(team.support.id), str(team.billing.id)]})
    assert response.status_code == 302
    nina = agents.get_by_user_id("42")
    assert (nina.name, nina.email, nina.role, nina.language) == (
        "Nina New", "nina@example.com", "manager", "ru")
    assert sorted(g.name for g in nina.groups) == ["Billing", "Support"]
    assert login(nina).get("/helpdesk/tickets").status_code == 200


def test_agent_form_errors_keep_what_was_typed(team, login) -> None:
    client = login(team.admin)
    response = submit(client, AGENTS, AGENTS, {
        "user_id": "43", "name": "Dup", "email": "anna@example.com", "role": "admin",
        "groups": [str(team.billing.id)]})
    assert response.status_code == 409
    form = response.text.split('id="create"')[1]
    email_part = form.split('id="create-email"')[1].split("<label")[0]
    assert "Another agent has the email anna@example.com." in email_part
    assert 'value="43"' in form and 'value="Dup"' in form
    assert '<option value="admin" selected>' in form
    assert f'value="{team.billing.id}" checked' in form
    assert agents.get_by_user_id("43") is None
    missing = submit(client, AGENTS, AGENTS, {"user_id": "", "name": "X", "role": "agent"})
    assert missing.status_code == 422 and "user_id must not be empty." in missing.text


def test_edit_role_groups_language_and_deactivate(team, login) -> None:
    client = login(team.admin)
    page = f"{AGENTS}/{team.anna.id}"
    response = submit(client, page, page, {
        "name": "Anna A.", "email": "anna@example.com", "role": "manager", "language": "ru",
        "groups": [str(team.billing.id)], "active": "1"})
    assert response.status_code == 302
    anna = agents.get_agent(team.anna.id)
    assert (anna.name, anna.role, anna.language, [g.name for g in anna.groups]) == (
        "Anna A.", "manager", "ru", ["Billing"])
    assert submit(client, page, f"{page}/deactivate").status_code == 302
    assert agents.get_agent(team.anna.id).active is False
    assert login(team.anna).get("/helpdesk/tickets").status_code == 403


def test_the_last_admin_cannot_demote_or_deactivate_themself(team, login) -> None:
    client = login(team.admin)
    page = f"{AGENTS}/{team.admin.id}"
    demote = submit(client, page, page, {"name": "Ada Admin", "email": "ada@example.com",
                                         "role": "agent", "active": "1"})
    assert demote.status_code == 409
    role_part = demote.text.split('id="edit-role"')[1].split("<label")[0]
    assert "Ada Admin is the last active administrator" in role_part
    leave = submit(client, page, f"{page}/deactivate")
    assert leave.status_code == 409 and "last active administrator" in leave.text
    admin = agents.get_agent(team.admin.id)
    assert (admin.role, admin.active) == ("admin", True)


def test_api_tokens_secret_shown_once_then_revoked(team, login) -> None:
    client = login(team.admin)
    page = f"{AGENTS}/{team.anna.id}"
    created = submit(client, page, f"{page}/tokens", {"name": "laptop"})
    assert created.status_code == 200
    secret = re.search(r'<code class="hd-token-secret">(hdk_[^<]+)</code>', created.text)
    assert secret and agents.authenticate_token(secret.group(1)).id == team.anna.id
    again = client.get(page).text
    assert secret.group(1) not in again and "laptop" in again
    token = agents.list_tokens(actor=SYSTEM, agent_id=team.anna.id)[0]
    assert submit(client, page, f"/helpdesk/admin/tokens/{token.id}/revoke").status_code == 302
    assert agents.authenticate_token(secret.group(1)) is None
    assert "revoked" in client.get(page).text
    nameless = submit(client, page, f"{page}/tokens", {"name": ""})
    assert nameless.status_code == 422 and "name must not be empty." in nameless.text
