"""Rules: managed by managers, run on events, on time, or by hand.

A rule is "when" + conditions + actions (see :doc:`rules`). This module holds
what a manager does with rules: list, create, change, delete, dry-run, run by
hand and follow the run. :mod:`.automation` runs them.

``when`` is one of:

- ``{"type": "event", "on": KIND}`` with ``KIND`` one of :data:`EVENT_KINDS`;
  ``field.changed`` takes ``field`` and optionally ``from`` / ``to``,
  ``tag.added`` takes ``tag``;
- ``{"type": "time", "since": ANCHOR, "minutes": N}`` with ``ANCHOR`` one of
  :data:`ANCHORS` (calendar time; with ``"business_hours": true`` open time
  of the ticket's calendar, or of ``"calendar_id"``);
- ``{"type": "manual"}``: only "run rule".
"""

from __future__ import annotations

import dataclasses
import typing as t

from sqlalchemy import func
from sqlalchemy import select

from ..errors import Conflict
from ..errors import NotFound
from ..errors import ValidationError
from ..i18n import _
from ..models import Rule
from ..models import RuleRun
from ..models import Ticket
from ..models import utcnow
from . import _validate as v
from . import rule_actions
from . import rule_conditions
from ._uow import Actor
from ._uow import SystemActor
from ._uow import session
from ._uow import transaction
from .permissions import require_role

#: Kinds of event a rule can start on.
EVENT_KINDS = ("ticket.created", "message.received", "message.replied", "note.added",
               "field.changed", "tag.added")

#: Fields whose changes ``field.changed`` can watch (plus ``custom_fields.<name>``).
WATCHED_FIELDS = ("status", "priority", "group", "assignee", "subject")

#: Timestamps a time rule counts from; each change of one starts a new episode.
ANCHORS = ("created", "updated", "last_customer_message", "last_agent_reply",
           "status_changed")

#: Longest delay of a time rule: one year.
MAX_MINUTES = 366 * 24 * 60


@dataclasses.dataclass
class RuleChanges:
    """What to change on a rule; fields left :data:`~flask_helpdesk.services.UNSET` stay."""

    name: str = v.UNSET
    when: dict[str, t.Any] = v.UNSET
    conditions: dict[str, t.Any] = v.UNSET
    actions: list[dict[str, t.Any]] = v.UNSET
    position: int = v.UNSET
    enabled: bool = v.UNSET


@dataclasses.dataclass(frozen=True)
class DryRun:
    """The tickets a rule would touch now: how many, and the first ``ticket_ids``.

    :ivar tickets: The tickets of ``ticket_ids``, in that order.
    """

    total: int
    ticket_ids: list[int]
    tickets: list[Ticket] = dataclasses.field(default_factory=list)


def rule_actor(rule: Rule) -> SystemActor:
    """The actor a rule's changes are recorded with: ``Rule: <name>``."""
    return SystemActor(name=f"Rule: {rule.name}", kind="rule")


def validate_when(when: object) -> dict[str, t.Any]:
    """Check a rule's "when" and return it normalized.

    :raises ValidationError: Unknown kind, field, anchor, or a bad delay.
    """
    if not isinstance(when, dict):
        raise ValidationError(_('"when" must be an object with a type.'), field="when")
    kind = v.one_of(when.get("type"), "when.type", ("event", "time", "manual"))
    if kind == "manual":
        _only(when, {"type"})
        return {"type": "manual"}
    if kind == "time":
        from .rule_business_hours import validate_when as business

        _only(when, {"type", "since", "minutes", "business_hours", "calendar_id"})
        minutes = v.integer(when.get("minutes"), "when.minutes")
        if minutes > MAX_MINUTES:
            raise ValidationError(_("A time rule waits at most a year."), field="when")
        return business(when, {"type": "time", "since": v.one_of(
            when.get("since"), "when.since", ANCHORS), "minutes": minutes})
    on = v.one_of(when.get("on"), "when.on", EVENT_KINDS)
    if on == "tag.added":
        from .tickets import normalize_tag

        _only(when, {"type", "on", "tag"})
        return {"type": "event", "on": on, "tag": normalize_tag(when.get("tag"))}
    if on != "field.changed":
        _only(when, {"type", "on"})
        return {"type": "event", "on": on}
    _only(when, {"type", "on", "field", "from", "to"})
    name = when.get("field")
    if not isinstance(name, str) or name not in WATCHED_FIELDS and not (
            isinstance(name, str) and name.startswith("custom_fields.") and len(name) > 14):
        raise ValidationError(_("when.field must be one of: %(allowed)s.", allowed=", ".join(
            (*WATCHED_FIELDS, "custom_fields.<name>"))), field="when")
    out = {"type": "event", "on": on, "field": name}
    for key in ("from", "to"):
        if key in when:
            out[key] = when[key]
    return out


def _only(when: dict[str, t.Any], allowed: set[str]) -> None:
    unknown = sorted(set(when) - allowed)
    if unknown:
        raise ValidationError(_('"when" does not take %(key)s here.', key=unknown[0]),
                              field="when")


