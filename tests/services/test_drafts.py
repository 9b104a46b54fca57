"""Drafts: kept per ticket, agent and kind, private, gone once sent, kept when refused."""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa

from flask_helpdesk import Conflict
from flask_helpdesk import NotFound
from flask_helpdesk import PermissionDenied
from flask_helpdesk import ValidationError
from flask_helpdesk.channels import InboundAttachment
from flask_helpdesk.extension import get_state
from flask_helpdesk.models import TicketEvent
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import drafts
from flask_helpdesk.services import messages
from flask_helpdesk.services import templates
from flask_helpdesk.services import tickets


@pytest.fixture
def ticket_id(team: t.Any) -> int:
    return tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id, subject="Refund",
                                 text="Where is my money?", group_id=team.support.id).id


def _last_event(ticket_id: int) -> int:
    return int(get_state().db.session.scalar(
        sa.select(sa.func.max(TicketEvent.id)).where(TicketEvent.ticket_id == ticket_id)))


def test_a_draft_is_kept_replaced_and_read_back_only_by_its_author(
        team: t.Any, ticket_id: int) -> None:
    seen = _last_event(ticket_id)
    drafts.save_draft(ticket_id, actor=team.anna, kind="reply", text="Dear Carla,",
                      html="<p>Dear Carla,</p>", status="pending", seen_event_id=seen)
    drafts.save_draft(ticket_id, actor=team.anna, kind="reply", text="Dear Carla, refunded.",
                      html="<p>Dear Carla, <b>refunded</b>.</p>", status="resolved",
                      seen_event_id=seen)
    drafts.save_draft(ticket_id, actor=team.anna, kind="note", text="Check the bank first")
    mine = drafts.get_draft(ticket_id, actor=team.anna, kind="reply")
    assert mine is not None
    assert (mine.text, mine.html, mine.status, mine.seen_event_id) == (
        "Dear Carla, refunded.", "<p>Dear Carla, <b>refunded</b>.</p>", "resolved", seen)
    assert {k: d.text for k, d in drafts.get_drafts(ticket_id, actor=team.anna).items()} == {
        "reply": "Dear Carla, refunded.", "note": "Check the bank first"}
    # A colleague who sees the ticket has no draft of their own, and cannot read Anna's.
    assert drafts.get_draft(ticket_id, actor=team.manager, kind="reply") is None
    assert drafts.get_drafts(ticket_id, actor=team.manager) == {}
    drafts.discard_draft(ticket_id, actor=team.manager, kind="reply")  # theirs: nothing
    assert drafts.get_draft(ticket_id, actor=team.anna, kind="reply") is not None


def test_drafts_need_permission_to_see_the_ticket(team: t.Any, ticket_id: int) -> None:
    with pytest.raises(PermissionDenied):
        drafts.save_draft(ticket_id, actor=team.boris, kind="reply", text="Hi")
    with pytest.raises(PermissionDenied):
        drafts.get_draft(ticket_id, actor=team.boris, kind="reply")
    with pytest.raises(PermissionDenied):
        drafts.discard_draft(ticket_id, actor=team.boris, kind="note")
    with pytest.raises(PermissionDenied):
        drafts.save_draft(ticket_id, actor=SYSTEM, kind="reply", text="Hi")
    with pytest.raises(NotFound):
        drafts.save_draft(ticket_id + 100, actor=team.anna, kind="reply", text="Hi")


