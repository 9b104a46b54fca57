"""Sending a reply made from a template: actions, files, usage, history, one transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlalchemy import select

from flask_helpdesk.channels import InboundAttachment
from flask_helpdesk.errors import NotFound
from flask_helpdesk.errors import ValidationError
from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Message
from flask_helpdesk.models import TemplateUsage
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import messages
from flask_helpdesk.services import rules
from flask_helpdesk.services import templates
from flask_helpdesk.services import tickets
from tests.rules.helpers import rule
from tests.templates.helpers import shared
from tests.templates.helpers import ticket

PDF = b"%PDF-1.4 refund policy"


def _count(model) -> int:
    return int(get_state().db.session.scalar(select(func.count()).select_from(model)))


def test_reply_with_template_applies_actions_files_and_counts_use(team, recorder) -> None:
    row = shared(actions={"status": "pending", "add_tags": ["refund"], "priority": "high",
                          "assignee_id": team.anna.id},
                 attachments=[InboundAttachment("policy.pdf", "application/pdf", PDF)])
    case = ticket(team, tags=["new"])
    recorder.clear()
    sent = messages.reply(case.id, actor=team.anna, text="Edited: your refund is on its way",
                          template_id=row.id)
    after = tickets.get_ticket(case.id, actor=SYSTEM)
    assert after.status == "pending"
    assert [tag.name for tag in after.tags] == ["new", "refund"]
    assert after.priority_name == "high" and after.assignee_id == team.anna.id
    # The text is what the agent sent; the files are copies of the template's.
    reply = messages.list_messages(case.id, actor=team.anna, after=sent.id - 1, limit=1)[0]
    assert reply.text == "Edited: your refund is on its way"
    assert [(a.filename, a.content_type) for a in reply.attachments] == [
        ("policy.pdf", "application/pdf")]
    copy = reply.attachments[0]
    fresh = templates.get_template(row.id, actor=team.anna)
    assert copy.storage_key != fresh.attachments[0].storage_key
    assert get_state().storage.open(copy.storage_key) == PDF
    # Counted, and the history names the template.
    assert fresh.usage_count == 1 and fresh.last_used_at is not None
    usage = get_state().db.session.scalars(select(TemplateUsage)).one()
    assert (usage.template_id, usage.agent_id, usage.ticket_id, usage.message_id) == (
        row.id, team.anna.id, case.id, sent.id)
    assert recorder.types == ["message.replied", "template.applied", "ticket.assigned",
                              "ticket.tags_changed", "ticket.updated",
                              "ticket.status_changed"]
    applied = recorder.events[1]
    assert dict(applied.data) == {"template_id": row.id, "name": "Refund",
                                  "message_id": sent.id}
    assert {e.actor_name for e in recorder.events} == {"Anna Agent"}


def test_the_explicit_status_wins_over_the_template(team) -> None:
    row = shared(actions={"status": "pending"})
    case = ticket(team)
    messages.reply(case.id, actor=team.anna, text="Done", template_id=row.id,
                   status="resolved")
    assert tickets.get_ticket(case.id, actor=SYSTEM).status == "resolved"


def test_a_failing_reply_changes_nothing(team, recorder) -> None:
    big = get_state().config.max_attachment_size + 1
    row = shared(actions={"status": "pending", "add_tags": ["refund"]},
                 attachments=[InboundAttachment("policy.pdf", "application/pdf", PDF)])
    case = ticket(team)
    recorder.clear()
    with pytest.raises(ValidationError, match="too large"):
        messages.reply(case.id, actor=team.anna, text="Hi", template_id=row.id,
                       attachments=[InboundAttachment("huge.bin", "application/octet-stream",
                                                      b"x" * big)])
    # An impossible status change late in the transaction undoes everything too.
    tickets.update_ticket(case.id, actor=SYSTEM, changes=TicketChanges(status="spam"))
    recorder.clear()
    with pytest.raises(ValidationError, match="cannot go from spam to pending"):
        messages.reply(case.id, actor=team.anna, text="Hi", template_id=row.id)
    after = tickets.get_ticket(case.id, actor=SYSTEM)
    assert after.status == "spam" and after.tags == []
    assert templates.get_template(row.id, actor=SYSTEM).usage_count == 0
    assert _count(TemplateUsage) == 0
    assert _count(Message) == 1  # only the customer's first message
    assert recorder.events == []


def test_another_agents_personal_template_cannot_be_used(team) -> None:
    own = templates.create_template(actor=team.boris, name="Boris", body="Hi",
                                    actions={"add_tags": ["boris"]})
    case = ticket(team)
    with pytest.raises(NotFound):
        messages.reply(case.id, actor=team.anna, text="Hi", template_id=own.id)
    assert tickets.get_ticket(case.id, actor=SYSTEM).tags == []


def test_usage_is_counted_per_template_and_agent(team) -> None:
    one, two = shared("One", "1"), shared("Two", "2")
    case = ticket(team)
    for agent, row in ((team.anna, one), (team.anna, one), (team.manager, one),
                       (team.manager, two)):
        messages.reply(case.id, actor=agent, text="x", template_id=row.id)
    s = get_state().db.session
    per = dict(s.execute(select(TemplateUsage.template_id, func.count())
                         .group_by(TemplateUsage.template_id)).all())
    assert per == {one.id: 3, two.id: 1}
    by_agent = dict(s.execute(select(TemplateUsage.agent_id, func.count())
                              .where(TemplateUsage.template_id == one.id)
                              .group_by(TemplateUsage.agent_id)).all())
    assert by_agent == {team.anna.id: 2, team.manager.id: 1}
    assert [t.name for t in templates.list_templates(actor=team.anna)] == ["One", "Two"]


# ------------------------------------------------------------ the rule action


def test_rule_sends_the_template_through_the_outbox(team) -> None:
    row = shared("Got it", "Hello {{ customer.first_name }}, ticket #{{ ticket.id }} is in.",
                 actions={"add_tags": ["acknowledged"], "status": "pending"},
                 attachments=[InboundAttachment("faq.pdf", "application/pdf", PDF)])
    rule(name="Acknowledge", enabled=True, when={"type": "event", "on": "ticket.created"},
         actions=[{"type": "send_template", "template_id": row.id}])
    case = ticket(team)
    after = tickets.get_ticket(case.id, actor=SYSTEM)
    assert after.status == "pending" and [t.name for t in after.tags] == ["acknowledged"]
    sent = [m for m in messages.list_messages(case.id, actor=SYSTEM) if m.kind == "reply"]
    assert len(sent) == 1
    assert sent[0].text == f"Hello Carla, ticket #{case.id} is in."
    assert sent[0].meta.get("automatic") is True
    assert sent[0].delivery_state in ("queued", "sending", "sent", "failed")
    assert [a.filename for a in sent[0].attachments] == ["faq.pdf"]
    history = tickets.list_events(case.id, actor=SYSTEM)
    applied = [e for e in history if e.type == "template.applied"]
    assert [(e.actor_name, e.data["name"]) for e in applied] == [("Rule: Acknowledge", "Got it")]
    usage = get_state().db.session.scalars(select(TemplateUsage)).one()
    assert usage.agent_id is None and usage.ticket_id == case.id


@pytest.mark.parametrize("which", ["missing", "personal"])
def test_rule_refuses_missing_or_personal_templates(team, which) -> None:
    template_id = 999 if which == "missing" else templates.create_template(
        actor=team.anna, name="Mine", body="Hi").id
    with pytest.raises(ValidationError, match="does not exist" if which == "missing"
                       else "only send shared templates"):
        rule(actions=[{"type": "send_template", "template_id": template_id}])
    with pytest.raises(ValidationError, match="does not take"):
        rule(actions=[{"type": "send_template", "template_id": 1, "text": "x"}])
    assert rules.list_rules(actor=SYSTEM) == []
