"""The rule editor: the list of rules, the form, dry runs and "run rule" with its progress.

Managers and admins only: every view goes through a rules service function,
which refuses anyone else with 403. The form is server-rendered and works
without JavaScript (adding or removing a row re-renders the form with what
was typed); ``rules.js`` adds and removes rows in place, shows only the
inputs that fit each row's choice and follows a run's progress. The form's
shape lives in :mod:`._rule_form`.
"""

from __future__ import annotations

import typing as t

from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from ...errors import Conflict
from ...errors import HelpdeskError
from ...errors import NotFound
from ...errors import ValidationError
from ...extension import get_state
from ...i18n import _
from ...services import RuleChanges
from ...services import agents
from ...services import calendars
from ...services import rule_actions
from ...services import rule_conditions
from ...services import rules
from ...services import tags
from ...services import templates
from ...services import whole_number
from ...services.rules import ANCHORS
from ...services.rules import EVENT_KINDS
from ...services.rules import WATCHED_FIELDS
from .. import _serialize as serialize
from . import _rule_form as form
from ._common import bp
from ._common import current_agent

if t.TYPE_CHECKING:
    from ...models import Rule

#: Errors shown in the form, next to the field at fault.
FORM_ERRORS = (ValidationError, Conflict, NotFound)

#: Most tickets a dry run lists.
DRY_RUN_LIMIT = 200


@bp.get("/rules", endpoint="rules")
def rule_list() -> str:
    """Every rule in run order, with its state and its last run."""
    actor = current_agent()
    return render_template("helpdesk/rules.html", rules=rules.list_rules(actor=actor),
                           runs=rules.last_runs(actor=actor), when_text=when_text)


@bp.route("/rules/new", methods=["GET", "POST"], endpoint="new_rule")
def new_rule() -> t.Any:
    """The empty form; saving creates the rule (disabled unless ticked) and lists it."""
    actor = current_agent()
    rules.list_rules(actor=actor)  # managers only
    if request.method == "GET":
        return _form(None, form.blank())
    draft = form.from_form(request.form)
    if _editing(draft):
        return _form(None, draft)
    try:
        rule = rules.create_rule(actor=actor, enabled=draft["enabled"],
                                 **form.to_service(draft))
    except FORM_ERRORS as exc:
        return _form(None, draft, exc)
    flash(_("Rule %(name)s saved.", name=rule.name), "success")
    return redirect(url_for(".rules", _anchor=f"rule-{rule.id}"))


@bp.route("/rules/<helpdesk_id:rule_id>", methods=["GET", "POST"], endpoint="edit_rule")
def edit_rule(rule_id: int) -> t.Any:
    """A rule's form, its dry run and "run rule"."""
    actor = current_agent()
    rule = rules.get_rule(rule_id, actor=actor)
    if request.method == "GET":
        return _form(rule, form.from_rule(rule))
    draft = form.from_form(request.form)
    if _editing(draft):
        return _form(rule, draft)
    try:
        rule = rules.update_rule(rule_id, actor=actor, changes=RuleChanges(
            enabled=draft["enabled"], **form.to_service(draft)))
    except FORM_ERRORS as exc:
        return _form(rule, draft, exc)
    flash(_("Rule %(name)s saved.", name=rule.name), "success")
    return redirect(url_for(".rules", _anchor=f"rule-{rule.id}"))


@bp.post("/rules/<helpdesk_id:rule_id>/delete", endpoint="delete_rule")
def delete_rule(rule_id: int) -> t.Any:
    actor = current_agent()
    name = rules.get_rule(rule_id, actor=actor).name
    rules.delete_rule(rule_id, actor=actor)
    flash(_("Rule %(name)s deleted.", name=name), "success")
    return redirect(url_for(".rules"))


@bp.post("/rules/<helpdesk_id:rule_id>/move", endpoint="move_rule")
def move_rule(rule_id: int) -> t.Any:
    """One place up (``by=-1``) or down (``by=1``) in the run order."""
    rules.move_rule(rule_id, actor=current_agent(),
                    by=-1 if request.form.get("by") == "-1" else 1)
    return redirect(url_for(".rules", _anchor=f"rule-{rule_id}"))


@bp.post("/rules/<helpdesk_id:rule_id>/enabled", endpoint="enable_rule")
def enable_rule(rule_id: int) -> t.Any:
    """Enable or disable; enabling validates the rule again (a paused rule's error shows)."""
    actor = current_agent()
    enabled = request.form.get("enabled") == "1"
    try:
        rule = rules.update_rule(rule_id, actor=actor, changes=RuleChanges(enabled=enabled))
    except FORM_ERRORS as exc:
        flash(exc.message, "error")
    else:
        flash(_("Rule %(name)s enabled.", name=rule.name) if enabled else
              _("Rule %(name)s disabled.", name=rule.name), "success")
    return redirect(url_for(".rules", _anchor=f"rule-{rule_id}"))


