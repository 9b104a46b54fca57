"""Reply templates: who may manage which, validation at save time, search, placeholders."""

from __future__ import annotations

import pytest

from flask_helpdesk.channels import InboundAttachment
from flask_helpdesk.errors import Conflict
from flask_helpdesk.errors import NotFound
from flask_helpdesk.errors import PermissionDenied
from flask_helpdesk.errors import ValidationError
from flask_helpdesk.extension import get_state
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TemplateChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import customers
from flask_helpdesk.services import messages
from flask_helpdesk.services import templates
from flask_helpdesk.services import tickets
from tests.rules.helpers import rule
from tests.templates.helpers import shared
from tests.templates.helpers import ticket


@pytest.mark.parametrize(("who", "may_share"), [("anna", False), ("manager", True),
                                                ("admin", True)])
def test_permission_matrix(team, who, may_share) -> None:
    actor = getattr(team, who)
    common = shared()
    # Everyone manages their own personal templates.
    mine = templates.create_template(actor=actor, name="Mine", body="Hi")
    assert not mine.shared and mine.owner_agent_id == actor.id
    templates.update_template(mine.id, actor=actor, changes=TemplateChanges(body="Hi there"))
    # Shared templates: managers and admins only.
    if may_share:
        made = templates.create_template(actor=actor, name="Team", body="Hi", shared=True)
        templates.update_template(common.id, actor=actor, changes=TemplateChanges(name="Refunds"))
        templates.delete_template(made.id, actor=actor)
    else:
        with pytest.raises(PermissionDenied, match="managers and administrators"):
            templates.create_template(actor=actor, name="Team", body="Hi", shared=True)
        with pytest.raises(PermissionDenied):
            templates.update_template(common.id, actor=actor,
                                      changes=TemplateChanges(name="Mine now"))
        with pytest.raises(PermissionDenied):
            templates.delete_template(common.id, actor=actor)
        with pytest.raises(PermissionDenied):  # nor make their own shared
            templates.update_template(mine.id, actor=actor, changes=TemplateChanges(shared=True))
    templates.delete_template(mine.id, actor=actor)
    assert templates.get_template(common.id, actor=actor).name == (
        "Refunds" if may_share else "Refund")


def test_personal_templates_are_invisible_to_others(team) -> None:
    mine = templates.create_template(actor=team.anna, name="Anna's", body="Hi")
    common = shared()
    assert [t.id for t in templates.list_templates(actor=team.anna)] == [mine.id, common.id]
    for other in (team.boris, team.manager, team.admin):
        assert [t.id for t in templates.list_templates(actor=other)] == [common.id]
        with pytest.raises(NotFound):
            templates.get_template(mine.id, actor=other)
        with pytest.raises(NotFound):
            templates.update_template(mine.id, actor=other, changes=TemplateChanges(name="x"))
    agents.update_agent(team.anna.id, actor=SYSTEM, active=False)
    with pytest.raises(PermissionDenied):
        templates.create_template(actor=team.anna, name="Late", body="Hi")


def test_a_manager_may_share_a_personal_template(team) -> None:
    own = templates.create_template(actor=team.manager, name="Draft", body="Hi")
    templates.update_template(own.id, actor=team.manager, changes=TemplateChanges(shared=True))
    assert templates.get_template(own.id, actor=team.anna).shared


