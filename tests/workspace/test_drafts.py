"""Drafts on the ticket page: the autosave endpoint and the boxes filled on load."""

from __future__ import annotations

import html
import re
import typing as t

from flask_helpdesk.extension import get_state
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import drafts
from flask_helpdesk.services import messages
from flask_helpdesk.services import tickets


def _ticket(team: t.Any) -> t.Any:
    return tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id,
                                 subject="Broken invoice", text="It is wrong",
                                 group_id=team.support.id)


def _hidden(page: str, form: str, name: str) -> str:
    block = re.search(rf'<form id="{form}".*?</form>', page, re.S)
    assert block, f"no form {form}"
    match = re.search(rf'name="{name}" value="([^"]*)"', block.group(0))
    assert match, f"no {name} in form {form}"
    return html.unescape(match.group(1))


def test_autosave_then_reload_fills_the_boxes(team: t.Any, browse: t.Any) -> None:
    ticket = _ticket(team)
    url = f"/helpdesk/tickets/{ticket.id}"
    anna = browse(team.anna)
    seen = tickets.list_events(ticket.id, actor=SYSTEM)[-1].id
    saved = anna.submit(f"{url}/drafts/reply", {
        "text": "We refund the March invoice", "status": "pending",
        "html": "<p>We refund the <b>March</b> invoice</p>", "seen_event_id": str(seen),
    }, page=url)
    assert saved.status_code == 200 and saved.json == {"saved": True}
    assert anna.submit(f"{url}/drafts/note", {"text": "Ask accounting <first>"},
                       page=url).json == {"saved": True}

    page = anna.get(url).text
    assert "We refund the March invoice</textarea>" in page
    assert _hidden(page, "reply", "html") == "<p>We refund the <b>March</b> invoice</p>"
    assert '<option value="pending" selected>' in page
    assert "Ask accounting &lt;first&gt;</textarea>" in page  # escaped, never markup
    assert page.count("Draft restored (saved ") == 2
    assert "Files are not kept in drafts" in page
    # A colleague on the same ticket sees empty boxes.
    other = browse(team.manager).get(url).text
    assert "We refund" not in other and "Ask accounting" not in other
    assert "Draft restored" not in other


def test_the_endpoint_needs_the_csrf_token_and_reports_errors_as_json(
        team: t.Any, browse: t.Any) -> None:
    ticket = _ticket(team)
    url = f"/helpdesk/tickets/{ticket.id}"
    anna = browse(team.anna)
    assert anna.post(f"{url}/drafts/reply", data={"text": "x"}).status_code == 400
    limit = get_state().config.draft_max_chars
    refused = anna.submit(f"{url}/drafts/reply", {"text": "x" * (limit + 1)}, page=url)
    assert refused.status_code == 422
    assert refused.json["saved"] is False and str(limit) in refused.json["error"]
    assert anna.submit(f"{url}/drafts/email", {"text": "x"}, page=url).status_code == 404
    boris = browse(team.boris)
    assert boris.submit(f"{url}/drafts/reply", {"text": "x"}).status_code == 403
    assert drafts.get_draft(ticket.id, actor=team.anna, kind="reply") is None


def test_sending_empties_the_box_and_a_conflict_keeps_the_draft(
        team: t.Any, browse: t.Any) -> None:
    ticket = _ticket(team)
    url = f"/helpdesk/tickets/{ticket.id}"
    anna = browse(team.anna)
    seen = tickets.list_events(ticket.id, actor=SYSTEM)[-1].id
    anna.submit(f"{url}/drafts/reply", {"text": "Refund made", "seen_event_id": str(seen)},
                page=url)
    colleague = messages.reply(ticket.id, actor=team.manager, text="Max was first")

    # The reload shows what arrived after the draft, and keeps the draft's seen event.
    page = anna.get(url).text
    assert f'id="message-{colleague.id}"' in page
    assert re.search(rf'class="hd-msg hd-msg-reply hd-msg-new" id="message-{colleague.id}"',
                     page)
    assert _hidden(page, "reply", "seen_event_id") == str(seen)

    refused = anna.submit(f"{url}/reply", {"text": "Refund made", "seen_event_id": str(seen)},
                          page=url)
    assert refused.status_code == 409
    assert "data-hd-draft-dirty" in refused.text  # the page saves what was typed at once
    assert drafts.get_draft(ticket.id, actor=team.anna, kind="reply").text == "Refund made"

    sent = anna.submit(f"{url}/reply", {"text": "Refund made", "seen_event_id": str(seen),
                                        "confirm": "1"}, page=url)
    assert sent.status_code == 302
    assert drafts.get_draft(ticket.id, actor=team.anna, kind="reply") is None
    page = anna.get(url).text
    assert "Draft restored" not in page and "Refund made</textarea>" not in page