def test_bad_drafts_are_refused_with_clear_errors(app_factory: t.Any, team: t.Any,
                                                  ticket_id: int) -> None:
    with pytest.raises(ValidationError) as excinfo:
        drafts.save_draft(ticket_id, actor=team.anna, kind="email", text="Hi")
    assert excinfo.value.field == "kind"
    with pytest.raises(ValidationError):
        drafts.save_draft(ticket_id, actor=team.anna, kind="note", text="Hi", status="pending")
    with pytest.raises(ValidationError):
        drafts.save_draft(ticket_id, actor=team.anna, kind="reply", text="Hi", status="done")
    with pytest.raises(NotFound):
        drafts.save_draft(ticket_id, actor=team.anna, kind="reply", text="Hi", template_id=999)
    limit = get_state().config.draft_max_chars
    with pytest.raises(ValidationError) as excinfo:
        drafts.save_draft(ticket_id, actor=team.anna, kind="reply", text="x" * (limit // 2),
                          html="<p>" + "x" * (limit // 2) + "</p>")
    assert "too long" in excinfo.value.message and str(limit) in excinfo.value.message
    assert drafts.get_draft(ticket_id, actor=team.anna, kind="reply") is None


def test_the_size_limit_is_a_config_key(app_factory: t.Any, team: t.Any) -> None:
    app = app_factory(config={"HELPDESK_DRAFT_MAX_CHARS": 10})
    with app.app_context():
        from flask_helpdesk.services import agents
        from flask_helpdesk.services import customers

        group = agents.create_group(actor=SYSTEM, name="Small")
        agent = agents.create_agent(actor=SYSTEM, name="Sam", user_id="s", groups=[group.id])
        customer = customers.create_customer(actor=SYSTEM, name="C")
        ticket = tickets.create_ticket(actor=SYSTEM, customer_id=customer.id, subject="S",
                                       text="T", group_id=group.id)
        drafts.save_draft(ticket.id, actor=agent, kind="note", text="0123456789")
        with pytest.raises(ValidationError, match="at most 10"):
            drafts.save_draft(ticket.id, actor=agent, kind="note", text="0123456789!")


def test_emptying_the_box_discards_the_draft(team: t.Any, ticket_id: int) -> None:
    drafts.save_draft(ticket_id, actor=team.anna, kind="reply", text="Hello")
    assert drafts.save_draft(ticket_id, actor=team.anna, kind="reply", text="  ",
                             html="<p><br></p>") is None
    assert drafts.get_draft(ticket_id, actor=team.anna, kind="reply") is None
    kept = drafts.save_draft(ticket_id, actor=team.anna, kind="reply", html="<p>Only HTML</p>")
    assert kept is not None and kept.html == "<p>Only HTML</p>"


def test_drafts_record_no_history_and_dispatch_nothing(team: t.Any, ticket_id: int,
                                                       recorder: t.Any) -> None:
    before = _last_event(ticket_id)
    updated = tickets.get_ticket(ticket_id, actor=team.anna).updated_at
    recorder.clear()
    drafts.save_draft(ticket_id, actor=team.anna, kind="reply", text="Private thoughts")
    drafts.save_draft(ticket_id, actor=team.anna, kind="note", text="More of them")
    drafts.discard_draft(ticket_id, actor=team.anna, kind="note")
    assert recorder.events == []
    assert _last_event(ticket_id) == before
    assert tickets.get_ticket(ticket_id, actor=team.anna).updated_at == updated
    assert all("Private" not in m.text for m in messages.public_messages(ticket_id))


def test_sending_deletes_the_authors_draft_in_the_same_step(team: t.Any, ticket_id: int) -> None:
    seen = _last_event(ticket_id)
    for agent in (team.anna, team.manager):
        drafts.save_draft(ticket_id, actor=agent, kind="reply", text="Refunded.",
                          seen_event_id=seen)
    drafts.save_draft(ticket_id, actor=team.anna, kind="note", text="Bank said yes")
    messages.reply(ticket_id, actor=team.anna, text="Refunded.", seen_event_id=seen)
    assert drafts.get_draft(ticket_id, actor=team.anna, kind="reply") is None
    # The note draft, and the colleague's reply draft, are not what was sent.
    assert drafts.get_draft(ticket_id, actor=team.anna, kind="note") is not None
    assert drafts.get_draft(ticket_id, actor=team.manager, kind="reply") is not None
    messages.add_note(ticket_id, actor=team.anna, text="Bank said yes")
    assert drafts.get_draft(ticket_id, actor=team.anna, kind="note") is None


def test_a_refused_send_keeps_the_draft(team: t.Any, ticket_id: int) -> None:
    seen = _last_event(ticket_id)
    drafts.save_draft(ticket_id, actor=team.manager, kind="reply", text="Max's answer",
                      seen_event_id=seen)
    messages.reply(ticket_id, actor=team.anna, text="Anna was faster.", seen_event_id=seen)
    with pytest.raises(Conflict):
        messages.reply(ticket_id, actor=team.manager, text="Max's answer", seen_event_id=seen)
    assert drafts.get_draft(ticket_id, actor=team.manager, kind="reply").text == "Max's answer"
    big = InboundAttachment("big.bin", "application/octet-stream",
                            b"x" * (get_state().config.max_attachment_size + 1))
    with pytest.raises(ValidationError):
        messages.reply(ticket_id, actor=team.manager, text="Max's answer", confirm=True,
                       attachments=[big])
    assert drafts.get_draft(ticket_id, actor=team.manager, kind="reply") is not None
    messages.reply(ticket_id, actor=team.manager, text="Max's answer", confirm=True,
                   seen_event_id=seen)
    assert drafts.get_draft(ticket_id, actor=team.manager, kind="reply") is None


def test_a_late_autosave_of_a_sent_reply_does_not_bring_it_back(team: t.Any,
                                                                ticket_id: int) -> None:
    seen = _last_event(ticket_id)
    drafts.save_draft(ticket_id, actor=team.anna, kind="reply", text="Refun",
                      seen_event_id=seen)
    messages.reply(ticket_id, actor=team.anna, text="Refunded.", seen_event_id=seen)
    with pytest.raises(Conflict):  # the page that sent it saves once more, too late
        drafts.save_draft(ticket_id, actor=team.anna, kind="reply", text="Refunded.",
                          seen_event_id=seen)
    assert drafts.get_draft(ticket_id, actor=team.anna, kind="reply") is None
    # The note draft is another kind; a page loaded after the reply may save again.
    drafts.save_draft(ticket_id, actor=team.anna, kind="note", text="x", seen_event_id=seen)
    fresh = _last_event(ticket_id)
    assert drafts.save_draft(ticket_id, actor=team.anna, kind="reply", text="P.S.",
                             seen_event_id=fresh) is not None


def test_a_deleted_template_is_forgotten_by_drafts(team: t.Any, ticket_id: int) -> None:
    template = templates.create_template(actor=team.anna, name="Refund", body="Refunded.")
    drafts.save_draft(ticket_id, actor=team.anna, kind="reply", text="Refunded.",
                      template_id=template.id)
    assert drafts.get_draft(ticket_id, actor=team.anna, kind="reply").template_id == template.id
    templates.delete_template(template.id, actor=team.anna)
    draft = drafts.get_draft(ticket_id, actor=team.anna, kind="reply")
    assert draft is not None and draft.template_id is None