@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({"name": "  "}, "name", "name must not be empty"),
    ({"name": "x" * 101}, "name", "name is too long"),
    ({"body": ""}, "body", "body must not be empty"),
    ({"body": "x" * 20_001}, "body", "body is too long"),
    ({"body": "Hi {{ customer.nmae }}"}, "body", r"Unknown placeholder \{\{ customer.nmae \}\}"),
    ({"body": "Hi {{ costumer.name }}"}, "body", r"Unknown placeholder \{\{ costumer \}\}"),
    ({"body": "Hi {{ customer }}"}, "body", "Unknown placeholder"),
    ({"body": "Hi {{ ticket.custom_fields }}"}, "body", "Unknown placeholder"),
    ({"body": "Hi {{ customer.name.__class__ }}"}, "body", "Unknown placeholder"),
    ({"body": "Hi {{ range(10) }}"}, "body", r"Unknown placeholder \{\{ range \}\}"),
    ({"body": "Hi {{ customer.name "}, "body", "do not parse"),
    ({"body": '{{ "x" * 1000000000 }}'}, "body", "not Mul"),
    ({"body": "{% for c in ticket.subject %}{{ c }}{% endfor %}"}, "body", "not For"),
    ({"body": "{{ customer.name.upper() }}"}, "body", "not Call"),
    ({"body": "{{ customer.name|center(1000000000) }}"}, "body", "No filter named 'center'"),
    ({"body": "{% macro m() %}x{% endmacro %}"}, "body", "not Macro"),
    ({"body": "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"}, "body", "nested too deeply"),
    ({"body_html": "<p>{{ agent.nme }}</p>"}, "body_html", "Unknown placeholder"),
    ({"folder": "Billing//Refunds"}, "folder", "without empty parts"),
    ({"actions": {"status": "done"}}, "actions.status", "status must be one of"),
    ({"actions": {"priority": "asap"}}, "actions.priority", "priority must be one of"),
    ({"actions": {"colour": "red"}}, "actions", "Unknown action colour"),
    ({"actions": {"add_tags": ["ok", "no way!"]}}, "actions.add_tags", "may contain only"),
    ({"actions": {"add_tags": "refund"}}, "actions.add_tags", "must be a list"),
    ({"actions": {"add_tags": ["a"], "remove_tags": ["a"]}}, "actions.remove_tags",
     "both added and removed"),
    ({"actions": {"assignee_id": 999}}, "actions.assignee_id", "999"),
    ({"actions": {"group_id": 999}}, "actions.group_id", "999"),
])
def test_bad_templates_are_refused_at_save_time(team, kwargs, field, message) -> None:
    args = {"name": "Refund", "body": "Hello", **kwargs}
    with pytest.raises(ValidationError, match=message) as info:
        templates.create_template(actor=team.manager, shared=True, **args)
    assert info.value.field == field
    assert templates.list_templates(actor=team.manager) == []


def test_deactivated_or_foreign_assignee_is_refused(team) -> None:
    agents.update_agent(team.boris.id, actor=SYSTEM, active=False)
    with pytest.raises(ValidationError, match="deactivated"):
        shared(actions={"assignee_id": team.boris.id})
    with pytest.raises(ValidationError, match="not a member of the group Billing"):
        shared(actions={"assignee_id": team.anna.id, "group_id": team.billing.id})


def test_actions_are_normalized(team) -> None:
    row = shared(actions={"status": "pending", "add_tags": ["Refund", "refund"],
                          "remove_tags": [], "priority": None, "group_id": team.billing.id})
    assert row.actions == {"status": "pending", "add_tags": ["refund"],
                           "group_id": team.billing.id}


def test_search_is_case_and_unicode_insensitive_and_ranked_by_use(team) -> None:
    refund = shared("Refund", "We sent your money back", folder="Billing/Refunds")
    russian = shared("Возврат денег", "Здравствуйте, {{ customer.first_name }}! ДЕНЬГИ вернули.",
                     folder="Billing")
    pt = shared("Devolução", "Olá, já devolvemos o seu dinheiro.", folder="Faturamento")
    other = shared("Password reset", "Use the link", folder="Tech")

    def names(**kw):
        return [t.name for t in templates.list_templates(actor=team.anna, **kw)]

    assert names(q="REFUND") == ["Refund"]
    assert names(q="деньги") == ["Возврат денег"]  # Cyrillic, other case, in the body
    assert names(q="ВОЗВРАТ") == ["Возврат денег"]
    assert names(q="devolucao") == ["Devolução"]  # accents folded
    assert names(q="money back") == ["Refund"]
    assert names(q="100%") == []
    assert names(folder="Billing") == ["Refund", "Возврат денег"]
    assert names(folder="Billing/Refunds") == ["Refund"]
    assert templates.list_folders(actor=team.anna) == [
        "Billing", "Billing/Refunds", "Faturamento", "Tech"]
    # The most used come first, then by name.
    case = ticket(team)
    for template in (other, other, pt):
        messages.reply(case.id, actor=team.anna, text="Done", template_id=template.id)
    assert names()[:3] == ["Password reset", "Devolução", "Refund"]
    assert {refund.id, russian.id} <= {t.id for t in templates.list_templates(actor=team.anna)}