@bp.post("/rules/defaults", endpoint="install_default_rules")
def install_default_rules() -> t.Any:
    """Add the shipped example rules (disabled) that are not there yet."""
    made = rules.install_defaults(actor=current_agent())
    flash(_("%(count)d example rules added, disabled.", count=len(made)), "success")
    return redirect(url_for(".rules"))


@bp.get("/rules/<helpdesk_id:rule_id>/dry-run", endpoint="dry_run_rule")
def dry_run_rule(rule_id: int) -> str:
    """The tickets the rule would touch now, as links; nothing is changed."""
    actor = current_agent()
    rule = rules.get_rule(rule_id, actor=actor)
    result = rules.dry_run(rule_id, actor=actor, limit=DRY_RUN_LIMIT)
    return str(render_template("helpdesk/rule_dry_run.html", rule=rule, result=result))


@bp.post("/rules/<helpdesk_id:rule_id>/run", endpoint="run_rule")
def run_rule(rule_id: int) -> t.Any:
    """Start the background run and show its progress."""
    try:
        run = rules.run_rule(rule_id, actor=current_agent())
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for(".edit_rule", rule_id=rule_id))
    return redirect(url_for(".rule_run", run_id=run.id))


@bp.get("/rules/runs/<helpdesk_id:run_id>", endpoint="rule_run")
def rule_run(run_id: int) -> str:
    """A run's progress (the page follows it) and, at the end, its summary."""
    actor = current_agent()
    run = rules.get_run(run_id, actor=actor)
    return render_template("helpdesk/rule_run.html", run=run,
                           rule=rules.get_rule(run.rule_id, actor=actor))


@bp.get("/rules/runs/<helpdesk_id:run_id>.json", endpoint="rule_run_json")
def rule_run_json(run_id: int) -> t.Any:
    """The run's progress for the page's script."""
    return jsonify(serialize.rule_run(rules.get_run(run_id, actor=current_agent())))


# ------------------------------------------------------------------ helpers


def _editing(draft: form.Draft) -> bool:
    """Apply an "add row" / "remove row" button (the form without script); True if one."""
    op = request.form.get("op", "save")
    if op == "add_condition":
        draft["conditions"].append(form.blank_condition())
    elif op == "add_action":
        draft["actions"].append(form.blank_action())
    elif op.startswith(("remove_condition:", "remove_action:")):
        kind, _sep, index = op.partition(":")
        rows = draft["conditions" if kind == "remove_condition" else "actions"]
        row = whole_number(index, maximum=len(rows) - 1)
        if row is not None:
            del rows[row]
    else:
        return False
    return True


def _form(rule: Rule | None, draft: form.Draft,
          error: HelpdeskError | None = None) -> tuple[str, int] | str:
    actor = current_agent()
    place = form.error_place(draft, error) if error else ("", None)
    known = rule_actions.registry()
    body = render_template(
        "helpdesk/rule_form.html", rule=rule, draft=draft, error=error, place=place,
        f=form, event_kinds=EVENT_KINDS, anchors=ANCHORS, watched=WATCHED_FIELDS,
        op_fields={op: " ".join(name for name in form.CONDITION_FIELDS if op in _ops(name))
                   for op in form.OP_LABELS},
        action_types=list(known), plugin_actions=[k for k in known
                                                  if k not in form.ACTION_LABELS],
        groups=agents.list_groups(), agents=agents.list_agents(),
        calendars=calendars.list_calendars(actor=actor),
        templates=[tp for tp in templates.list_templates(actor=actor) if tp.shared],
        tag_names=[tag.name for tag in tags.list_tags(limit=500)],
        languages=get_state().config.languages,
        channels=list(get_state().channels), placeholders=rule_actions.PLACEHOLDERS,
    )
    return (body, error.http_status) if error else body


def _ops(name: str) -> tuple[str, ...]:
    if name in ("custom", "customer"):
        name = f"{name}.key"
    return rule_conditions.field(name).ops


def when_text(rule: Rule) -> str:
    """A rule's "when" in words, for the list."""
    when = rule.when
    if when["type"] == "manual":
        return str(form.WHEN_TYPES["manual"])
    if when["type"] == "event":
        text = str(form.EVENT_LABELS.get(str(when["on"]), when["on"]))
        if when["on"] == "tag.added":
            text += f": {when['tag']}"
        elif when["on"] == "field.changed":
            text += f": {form.WATCHED_LABELS.get(str(when['field']), when['field'])}"
        return text
    values = form.when_values(dict(when))
    text = str(_("%(amount)s %(unit)s %(since)s", amount=values["amount"],
                 unit=form.UNIT_LABELS[values["unit"]],
                 since=form.ANCHOR_LABELS[values["since"]]))
    return text + (str(_(", in business hours")) if when.get("business_hours") else "")
