"""The rule editor: managers list, build, reorder, dry-run and run rules; agents cannot."""

from __future__ import annotations

import re
import typing as t

import pytest
from werkzeug.datastructures import MultiDict

from flask_helpdesk.extension import get_state
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import calendars
from flask_helpdesk.services import rules
from flask_helpdesk.services import templates
from flask_helpdesk.services import tickets
from tests.tasks.helpers import Workers
from tests.workspace.forms import form_fields

FORM = "hd-rule-form"


def _form(browser: t.Any, url: str) -> MultiDict[str, str]:
    page = browser.get(url)
    assert page.status_code == 200, page.text[:500]
    return MultiDict(form_fields(page.text, FORM))


def _set(data: MultiDict[str, str], values: dict[str, str]) -> None:
    """Replace fields (``MultiDict.update`` would add a second value)."""
    for key, value in values.items():
        data[key] = value


def _post(browser: t.Any, url: str, data: MultiDict[str, str], **kw: t.Any) -> t.Any:
    return browser.post(url, data=data, **kw)


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr id="rule-\d+" class="hd-rule-row[^"]*">\s*<td class="hd-rule-order">'
                      r'.*?<a href="/helpdesk/rules/\d+">([^<]+)</a>', html, re.S)


def _ticket(team: t.Any, subject: str, **kw: t.Any) -> t.Any:
    return tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id, subject=subject,
                                 text="Please help", group_id=team.support.id, **kw)


def test_agents_neither_see_nor_open_the_editor(team: t.Any, browse: t.Any) -> None:
    made = rules.create_rule(actor=SYSTEM, name="Tag it", when={"type": "manual"},
                             actions=[{"type": "add_tags", "tags": ["x"]}])
    anna = browse(team.anna)
    assert "/helpdesk/rules" not in anna.get("/helpdesk/tickets").text
    for url in ("/helpdesk/rules", "/helpdesk/rules/new", f"/helpdesk/rules/{made.id}",
                f"/helpdesk/rules/{made.id}/dry-run"):
        assert anna.get(url).status_code == 403, url
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      anna.get("/helpdesk/tickets").text).group(1)  # type: ignore[union-attr]
    for url in (f"/helpdesk/rules/{made.id}", f"/helpdesk/rules/{made.id}/run",
                f"/helpdesk/rules/{made.id}/delete", f"/helpdesk/rules/{made.id}/enabled"):
        answer = anna.post(url, data={"csrf_token": token, "name": "Hacked", "enabled": "1"})
        assert answer.status_code == 403, url
    assert rules.get_rule(made.id, actor=SYSTEM).name == "Tag it"
    assert "/helpdesk/rules" in browse(team.manager).get("/helpdesk/tickets").text


def test_every_form_post_needs_the_csrf_token(team: t.Any, browse: t.Any) -> None:
    manager = browse(team.manager)
    data = _form(manager, "/helpdesk/rules/new")
    data.pop("csrf_token")
    data["name"] = "No token"
    assert _post(manager, "/helpdesk/rules/new", data).status_code == 400
    assert rules.list_rules(actor=SYSTEM) == []


def test_a_manager_builds_an_event_rule_in_the_form(team: t.Any, browse: t.Any) -> None:
    manager = browse(team.manager)
    assert manager.get("/helpdesk/rules").status_code == 200
    data = _form(manager, "/helpdesk/rules/new")
    _set(data, {"name": "New feature to Anna", "enabled": "1", "when_type": "event",
                 "when_on": "ticket.created"})
    # One condition row, added without JavaScript: the form comes back with it.
    data["op"] = "add_condition"
    page = _post(manager, "/helpdesk/rules/new", data)
    assert page.status_code == 200 and 'name="c0_field"' in page.text
    data = MultiDict(form_fields(page.text, FORM))
    assert data["name"] == "New feature to Anna"  # kept
    _set(data, {"c0_group": "any", "c0_field": "subject", "c0_op": "contains_any",
                 "c0_text": "new feature||feature request"})
    data["op"] = "add_condition"
    data = MultiDict(form_fields(_post(manager, "/helpdesk/rules/new", data).text, FORM))
    _set(data, {"c1_group": "any", "c1_field": "text", "c1_op": "contains_any",
                 "c1_text": "new feature"})
    data["op"] = "add_action"
    data = MultiDict(form_fields(_post(manager, "/helpdesk/rules/new", data).text, FORM))
    _set(data, {"a0_type": "set_priority", "a0_priority": "high", "a1_type": "assign",
                 "a1_strategy": "agent", "a1_agent_id": str(team.anna.id), "op": "save"})
    answer = _post(manager, "/helpdesk/rules/new", data)
    assert answer.status_code == 302, answer.text[:2000]
    made = rules.get_rule_by_name("New feature to Anna", actor=SYSTEM)
    assert made.enabled and made.when == {"type": "event", "on": "ticket.created"}
    assert made.conditions == {"all": [], "any": [
        {"field": "subject", "op": "contains_any", "value": ["new feature", "feature request"]},
        {"field": "text", "op": "contains_any", "value": ["new feature"]}]}
    assert made.actions == [{"type": "set_priority", "priority": "high"},
                            {"type": "assign", "strategy": "agent", "agent_id": team.anna.id}]
    hit = _ticket(team, "A new feature idea")
    got = tickets.get_ticket(hit.id, actor=SYSTEM)
    assert (got.priority_name, got.assignee_id) == ("high", team.anna.id)


