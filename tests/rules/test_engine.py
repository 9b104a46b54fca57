"""Event rules, actions and the loop guard, as an agent sees them in the history."""

from __future__ import annotations

import pytest

from flask_helpdesk.models import Message
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import RuleChanges
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import messages
from flask_helpdesk.services import rules
from flask_helpdesk.services import tickets
from tests.rules.helpers import rule
from tests.rules.helpers import ticket


def _get(ticket_id: int):
    return tickets.get_ticket(ticket_id, actor=SYSTEM)


def test_created_rule_tags_refund_tickets_naming_the_rule(team, recorder) -> None:
    rule(name="Refunds", enabled=True, when={"type": "event", "on": "ticket.created"},
         conditions={"any": [{"field": "subject", "op": "contains_any",
                              "value": "refund||return money"}]},
         actions=[{"type": "add_tags", "tags": ["refund"]},
                  {"type": "set_priority", "priority": "high"}])
    hit = ticket(team, "Please RETURN MONEY")
    miss = ticket(team, "Refunded already, thanks")
    assert [tg.name for tg in _get(hit.id).tags] == ["refund"]
    assert _get(hit.id).priority_name == "high"
    assert _get(miss.id).tags == []
    history = tickets.list_events(hit.id, actor=SYSTEM)
    changed = [e for e in history if e.type in ("ticket.tags_changed", "ticket.updated")]
    assert {e.actor_name for e in changed} == {"Rule: Refunds"}
    assert {e.actor_kind for e in changed} == {"rule"}


def test_disabled_rules_do_nothing(team) -> None:
    rule(when={"type": "event", "on": "ticket.created"})
    assert _get(ticket(team).id).tags == []


@pytest.mark.parametrize(("when", "change", "fires"), [
    ({"on": "field.changed", "field": "status", "to": "pending"},
     TicketChanges(status="pending"), True),
    ({"on": "field.changed", "field": "status", "from": "pending"},
     TicketChanges(status="pending"), False),
    ({"on": "field.changed", "field": "priority", "to": "urgent"},
     TicketChanges(priority="urgent"), True),
    ({"on": "field.changed", "field": "group"}, "group", True),
    ({"on": "tag.added", "tag": "vip"}, TicketChanges(add_tags=["vip"]), True),
    ({"on": "tag.added", "tag": "vip"}, TicketChanges(add_tags=["other"]), False),
])
def test_field_and_tag_events(team, when, change, fires) -> None:
    rule(enabled=True, when={"type": "event", **when},
         actions=[{"type": "add_tags", "tags": ["seen"]}])
    tk = ticket(team)
    if change == "group":
        change = TicketChanges(group_id=team.support.id)
    tickets.update_ticket(tk.id, actor=team.admin, changes=change)
    assert ("seen" in [tg.name for tg in _get(tk.id).tags]) is fires


def test_customer_and_agent_messages_and_notes(team) -> None:
    rule(name="reopen", enabled=True, when={"type": "event", "on": "message.received"},
         actions=[{"type": "add_tags", "tags": ["customer-wrote"]}])
    rule(name="replied", enabled=True, when={"type": "event", "on": "message.replied"},
         actions=[{"type": "set_status", "status": "pending"}])
    rule(name="noted", enabled=True, when={"type": "event", "on": "note.added"},
         actions=[{"type": "notify", "message": "a note"}])
    tk = ticket(team)  # the first message is the customer's
    assert [tg.name for tg in _get(tk.id).tags] == ["customer-wrote"]
    messages.reply(tk.id, actor=team.admin, text="Hi")
    assert _get(tk.id).status == "pending"
    messages.add_note(tk.id, actor=team.admin, text="psst")
    notes = [e for e in tickets.list_events(tk.id, actor=SYSTEM) if e.type == "rule.notified"]
    assert [(e.actor_name, e.data["message"]) for e in notes] == [("Rule: noted", "a note")]


def test_reply_and_note_fill_placeholders_and_reply_is_queued(team) -> None:
    rule(enabled=True, when={"type": "event", "on": "ticket.created"}, actions=[
        {"type": "reply", "text": "Dear {customer_name}, ticket #{ticket_id} is with"
                                  " {agent_name}."},
        {"type": "note", "text": "auto-acknowledged"}])
    tk = ticket(team, assignee_id=team.anna.id, group_id=team.support.id)
    listed = messages.list_messages(tk.id, actor=SYSTEM)
    reply = next(m for m in listed if m.kind == "reply")
    assert reply.text == f"Dear Carla Customer, ticket #{tk.id} is with Anna Agent."
    assert reply.delivery_state == "queued"
    assert reply.author_name == "Rule: r"
    assert [m.text for m in listed if m.kind == "note"] == ["auto-acknowledged"]


