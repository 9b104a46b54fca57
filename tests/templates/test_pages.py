"""The template pages and the picker's JSON, as an agent and a manager use them."""

from __future__ import annotations

import io
import re

from flask import g

from flask_helpdesk.services import templates
from tests.templates.helpers import shared
from tests.templates.helpers import ticket

BASE = "/helpdesk/templates"


def _switch() -> None:
    """Forget the logged-in user: test requests share the fixture's app context and g."""
    g.pop("_helpdesk", None)
    g.pop("_login_user", None)
    g.pop("csrf_token", None)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _post(client, url: str, data: dict, page: str = f"{BASE}/new", **kw):
    token = _csrf(client.get(page).text) if "csrf_token" not in data else data["csrf_token"]
    return client.post(url, data={**data, "csrf_token": token}, **kw)


def test_list_groups_by_folder_with_badges_and_counts(team, login) -> None:
    shared("Refund", "Money back", folder="Billing")
    shared("Reset", "Use the link", folder="Tech")
    templates.create_template(actor=team.anna, name="Anna's own", body="Hi")
    page = login(team.anna).get(BASE)
    assert page.status_code == 200
    html = page.text
    order = ["<h2>No folder</h2>", "Anna&#39;s own", "<h2>Billing</h2>", "<strong>Refund",
             "<h2>Tech</h2>", "<strong>Reset"]
    assert [html.index(x) for x in order] == sorted(html.index(x) for x in order)
    assert html.count("hd-badge-shared") == 2 and html.count("hd-badge-personal") == 1
    assert "times used: 0" in html
    # The agent may edit only her own template; she may create personal ones.
    assert html.count("/edit") == 1 and "New template" in html
    assert 'href="/helpdesk/templates"' in html  # the nav link
    found = login(team.anna).get(f"{BASE}?q=MONEY").text
    assert "Refund" in found and "Reset" not in found


def test_agent_cannot_edit_a_shared_template_manager_can(team, login) -> None:
    row = shared("Refund", "Money back")
    anna = login(team.anna)
    assert anna.get(f"{BASE}/{row.id}/edit").status_code == 403
    refused = _post(anna, f"{BASE}/{row.id}/edit", {"name": "Hacked", "body": "x"})
    assert refused.status_code == 403
    assert _post(anna, f"{BASE}/{row.id}/delete", {}).status_code == 403
    assert templates.get_template(row.id, actor=team.anna).name == "Refund"
    _switch()
    max_ = login(team.manager)
    edit = max_.get(f"{BASE}/{row.id}/edit")
    assert edit.status_code == 200 and 'value="Refund"' in edit.text
    done = _post(max_, f"{BASE}/{row.id}/edit", {
        "name": "Refunds", "body": "Hello {{ customer.first_name }}", "folder": "Billing",
        "visibility": "shared", "action_status": "pending", "action_add_tags": "refund vip",
    }, page=f"{BASE}/{row.id}/edit")
    assert done.status_code == 302
    saved = templates.get_template(row.id, actor=team.manager)
    assert saved.name == "Refunds" and saved.shared
    assert saved.actions == {"status": "pending", "add_tags": ["refund", "vip"]}


def test_form_shows_errors_next_to_fields_and_keeps_input(team, login) -> None:
    anna = login(team.anna)
    form = anna.get(f"{BASE}/new")
    assert 'value="shared"' not in form.text  # agents cannot choose shared
    assert "{{ customer.first_name }}" in form.text  # the placeholder list
    bad = _post(anna, f"{BASE}/new", {"name": "Typo", "body": "Hi {{ customer.nmae }}",
                                      "folder": "Mine", "action_add_tags": "keep-me"},
                page=f"{BASE}/new")
    assert bad.status_code == 422
    html = bad.text
    assert 'id="error-body"' in html and "customer.nmae" in html
    assert html.index('name="body"') < html.index('id="error-body"')
    assert 'value="Typo"' in html and 'value="keep-me"' in html
    # A forged "shared" choice is refused by the service.
    forged = _post(anna, f"{BASE}/new", {"name": "x", "body": "y", "visibility": "shared"},
                   page=f"{BASE}/new")
    assert forged.status_code == 403
    assert templates.list_templates(actor=team.anna) == []