def test_the_notify_row_chooses_whom_and_email(team: t.Any, browse: t.Any) -> None:
    manager = browse(team.manager)
    data = _form(manager, "/helpdesk/rules/new")
    assert 'name="a0_email" value="1" checked' in manager.get("/helpdesk/rules/new").text
    _set(data, {"name": "Tell them", "when_type": "event", "when_on": "ticket.created",
                 "a0_type": "notify", "a0_text": "Look at #{{ ticket.id }}", "a0_to": "agents",
                 "op": "save"})
    data.pop("a0_email", None)  # "also by email" unticked
    data.setlist("a0_agent_ids", [str(team.anna.id), "999"])
    page = _post(manager, "/helpdesk/rules/new", data)
    assert page.status_code == 422
    row = page.text.split('name="a0_type"')[1].split("</li>")[0]
    assert 'id="error-a-0"' in row and "Agent 999 does not exist." in row
    assert f'<option value="{team.anna.id}" selected>' in row
    data.setlist("a0_agent_ids", [str(team.anna.id), str(team.admin.id)])
    assert _post(manager, "/helpdesk/rules/new", data).status_code == 302
    made = rules.get_rule_by_name("Tell them", actor=SYSTEM)
    assert made.actions == [{"type": "notify", "message": "Look at #{{ ticket.id }}",
                             "to": "agents", "email": False,
                             "agent_ids": sorted([team.anna.id, team.admin.id])}]
    again = manager.get(f"/helpdesk/rules/{made.id}").text
    assert 'name="a0_email" value="1">' in again  # unticked, as saved
    assert '<option value="agents" selected>' in again


def test_a_service_error_shows_at_its_row_and_keeps_what_was_typed(
        team: t.Any, browse: t.Any) -> None:
    manager = browse(team.manager)
    data = _form(manager, "/helpdesk/rules/new")
    _set(data, {"name": "Polite", "when_type": "time", "when_since": "status_changed",
                 "when_amount": "3", "when_unit": "days", "c0_group": "all",
                 "c0_field": "status", "c0_op": "is", "c0_status": "pending",
                 "a0_type": "add_tags", "a0_tags": "reminded", "a1_type": "reply",
                 "a1_text": "Hello {customer}, still there?", "op": "save"})
    page = _post(manager, "/helpdesk/rules/new", data)
    assert page.status_code == 422
    row = page.text.split('name="a1_type"')[1].split("</li>")[0]
    assert 'id="error-a-1"' in row and "Unknown placeholder {customer}" in row
    assert "Hello {customer}, still there?</textarea>" in page.text
    again = MultiDict(form_fields(page.text, FORM))
    for key in ("name", "when_amount", "when_unit", "c0_status", "a0_tags", "a1_text"):
        assert again[key] == data[key], key
    assert rules.list_rules(actor=SYSTEM) == []
    # An impossible condition goes to its row too; a bad delay to the "when".
    _set(data, {"a1_text": "Hello {{ customer.name }}", "c0_status": "spam", "c0_op": "in"})
    page = _post(manager, "/helpdesk/rules/new", MultiDict([*data.items(multi=True),
                                                           ("c0_status", "open")]))
    assert page.status_code == 302
    _set(data, {"name": "Bad delay", "when_amount": "soon"})
    page = _post(manager, "/helpdesk/rules/new", data)
    assert page.status_code == 422
    when = page.text.split('class="hd-rule-when"')[1].split("</fieldset>")[0]
    assert 'id="error-when"' in when and 'value="soon"' in when