def test_assign_round_robin_and_least_loaded(team) -> None:
    carl = agents.create_agent(actor=SYSTEM, name="Carl", email="carl@example.com",
                               user_id="9", groups=[team.support.id])
    rule(name="rr", enabled=True, when={"type": "event", "on": "ticket.created"},
         conditions={"all": [{"field": "tags", "op": "has_any", "value": ["rr"]}]},
         actions=[{"type": "assign", "strategy": "round_robin", "group_id": team.support.id}])
    got = [_get(ticket(team, tags=["rr"]).id).assignee_id for _ in range(4)]
    # Support has the manager, Anna and Carl: each in turn, then around again.
    assert sorted(got[:3]) == sorted([team.manager.id, team.anna.id, carl.id])
    assert got[3] == got[0]
    rules.update_rule(rules.get_rule_by_name("rr", actor=SYSTEM).id, actor=SYSTEM,
                      changes=RuleChanges(enabled=False))
    rule(name="ll", enabled=True, when={"type": "event", "on": "ticket.created"},
         actions=[{"type": "assign", "strategy": "least_loaded", "group_id": team.support.id}])
    ticket(team, assignee_id=team.anna.id, group_id=team.support.id)  # reassigned by ll
    tk = ticket(team)
    loads = {a: sum(1 for i in range(1, tk.id + 1) if _get(i).assignee_id == a)
             for a in (team.manager.id, team.anna.id, carl.id)}
    assert max(loads.values()) - min(loads.values()) <= 1


def test_a_rule_does_not_retrigger_itself_and_chains_stop(team, caplog) -> None:
    # A -> priority changes -> B changes it back -> A again ... forever, without a guard.
    rule(name="up", enabled=True, position=1,
         when={"type": "event", "on": "field.changed", "field": "priority"},
         conditions={"all": [{"field": "priority", "op": "is", "value": "low"}]},
         actions=[{"type": "set_priority", "priority": "urgent"}])
    rule(name="down", enabled=True, position=2,
         when={"type": "event", "on": "field.changed", "field": "priority"},
         conditions={"all": [{"field": "priority", "op": "is", "value": "urgent"}]},
         actions=[{"type": "set_priority", "priority": "low"}])
    tk = ticket(team)
    tickets.update_ticket(tk.id, actor=team.admin, changes=TicketChanges(priority="low"))
    changes = [e for e in tickets.list_events(tk.id, actor=SYSTEM) if e.type == "ticket.updated"]
    # The agent's change, then each rule undoing the other until the depth
    # limit (3) stops each chain: two chains of three rule changes.
    assert len(changes) == 1 + 2 * 3
    assert "rule chain stopped at depth 3" in caplog.text
    assert {e.actor_name for e in changes[1:]} <= {"Rule: up", "Rule: down"}


def test_self_change_does_not_retrigger(team) -> None:
    rule(name="bump", enabled=True, when={"type": "event", "on": "field.changed",
                                          "field": "priority"},
         actions=[{"type": "raise_priority"}])
    tk = ticket(team)
    tickets.update_ticket(tk.id, actor=team.admin, changes=TicketChanges(priority="low"))
    assert _get(tk.id).priority_name == "normal"  # raised once, not up to urgent


def test_broken_rule_is_paused_and_ticket_left_whole(team) -> None:
    r = rule(name="to-anna", enabled=True, when={"type": "event", "on": "ticket.created"},
             actions=[{"type": "add_tags", "tags": ["auto"]},
                      {"type": "assign", "agent_id": team.anna.id}])
    agents.update_agent(team.anna.id, actor=SYSTEM, active=False)
    tk = ticket(team)
    got = _get(tk.id)
    assert (got.tags, got.assignee_id) == ([], None)  # nothing half-done
    paused = rules.get_rule(r.id, actor=SYSTEM)
    assert paused.enabled is False
    assert "deactivated" in paused.error
    with pytest.raises(Exception, match="deactivated"):
        rules.update_rule(r.id, actor=SYSTEM, changes=RuleChanges(enabled=True))


def test_manual_rule_run_to_the_end(team) -> None:
    from flask_helpdesk.services import automation

    a, b = ticket(team, "Printer jam"), ticket(team, "Other")
    r = rule(name="printers", conditions={"all": [
        {"field": "subject", "op": "contains_any", "value": "printer"}]},
        actions=[{"type": "set_group", "group_id": team.support.id}])
    run = rules.run_rule(r.id, actor=team.manager, send=False)
    automation.execute_run(run.id)
    done = rules.get_run(run.id, actor=team.manager)
    assert (done.state, done.total, done.done, done.touched, done.failed) == (
        "done", 1, 1, 1, 0)
    assert (_get(a.id).group_id, _get(b.id).group_id) == (team.support.id, None)
    assert Message is not None