def test_placeholders_render_for_the_ticket(team) -> None:
    person = customers.create_customer(actor=SYSTEM, name="Ольга Смирнова",
                                       identities=[("email", "olga@example.ru")])
    case = tickets.create_ticket(actor=SYSTEM, customer_id=person.id, subject="Возврат",
                                 text="Верните деньги", group_id=team.support.id,
                                 assignee_id=team.anna.id)
    tickets.update_ticket(case.id, actor=SYSTEM, changes=tickets.TicketChanges(
        custom_fields={"order": "A-17"}))
    row = shared("Привет", "Здравствуйте, {{ customer.first_name }} ({{ customer.name }},"
                 " {{ customer.email }})! Заявка #{{ ticket.id }} «{{ ticket.subject }}»,"
                 " статус {{ ticket.status }}, группа {{ group.name }}, заказ"
                 " {{ ticket.custom_fields.order }}{{ ticket.custom_fields.missing }}."
                 " {{ agent.first_name }} / {{ agent.name }}",
                 body_html="<p>{{ customer.name }} &amp; {{ ticket.subject }}</p>")
    filled = templates.render(row.id, ticket_id=case.id, actor=team.manager)
    assert filled.text == (
        f"Здравствуйте, Ольга (Ольга Смирнова, olga@example.ru)! Заявка #{case.id} «Возврат»,"
        " статус open, группа Support, заказ A-17. Max / Max Manager")
    assert filled.html == "<p>Ольга Смирнова &amp; Возврат</p>"


def test_filters_and_conditions_work(team) -> None:
    case = ticket(team)
    tickets.update_ticket(case.id, actor=SYSTEM, changes=tickets.TicketChanges(
        custom_fields={"plan": "pro"}))
    row = shared("Plan", '{{ customer.first_name|upper }}: {% if ticket.custom_fields.plan =='
                 ' "pro" %}priority line{% else %}standard{% endif %},'
                 ' {{ ticket.custom_fields.region|default("EU") }}')
    assert templates.render(row.id, ticket_id=case.id, actor=team.anna).text == (
        "CARLA: priority line, EU")


def test_html_escapes_customer_values_text_does_not(team) -> None:
    person = customers.create_customer(actor=SYSTEM, name="<b>Eve</b> & Co",
                                       identities=[("email", "eve@example.org")])
    case = tickets.create_ticket(actor=SYSTEM, customer_id=person.id, subject="x", text="y")
    row = shared("Hi", "Hi {{ customer.name }}", body_html="<p>Hi {{ customer.name }}</p>")
    filled = templates.render(row.id, ticket_id=case.id, actor=team.admin)
    assert filled.text == "Hi <b>Eve</b> & Co"
    assert filled.html == "<p>Hi &lt;b&gt;Eve&lt;/b&gt; &amp; Co</p>"


def test_saved_html_is_sanitized(team) -> None:
    row = shared("Hi", "Hi", body_html='<p onclick="x()">Hi<script>alert(1)</script></p>')
    assert row.body_html == "<p>Hi</p>"


def test_render_needs_a_visible_ticket(team) -> None:
    case = ticket(team, group_id=team.billing.id)
    row = shared()
    with pytest.raises(PermissionDenied):
        templates.render(row.id, ticket_id=case.id, actor=team.anna)
    assert templates.render(row.id, ticket_id=case.id, actor=team.boris).text == "Hello Carla"


def test_files_are_stored_and_removed(team) -> None:
    storage = get_state().storage
    row = shared(attachments=[InboundAttachment("terms.pdf", "application/pdf", b"%PDF-1.4 x"),
                              InboundAttachment("../../etc/a.txt", "text/plain", b"a")])
    assert [a.filename for a in row.attachments] == ["terms.pdf", "a.txt"]
    first, second = row.attachments
    assert storage.open(first.storage_key) == b"%PDF-1.4 x"
    row = templates.update_template(row.id, actor=SYSTEM, changes=TemplateChanges(
        remove_attachments=[second.id]))
    assert [a.filename for a in row.attachments] == ["terms.pdf"]
    with pytest.raises(FileNotFoundError):
        storage.open(second.storage_key)
    with pytest.raises(ValidationError, match="no file"):
        templates.update_template(row.id, actor=SYSTEM, changes=TemplateChanges(
            remove_attachments=[second.id]))
    templates.delete_template(row.id, actor=SYSTEM)
    with pytest.raises(FileNotFoundError):
        storage.open(first.storage_key)


def test_a_template_a_rule_sends_is_kept(team) -> None:
    row = shared()
    rule(name="Auto refund", actions=[{"type": "send_template", "template_id": row.id}])
    with pytest.raises(Conflict, match="Auto refund"):
        templates.delete_template(row.id, actor=SYSTEM)
    with pytest.raises(Conflict, match="Auto refund"):
        templates.update_template(row.id, actor=team.admin, changes=TemplateChanges(
            shared=False))