def test_removing_a_row_without_script_keeps_the_others(team: t.Any, browse: t.Any) -> None:
    made = rules.create_rule(actor=SYSTEM, name="Three actions", when={"type": "manual"},
                             actions=[{"type": "add_tags", "tags": ["a"]},
                                      {"type": "raise_priority"},
                                      {"type": "note", "text": "Checked"}])
    manager = browse(team.manager)
    data = _form(manager, f"/helpdesk/rules/{made.id}")
    data["op"] = "remove_action:1"
    page = _post(manager, f"/helpdesk/rules/{made.id}", data)
    again = MultiDict(form_fields(page.text, FORM))
    assert [again["a0_type"], again["a1_type"]] == ["add_tags", "note"]
    assert "a2_type" not in again
    again["op"] = "save"
    assert _post(manager, f"/helpdesk/rules/{made.id}", again).status_code == 302
    assert [a["type"] for a in rules.get_rule(made.id, actor=SYSTEM).actions] == [
        "add_tags", "note"]


def test_the_form_round_trips_every_when_condition_and_action(team: t.Any, browse: t.Any,
                                                              app: t.Any) -> None:
    cal = calendars.create_calendar(actor=SYSTEM, name="Office", timezone="Europe/Berlin",
                                    periods=[{"weekday": "mon", "start": "09:00",
                                              "end": "18:00"}])
    tpl = templates.create_template(actor=team.admin, name="Outage notice", shared=True,
                                    body="We know about the outage.")
    conditions = {"all": [
        {"field": "status", "op": "in", "value": ["open", "pending"]},
        {"field": "priority", "op": "at_least", "value": "normal"},
        {"field": "channel", "op": "not_in", "value": ["web", "email"]},
        {"field": "account", "op": "is", "value": "support@example.com"},
        {"field": "group", "op": "in", "value": [None, team.support.id]},
        {"field": "assignee", "op": "is", "value": None},
        {"field": "tags", "op": "has_all", "value": ["outage", "vip"]},
        {"field": "customer.identity", "op": "ends_with",
         "value": {"kind": "email", "value": "@example.org"}},
        {"field": "customer.plan", "op": "is", "value": "pro"},
        {"field": "custom.order", "op": "is_not", "value": "A-1"},
        {"field": "business_hours", "op": "outside", "value": cal.id},
    ], "any": [
        {"field": "subject", "op": "contains_any", "value": ["refund", "return money"]},
        {"field": "text", "op": "contains_none", "value": ["спасибо"]},
        {"field": "business_hours", "op": "inside", "value": None},
    ]}
    actions = [
        {"type": "set_status", "status": "pending"},
        {"type": "set_priority", "priority": "urgent"}, {"type": "raise_priority"},
        {"type": "set_group", "group_id": team.billing.id},
        {"type": "assign", "strategy": "agent", "agent_id": team.boris.id},
        {"type": "assign", "strategy": "round_robin", "group_id": team.support.id},
        {"type": "assign", "strategy": "least_loaded", "group_id": team.billing.id},
        {"type": "add_tags", "tags": ["a", "b"]}, {"type": "remove_tags", "tags": ["c"]},
        {"type": "reply", "text": "Hi {{ customer.name }}"}, {"type": "note", "text": "Seen"},
        {"type": "send_template", "template_id": tpl.id},
        {"type": "notify", "message": "Look at #{{ ticket.id }}"},
        {"type": "notify", "message": "For {{ agent.name }}", "to": "agents",
         "agent_ids": [team.anna.id, team.manager.id], "email": False},
        {"type": "notify", "message": "Group", "to": "group"},
        {"type": "webhook", "url": "https://hooks.example.com/x"},
        {"type": "out_of_hours_reply", "text": "Back {{ opens_at }}", "calendar_id": cal.id,
         "language": "ru"},
    ]
    whens = [
        {"type": "manual"},
        {"type": "event", "on": "message.received"},
        {"type": "event", "on": "tag.added", "tag": "vip"},
        {"type": "event", "on": "field.changed", "field": "status", "from": "open",
         "to": "pending"},
        {"type": "event", "on": "field.changed", "field": "assignee", "from": None,
         "to": team.anna.id},
        {"type": "event", "on": "field.changed", "field": "group", "to": team.billing.id},
        {"type": "event", "on": "field.changed", "field": "custom_fields.order", "to": "B"},
        {"type": "event", "on": "field.changed", "field": "subject"},
        {"type": "time", "since": "last_customer_message", "minutes": 90},
        {"type": "time", "since": "created", "minutes": 120},
        {"type": "time", "since": "status_changed", "minutes": 3 * 24 * 60,
         "business_hours": True},
        {"type": "time", "since": "last_agent_reply", "minutes": 2 * 24 * 60,
         "business_hours": True, "calendar_id": cal.id},
    ]
    manager = browse(team.manager)
    for i, when in enumerate(whens):
        made = rules.create_rule(actor=SYSTEM, name=f"Rule {i}", when=when,
                                 conditions=conditions if i == 0 else None,
                                 actions=actions if i == 0 else [{"type": "raise_priority"}])
        saved = (dict(made.when), dict(made.conditions), list(made.actions))
        data = _form(manager, f"/helpdesk/rules/{made.id}")
        answer = _post(manager, f"/helpdesk/rules/{made.id}", data)
        assert answer.status_code == 302, (when, answer.text[:3000])
        get_state().db.session.expire_all()
        again = rules.get_rule(made.id, actor=SYSTEM)
        assert again.when == saved[0]
        assert again.conditions == saved[1]
        assert again.actions == saved[2]