def list_rules(*, actor: Actor) -> list[Rule]:
    """Every rule in run order."""
    require_role(actor, "manager")
    return list(session().scalars(select(Rule).order_by(Rule.position, Rule.id)))


def get_rule(rule_id: int, *, actor: Actor) -> Rule:
    """One rule.

    :raises NotFound: No such rule.
    """
    require_role(actor, "manager")
    rule = session().get(Rule, rule_id) if isinstance(rule_id, int) else None
    if rule is None:
        raise NotFound(_("Rule %(id)s does not exist.", id=rule_id))
    return rule


def get_rule_by_name(name: str, *, actor: Actor) -> Rule:
    """The rule called ``name``.

    :raises NotFound: No such rule.
    """
    require_role(actor, "manager")
    rule = session().scalar(select(Rule).where(Rule.name == name))
    if rule is None:
        raise NotFound(_("No rule is called %(name)s.", name=name))
    return rule


def create_rule(
    *, actor: Actor, name: str, when: dict[str, t.Any], actions: list[dict[str, t.Any]],
    conditions: dict[str, t.Any] | None = None, enabled: bool = False,
    position: int | None = None,
) -> Rule:
    """Add a rule (disabled unless ``enabled``), last in order unless ``position`` says.

    :raises ValidationError: Anything a rule could not run with: unknown
        fields, impossible conditions, deleted agents or groups, undefined
        placeholders.
    :raises Conflict: Another rule has that name.
    """
    require_role(actor, "manager")
    with transaction() as s:
        if position is None:
            position = (s.scalar(select(func.max(Rule.position))) or 0) + 1
        rule = Rule(created_at=utcnow(), conditions={}, actions=[], when={}, enabled=False)
        _apply(rule, RuleChanges(name=name, when=when, conditions=conditions or {},
                                 actions=actions, position=position, enabled=enabled))
        s.add(rule)
    _changed()
    return rule


def update_rule(rule_id: int, *, actor: Actor, changes: RuleChanges) -> Rule:
    """Change a rule. Enabling a paused rule clears its error.

    :raises ValidationError: As for :func:`create_rule`.
    """
    with transaction():
        rule = get_rule(rule_id, actor=actor)
        _apply(rule, changes)
    _changed()
    return rule


def delete_rule(rule_id: int, *, actor: Actor) -> None:
    """Delete a rule, its ledger and its runs."""
    with transaction() as s:
        s.delete(get_rule(rule_id, actor=actor))
    _changed()


def move_rule(rule_id: int, *, actor: Actor, by: int) -> list[Rule]:
    """Move a rule ``by`` places in the run order (negative: earlier).

    Positions are renumbered 1, 2, 3... in the new order; moving past either
    end stops there.

    :return: Every rule in the new order.
    """
    if isinstance(by, bool) or not isinstance(by, int):
        raise ValidationError(_("%(field)s must be a whole number.", field="by"), field="by")
    with transaction():
        ordered = list_rules(actor=actor)
        rule = get_rule(rule_id, actor=actor)
        index = ordered.index(rule)
        ordered.insert(max(0, min(len(ordered) - 1, index + by)), ordered.pop(index))
        now = utcnow()
        for position, item in enumerate(ordered, start=1):
            if item.position != position:
                item.position, item.updated_at = position, now
    _changed()
    return ordered


def last_runs(*, actor: Actor) -> dict[int, RuleRun]:
    """The latest manual run of each rule that has one, by rule id."""
    require_role(actor, "manager")
    latest = select(func.max(RuleRun.id)).group_by(RuleRun.rule_id)
    return {run.rule_id: run for run in session().scalars(
        select(RuleRun).where(RuleRun.id.in_(latest)))}


def _apply(rule: Rule, changes: RuleChanges) -> None:
    if changes.name is not v.UNSET:
        name = v.text(changes.name, "name", max_length=100)
        taken = session().scalar(select(Rule.id).where(Rule.name == name, Rule.id != rule.id))
        if taken is not None:
            raise Conflict(_("A rule called %(name)s already exists.", name=name))
        rule.name = str(name)
    if changes.when is not v.UNSET:
        when = validate_when(changes.when)
        rule.when, rule.trigger = when, str(when["type"])
    if changes.conditions is not v.UNSET:
        rule.conditions = dict(rule_conditions.validate(changes.conditions))
    if changes.actions is not v.UNSET:
        rule.actions = rule_actions.validate(changes.actions)
    if changes.position is not v.UNSET:
        rule.position = v.integer(changes.position, "position", minimum=0)
    if changes.enabled is not v.UNSET:
        if not isinstance(changes.enabled, bool):
            raise ValidationError(_("enabled must be true or false."), field="enabled")
        if changes.enabled and not rule.enabled:
            # Re-check what may have changed since saving (a deleted agent).
            rule_conditions.validate(rule.conditions)
            rule_actions.validate(rule.actions)
            rule.error = None
        rule.enabled = changes.enabled
    rule.updated_at = utcnow()


