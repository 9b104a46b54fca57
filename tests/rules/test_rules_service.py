"""Managing rules: validation at save time, permissions, dry runs, conditions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from flask_helpdesk import ValidationError
from flask_helpdesk.errors import Conflict
from flask_helpdesk.errors import PermissionDenied
from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Ticket
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import RuleChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import customers
from flask_helpdesk.services import rules
from flask_helpdesk.services import tickets
from flask_helpdesk.services.rule_conditions import Facts
from flask_helpdesk.services.rule_conditions import contains_phrase
from flask_helpdesk.services.rule_conditions import matches
from flask_helpdesk.services.rule_conditions import needs_python
from flask_helpdesk.services.rule_conditions import phrases
from flask_helpdesk.services.rule_conditions import to_sql
from flask_helpdesk.services.rule_conditions import validate
from tests.rules.helpers import rule
from tests.rules.helpers import ticket


def test_managers_manage_rules_agents_do_not(team) -> None:
    created = rules.create_rule(actor=team.manager, name="Tag refunds",
                                when={"type": "event", "on": "ticket.created"},
                                actions=[{"type": "add_tags", "tags": ["Refund"]}])
    assert created.enabled is False  # rules start disabled
    assert created.actions == [{"type": "add_tags", "tags": ["refund"]}]
    with pytest.raises(PermissionDenied):
        rules.list_rules(actor=team.anna)
    with pytest.raises(Conflict):
        rule(name="Tag refunds")
    rules.update_rule(created.id, actor=team.manager, changes=RuleChanges(enabled=True))
    assert [r.name for r in rules.list_rules(actor=team.admin)] == ["Tag refunds"]
    rules.delete_rule(created.id, actor=team.manager)
    assert rules.list_rules(actor=team.admin) == []


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"conditions": {"all": [{"field": "colour", "op": "is", "value": "red"}]}},
     "Unknown condition field colour"),
    ({"conditions": {"all": [{"field": "status", "op": "is", "value": "open"},
                             {"field": "status", "op": "is", "value": "closed"}]}},
     "can never all be true"),
    ({"conditions": {"all": [{"field": "status", "op": "like", "value": "open"}]}},
     "takes the operators"),
    ({"conditions": {"all": [{"field": "group", "op": "is", "value": 999}]}}, "999"),
    ({"actions": [{"type": "assign", "agent_id": 999}]}, "999"),
    ({"actions": [{"type": "reply", "text": "Hi {customer_nme}"}]},
     "Unknown placeholder {customer_nme}"),
    ({"actions": [{"type": "explode"}]}, "Unknown action explode"),
    ({"actions": []}, "at least one action"),
    ({"when": {"type": "time", "since": "created", "minutes": 0}}, "when.minutes"),
    ({"when": {"type": "event", "on": "field.changed", "field": "colour"}}, "when.field"),
])
def test_bad_rules_are_refused_at_save_time(team, kwargs, message) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**kwargs)
    assert rules.list_rules(actor=SYSTEM) == []


def test_deactivated_agent_is_refused(team) -> None:
    agents.update_agent(team.anna.id, actor=SYSTEM, active=False)
    with pytest.raises(ValidationError, match="deactivated"):
        rule(actions=[{"type": "assign", "agent_id": team.anna.id}])


def test_phrases_match_whole_words_across_case_and_unicode() -> None:
    wanted = phrases("refund||Return money||ВОЗВРАТ||devolução", "subject")
    assert contains_phrase("I want a REFUND now", wanted)
    assert not contains_phrase("refunded already", wanted)
    assert contains_phrase("please return  money".replace("  ", " "), wanted)
    assert contains_phrase("Нужен возврат денег", wanted)
    assert contains_phrase("Pedido de DEVOLUÇÃO", wanted)
    assert contains_phrase("ｒｅｆｕｎｄ please", wanted)  # full-width letters, NFKC


CONDITION_CASES = [
    {"field": "status", "op": "in", "value": ["open", "pending"]},
    {"field": "status", "op": "is_not", "value": "pending"},
    {"field": "priority", "op": "at_least", "value": "high"},
    {"field": "priority", "op": "below", "value": "normal"},
    {"field": "channel", "op": "is", "value": "web"},
    {"field": "account", "op": "is", "value": ""},
    {"field": "assignee", "op": "is", "value": None},
    {"field": "tags", "op": "has_any", "value": ["vip", "urgent"]},
    {"field": "tags", "op": "has_all", "value": ["vip", "urgent"]},
    {"field": "tags", "op": "has_none", "value": ["vip"]},
    {"field": "subject", "op": "contains_any", "value": "refund||возврат"},
    {"field": "subject", "op": "contains_none", "value": "refund"},
    {"field": "text", "op": "contains_any", "value": "printer"},
    {"field": "customer.identity", "op": "ends_with", "value": {"kind": "email",
                                                                "value": "@EXAMPLE.org"}},
    {"field": "custom.plan", "op": "is", "value": "gold"},
    {"field": "customer.tier", "op": "is", "value": "gold"},
]


@pytest.mark.parametrize("condition", CONDITION_CASES, ids=lambda c: f"{c['field']}-{c['op']}")
def test_sql_and_python_forms_of_each_condition_agree(team, condition) -> None:
    customers.update_customer(team.customer.id, actor=SYSTEM, attributes={"tier": "gold"})
    made = [
        ticket(team, "Refund please", "my printer is broken", tags=["vip", "urgent"],
               priority="high"),
        ticket(team, "Нужен ВОЗВРАТ", "hello", tags=["vip"], priority="low",
               status="pending"),
        ticket(team, "Refunded?", "printers", group_id=team.support.id,
               assignee_id=team.anna.id),
    ]
    tickets.update_ticket(made[0].id, actor=SYSTEM,
                          changes=tickets.TicketChanges(custom_fields={"plan": "gold"}))
    conditions = validate({"all": [condition]})
    s = get_state().db.session
    by_sql = set(s.scalars(select(Ticket.id).where(to_sql(conditions))))
    by_python = {tk.id for tk in made if matches(conditions, Facts(tickets.get_ticket(
        tk.id, actor=SYSTEM)))}
    assert by_python <= by_sql  # SQL never drops a match
    if not needs_python(conditions):
        assert by_sql == by_python
    assert by_python, "each case matches at least one ticket"


def test_dry_run_lists_matching_tickets_and_changes_nothing(team) -> None:
    a = ticket(team, "Refund now")
    ticket(team, "Question")
    r = rule(conditions={"all": [{"field": "subject", "op": "contains_any",
                                  "value": "refund"}]})
    result = rules.dry_run(r.id, actor=team.manager)
    assert (result.total, result.ticket_ids) == (1, [a.id])
    assert [tg.name for tg in tickets.get_ticket(a.id, actor=SYSTEM).tags] == []