def test_plugin_actions_get_a_json_parameters_field(app_factory: t.Any) -> None:
    from flask_helpdesk import hookimpl
    from flask_helpdesk.services import agents
    from tests.workspace.conftest import AgentBrowser

    class Stamp:
        @hookimpl
        def helpdesk_register_rule_actions(self) -> dict[str, t.Any]:
            def validate(action: dict[str, t.Any]) -> dict[str, t.Any]:
                from flask_helpdesk import ValidationError

                if not isinstance(action.get("mark"), str):
                    raise ValidationError("stamp needs a mark.", field="actions")
                return {"type": "stamp", "mark": action["mark"]}

            return {"stamp": {"validate": validate, "apply": lambda *a: None}}

    app = app_factory(plugins=[Stamp()])
    with app.app_context():
        boss = agents.create_agent(actor=SYSTEM, name="Boss", email="b@example.com",
                                   user_id="9", role="manager")
        manager = AgentBrowser(app, boss)
        data = _form(manager, "/helpdesk/rules/new")
        assert '<option value="stamp">stamp</option>' in manager.get("/helpdesk/rules/new").text
        _set(data, {"name": "Stamp", "a0_type": "stamp", "a0_params": '{"mark": 3}',
                     "op": "save"})
        page = _post(manager, "/helpdesk/rules/new", data)
        assert page.status_code == 422 and "stamp needs a mark." in page.text
        data["a0_params"] = "not json"
        page = _post(manager, "/helpdesk/rules/new", data)
        assert page.status_code == 422 and "JSON object" in page.text
        data["a0_params"] = '{"mark": "✓"}'
        assert _post(manager, "/helpdesk/rules/new", data).status_code == 302
        assert rules.get_rule_by_name("Stamp", actor=SYSTEM).actions == [
            {"type": "stamp", "mark": "✓"}]