def _changed() -> None:
    from .automation import forget_rules

    forget_rules()


def dry_run(rule_id: int, *, actor: Actor, limit: int = 100) -> DryRun:
    """The tickets the rule would touch if it ran now, changing nothing.

    A time rule lists the tickets that are due and have not had it for their
    current episode; other rules list the tickets meeting the conditions.
    """
    from .automation import candidates

    rule = get_rule(rule_id, actor=actor)
    ids = list(candidates(rule, now=utcnow()))
    shown = ids[:limit]
    found = {tk.id: tk for tk in session().scalars(select(Ticket).where(Ticket.id.in_(shown)))}
    return DryRun(total=len(ids), ticket_ids=shown,
                  tickets=[found[i] for i in shown if i in found])


def run_rule(rule_id: int, *, actor: Actor, send: bool = True) -> RuleRun:
    """Start a background run of the rule over every ticket meeting its conditions.

    Follow it with :func:`get_run`. With ``send=False`` the caller runs it
    (``flask helpdesk run-rule``).

    :raises Conflict: The rule is already running.
    """
    from ..extension import get_state

    with transaction() as s:
        rule = get_rule(rule_id, actor=actor)
        busy = s.scalar(select(RuleRun.id).where(
            RuleRun.rule_id == rule.id, RuleRun.state.in_(("queued", "running"))))
        if busy is not None:
            raise Conflict(_("Rule %(name)s is already running (run %(id)s).", name=rule.name,
                             id=busy))
        run = RuleRun(rule_id=rule.id, state="queued", total=0, done=0, touched=0, skipped=0,
                      failed=0, created_at=utcnow())
        s.add(run)
    if send:
        get_state().jobs.send("rules_run", run.id)
    return run


def get_run(run_id: int, *, actor: Actor) -> RuleRun:
    """A manual run and its progress.

    :raises NotFound: No such run.
    """
    require_role(actor, "manager")
    run = session().get(RuleRun, run_id) if isinstance(run_id, int) else None
    if run is None:
        raise NotFound(_("Rule run %(id)s does not exist.", id=run_id))
    return run



def default_rules() -> list[dict[str, t.Any]]:
    """The example rules :func:`install_defaults` adds (translated texts)."""
    from ..extension import get_state

    pending = {"field": "status", "op": "is", "value": "pending"}
    reminded = {"field": "tags", "op": "has_any", "value": ["reminded"]}
    return [
        {"name": str(_("Remind pending customers after 24 hours")),
         "when": {"type": "time", "since": "status_changed", "minutes": 24 * 60},
         "conditions": {"all": [pending]},
         "actions": [{"type": "reply", "text": str(_(
             "Hello {{ customer.name }}, we are waiting for your information on ticket"
             " #{{ ticket.id }}. Reply to this message to continue, or write to us if the"
             " question is no longer relevant."))},
             {"type": "add_tags", "tags": ["reminded"]}]},
        {"name": str(_("Forget the reminder when the customer answers")),
         "when": {"type": "event", "on": "message.received"},
         "conditions": {"all": [reminded]},
         "actions": [{"type": "remove_tags", "tags": ["reminded"]}]},
        {"name": str(_("Resolve pending tickets 72 hours after the reminder")),
         "when": {"type": "time", "since": "last_agent_reply", "minutes": 72 * 60},
         "conditions": {"all": [pending, reminded]},
         "actions": [{"type": "set_status", "status": "resolved"},
                     {"type": "note", "text": str(_(
                         "Resolved automatically: no answer 72 hours after the reminder."))}]},
        {"name": str(_("Close tickets resolved for 7 days")),
         "when": {"type": "time", "since": "status_changed", "minutes": 7 * 24 * 60},
         "conditions": {"all": [{"field": "status", "op": "is", "value": "resolved"}]},
         "actions": [{"type": "set_status", "status": "closed"}]},
        {"name": str(_("Out-of-hours auto-reply")),
         "when": {"type": "event", "on": "message.received"},
         "conditions": {"all": [{"field": "business_hours", "op": "outside", "value": None}]},
         "actions": [{"type": "out_of_hours_reply", "language": _locale(get_state()),
                      "text": str(_(
                          "Hello {{ customer.name }}, thank you for your message. Our team is"
                          " away now; we are back {{ opens_at }} and will answer you then."))}]},
    ]


def _locale(state: t.Any) -> str:
    """The language the default texts were just translated into."""
    from flask_babel import get_locale

    locale = str(get_locale() or state.config.default_language)
    return locale if locale in state.config.languages else state.config.default_language


def install_defaults(*, actor: Actor) -> list[Rule]:
    """Add the shipped example rules, disabled, skipping names already taken."""
    require_role(actor, "manager")
    taken = set(session().scalars(select(Rule.name)))
    return [create_rule(actor=actor, **spec) for spec in default_rules()
            if spec["name"] not in taken]
