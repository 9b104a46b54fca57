"""Rule texts are sandboxed templates like reply templates: checked at save, bounded at run."""

from __future__ import annotations

import logging
import typing as t

import pytest
from sqlalchemy import update

from flask_helpdesk import ValidationError
from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Rule
from flask_helpdesk.models.ticket import SUBJECT_MAX
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import automation
from flask_helpdesk.services import messages
from flask_helpdesk.services import rules
from flask_helpdesk.services import tickets
from tests.rules.helpers import rule
from tests.rules.helpers import ticket

API = "/helpdesk/api/v1"


def _notes(ticket_id: int) -> list[str]:
    return [m.text for m in messages.list_messages(ticket_id, actor=SYSTEM) if m.kind == "note"]


def _on_created(text: str, **kw: t.Any) -> t.Any:
    return rule(name="ack", enabled=True, when={"type": "event", "on": "ticket.created"},
                actions=[{"type": "note", "text": text}], **kw)


def test_rule_texts_take_the_placeholders_and_filters_of_reply_templates(team) -> None:
    _on_created("{{ customer.first_name }} ({{ customer.email }}) wrote #{{ ticket.id }}"
                " «{{ ticket.subject|upper }}», {{ ticket.status }}, for"
                " {{ agent.first_name }} of {{ group.name }}; order"
                " {{ ticket.custom_fields.order|default('none') }}."
                "{% if ticket.subject|length > 100 %} Long!{% endif %}")
    tk = ticket(team, "Printer jam", assignee_id=team.anna.id, group_id=team.support.id)
    assert _notes(tk.id) == [
        f"Carla (carla@example.org) wrote #{tk.id} «PRINTER JAM», open, for Anna of"
        " Support; order none."]


def test_old_placeholders_are_still_read_and_saved_the_new_way(team) -> None:
    made = _on_created("Hi {customer_name}: #{ticket_id} for {agent_name}, {{ group.name }}.")
    assert made.actions[0]["text"] == (
        "Hi {{ customer.name }}: #{{ ticket.id }} for {{ agent.name }}, {{ group.name }}.")
    tk = ticket(team, assignee_id=team.anna.id, group_id=team.support.id)
    assert _notes(tk.id) == [f"Hi Carla Customer: #{tk.id} for Anna Agent, Support."]


@pytest.mark.parametrize(("text", "says"), [
    ("{customer_name:>1000000000}", "Placeholders take no format"),
    ("{ticket_id:0100000}", "write {{ ticket.id }} instead of {ticket_id:0100000}"),
    ("{ticket_id:s}", "Placeholders take no format"),
    ("{ticket_id!r}", "Placeholders take no format"),
    ("Hi {name}", "Unknown placeholder {name}"),
    ("Hi {{ customer.nickname }}", "Unknown placeholder {{ customer.nickname }}"),
    ("Hi {{ opens_at }}", "Unknown placeholder {{ opens_at }}"),
    ("Hi {{ customer.name ", "do not parse"),
    ("{% for x in ticket.subject %}{{ x }}{% endfor %}", "not For"),
    ("{{ ticket.subject * 100000000 }}", "not Mul"),
    ("{{ ticket.__class__ }}", "Unknown placeholder"),
    ("{{ ticket.subject|center(1000000000) }}", "filter"),
])
@pytest.mark.parametrize("kind", ["note", "reply", "notify"])
def test_format_specs_and_bad_templates_are_refused_at_save(team, text, says, kind) -> None:
    key = "message" if kind == "notify" else "text"
    with pytest.raises(ValidationError) as caught:
        rule(actions=[{"type": "add_tags", "tags": ["x"]}, {"type": kind, key: text}])
    assert says in caught.value.message
    assert (caught.value.field, caught.value.details) == ("actions", {"index": 1, "key": key})
    assert rules.list_rules(actor=SYSTEM) == []


def test_the_out_of_hours_reply_also_takes_opens_at(team) -> None:
    made = rule(actions=[{"type": "out_of_hours_reply", "text": "Back {opens_at}, {{ opens_at }}"}])
    assert made.actions[0]["text"] == "Back {{ opens_at }}, {{ opens_at }}"


def test_the_api_answers_422_naming_the_action(team, login) -> None:
    client = login(team.manager)
    headers = {"X-CSRF-Token": client.get(f"{API}/me").get_json()["csrf_token"]}
    answer = client.post(f"{API}/rules", headers=headers, json={
        "name": "big", "when": {"type": "event", "on": "ticket.created"},
        "actions": [{"type": "note", "text": "{customer_name:>1000000000}"}]})
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert (error["field"], error["details"]) == ("actions", {"index": 0, "key": "text"})
    assert "Placeholders take no format" in error["message"]


def _huge_text() -> str:
    """A text fine with the sample values and too long with a full-length subject."""
    return "{{ ticket.subject }}" * 900


def test_a_text_that_cannot_be_filled_in_pauses_the_rule_with_its_error(team, caplog) -> None:
    made = _on_created(_huge_text())
    other = rule(name="tag", enabled=True, position=99,
                 when={"type": "event", "on": "ticket.created"},
                 actions=[{"type": "add_tags", "tags": ["seen"]}])
    caplog.set_level(logging.INFO)
    tk = ticket(team, "x" * SUBJECT_MAX)
    assert _notes(tk.id) == []
    paused = rules.get_rule(made.id, actor=SYSTEM)
    assert paused.enabled is False
    assert f"cannot be filled in for ticket #{tk.id}" in paused.error
    assert "longer than 200000 characters" in paused.error
    assert [tg.name for tg in tickets.get_ticket(tk.id, actor=SYSTEM).tags] == ["seen"]
    assert other.enabled
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    ticket(team, "x" * SUBJECT_MAX)  # paused: no second attempt, no second log
    assert sum("paused" in r.getMessage() for r in caplog.records) == 1


def test_a_time_rule_batch_that_cannot_be_filled_in_pauses_the_rule(team) -> None:
    long, short = ticket(team, "x" * SUBJECT_MAX), ticket(team, "Short")
    made = rule(name="late", enabled=True,
                when={"type": "time", "since": "created", "minutes": 60},
                actions=[{"type": "note", "text": "Late: " + _huge_text()}])
    spec = automation.Spec.of(made)
    touched, _skipped, failed = automation.apply_many(spec, [short.id, long.id])
    assert (touched, failed) == (1, 1)
    assert _notes(short.id) == ["Late: " + "Short" * 900]
    assert _notes(long.id) == []
    paused = rules.get_rule(made.id, actor=SYSTEM)
    assert not paused.enabled and f"ticket #{long.id}" in paused.error


def test_a_stored_text_that_no_longer_parses_pauses_the_rule_shown_on_the_list(
        team, login, caplog) -> None:
    made = _on_created("fine")
    session = get_state().db.session
    session.execute(update(Rule).where(Rule.id == made.id).values(
        actions=[{"type": "note", "text": "Hi {{ customer.name "}]))
    session.commit()
    automation.forget_rules()
    tk = ticket(team)
    tickets.update_ticket(tk.id, actor=SYSTEM, changes=TicketChanges(priority="high"))
    assert _notes(tk.id) == []
    paused = rules.get_rule(made.id, actor=SYSTEM)
    assert paused.enabled is False
    assert f"cannot be filled in for ticket #{tk.id}: unexpected end of template" in paused.error
    assert not [r for r in caplog.records if r.exc_info]
    page = login(team.manager).get("/helpdesk/rules").text
    assert "hd-rule-error" in page and "unexpected end of template" in page