def test_the_list_reorders_enables_and_shows_a_paused_rule(team: t.Any, browse: t.Any) -> None:
    a, b, c = (rules.create_rule(actor=SYSTEM, name=n, when={"type": "manual"},
                                 actions=[{"type": "raise_priority"}]) for n in "ABC")
    manager = browse(team.manager)
    assert _rows(manager.get("/helpdesk/rules").text) == ["A", "B", "C"]
    page = "/helpdesk/rules"
    manager.submit(f"/helpdesk/rules/{c.id}/move", {"by": "-1"}, page=page)
    manager.submit(f"/helpdesk/rules/{c.id}/move", {"by": "-1"}, page=page)
    manager.submit(f"/helpdesk/rules/{a.id}/move", {"by": "1"}, page=page)
    assert _rows(manager.get(page).text) == ["C", "B", "A"]
    assert [r.name for r in rules.list_rules(actor=SYSTEM)] == ["C", "B", "A"]
    manager.submit(f"/helpdesk/rules/{b.id}/enabled", {"enabled": "1"}, page=page)
    html = manager.get(page).text
    row = html.split(f'id="rule-{b.id}"')[1].split("</tr>")[0]
    assert "hd-badge-on" in row and ">Disable<" in row
    # A rule paused by the engine shows its error; enabling it again re-checks it.
    rules.update_rule(a.id, actor=SYSTEM, changes=rules.RuleChanges(
        actions=[{"type": "assign", "strategy": "agent", "agent_id": team.boris.id}]))
    from flask_helpdesk.services import agents

    agents.update_agent(team.boris.id, actor=SYSTEM, active=False)
    from flask_helpdesk.models import Rule

    s = get_state().db.session
    s.get(Rule, a.id).error = "Boris Billing is deactivated and cannot be assigned."
    s.commit()
    html = manager.get(page).text
    row = html.split(f'id="rule-{a.id}"')[1].split("</tr>")[0]
    assert "paused" in row and "Boris Billing is deactivated" in row
    answer = manager.submit(f"/helpdesk/rules/{a.id}/enabled", {"enabled": "1"}, page=page)
    assert answer.status_code == 302
    assert "is deactivated and cannot be assigned" in manager.get(page).text
    assert rules.get_rule(a.id, actor=SYSTEM).enabled is False


def test_dry_run_lists_the_tickets_as_links(team: t.Any, browse: t.Any) -> None:
    hit, miss = _ticket(team, "Outage in Berlin"), _ticket(team, "Invoice")
    tickets.update_ticket(hit.id, actor=SYSTEM, changes=tickets.TicketChanges(
        add_tags=["outage"]))
    made = rules.create_rule(actor=SYSTEM, name="Outage", when={"type": "manual"},
                             conditions={"all": [{"field": "tags", "op": "has_any",
                                                  "value": ["outage"]}]},
                             actions=[{"type": "note", "text": "Known outage"}])
    page = browse(team.manager).get(f"/helpdesk/rules/{made.id}/dry-run").text
    assert "would touch 1 ticket now" in page
    assert f'href="/helpdesk/tickets/{hit.id}">Outage in Berlin</a>' in page
    assert f"/helpdesk/tickets/{miss.id}" not in page
    assert tickets.get_ticket(hit.id, actor=SYSTEM).updated_at == hit.updated_at


@pytest.fixture
def workers(app: t.Any) -> t.Iterator[Workers]:
    w = Workers(app)
    w.start()
    yield w
    assert w.worker is not None
    w.worker.stop()


def test_run_rule_shows_progress_and_the_summary(team: t.Any, browse: t.Any,
                                                 workers: Workers) -> None:
    made = [_ticket(team, f"Outage {i}") for i in range(3)]
    for tk in made[:2]:
        tickets.update_ticket(tk.id, actor=SYSTEM, changes=tickets.TicketChanges(
            add_tags=["outage"]))
    rule = rules.create_rule(actor=SYSTEM, name="Outage", when={"type": "manual"},
                             conditions={"all": [{"field": "tags", "op": "has_any",
                                                  "value": ["outage"]}]},
                             actions=[{"type": "note", "text": "Known outage"}])
    manager = browse(team.manager)
    answer = manager.submit(f"/helpdesk/rules/{rule.id}/run", {},
                            page=f"/helpdesk/rules/{rule.id}")
    assert answer.status_code == 302
    run_url = answer.headers["Location"]
    run_id = int(run_url.rstrip("/").split("/")[-1])
    workers.join()
    get_state().db.session.rollback()
    status = manager.get(f"/helpdesk/rules/runs/{run_id}.json").get_json()
    assert {k: status[k] for k in ("state", "total", "done", "touched", "skipped",
                                   "failed")} == {
        "state": "done", "total": 2, "done": 2, "touched": 2, "skipped": 0, "failed": 0}
    page = manager.get(run_url).text
    assert "finished" in page and 'data-field="touched">2<' in page
    listing = manager.get("/helpdesk/rules").text
    assert "2 touched, 0 skipped, 0 failed" in listing
    assert browse(team.anna).get(f"/helpdesk/rules/runs/{run_id}.json").status_code == 403