def test_create_with_a_file_then_remove_it(team, login) -> None:
    anna = login(team.anna)
    made = _post(anna, f"{BASE}/new", {
        "name": "Terms", "body": "See attached", "visibility": "personal",
        "attachments": (io.BytesIO(b"%PDF-1.4 terms"), "terms.pdf")},
        page=f"{BASE}/new", content_type="multipart/form-data")
    assert made.status_code == 302
    row = templates.list_templates(actor=team.anna)[0]
    assert [a.filename for a in row.attachments] == ["terms.pdf"]
    assert not row.shared and row.owner_agent_id == team.anna.id
    edit_url = f"{BASE}/{row.id}/edit"
    assert "remove terms.pdf" in anna.get(edit_url).text
    _post(anna, edit_url, {"name": "Terms", "body": "See attached",
                           "remove_attachments": str(row.attachments[0].id)}, page=edit_url)
    assert templates.get_template(row.id, actor=team.anna).attachments == []
    assert _post(anna, f"{BASE}/{row.id}/delete", {}).status_code == 302
    assert templates.list_templates(actor=team.anna) == []


def test_picker_json_is_filled_in_and_ranked_by_use(team, login) -> None:
    from flask_helpdesk.channels import InboundAttachment
    from flask_helpdesk.services import messages

    refund = shared("Refund", "Hello {{ customer.first_name }}, your money is back.",
                    folder="Billing", body_html="<p>Hello {{ customer.name }}</p>",
                    actions={"status": "pending", "add_tags": ["refund"]},
                    attachments=[InboundAttachment("policy.txt", "text/plain", b"30 days")])
    other = shared("Another", "Thanks, {{ agent.first_name }}")
    case = ticket(team)
    messages.reply(case.id, actor=team.manager, text="x", template_id=other.id)
    data = login(team.anna).get(f"/helpdesk/tickets/{case.id}/templates").json
    assert [i["name"] for i in data["items"]] == ["Another", "Refund"]
    item = data["items"][1]
    assert item["id"] == refund.id and item["folder"] == "Billing"
    assert item["text"] == "Hello Carla, your money is back."
    assert item["html"] == "<p>Hello Carla Customer</p>"
    assert item["attachments"] == ["policy.txt"]
    assert item["will_also"] == "Will also: set status pending, add tags refund"
    assert data["items"][0]["text"] == "Thanks, Anna"  # the agent who opens the picker
    found = login(team.anna).get(f"/helpdesk/tickets/{case.id}/templates?q=money").json
    assert [i["name"] for i in found["items"]] == ["Refund"]
    hidden = ticket(team, group_id=team.billing.id)
    refused = login(team.anna).get(f"/helpdesk/tickets/{hidden.id}/templates")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "permission_denied"


def test_picker_partial_renders_inside_a_form(team, app) -> None:
    from flask import render_template_string

    case = ticket(team)
    with app.test_request_context("/helpdesk/tickets/1"):
        html = render_template_string(
            '<form id="hd-reply-form"><textarea id="hd-reply-text" name="text"></textarea>'
            '{% include "helpdesk/_template_picker.html" %}</form>', ticket=case, values={})
    assert f'data-url="/helpdesk/tickets/{case.id}/templates"' in html
    assert 'name="template_id"' in html and 'role="listbox"' in html
    assert 'aria-keyshortcuts="Alt+T"' in html and "template-picker.js" in html


def test_ticket_history_names_the_template(team, login) -> None:
    from flask_helpdesk.services import messages

    row = shared("Refund", "Money back", actions={"add_tags": ["refund"]})
    case = ticket(team)
    messages.reply(case.id, actor=team.anna, text="Money back", template_id=row.id)
    html = login(team.anna).get(f"/helpdesk/tickets/{case.id}").text
    assert "used the template Refund" in html and "added tags refund" in html
