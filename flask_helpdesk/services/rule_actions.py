"""Rule actions: validated when a rule is saved, applied through the services.

Each action is ``{"type": ..., ...}``. Applying one calls the same service an
agent's click calls, with the rule's :class:`SystemActor`, so every change is
a history event naming the rule. Plugins add actions through the
``helpdesk_register_rule_actions`` hook.

The texts of ``reply``, ``note``, ``notify`` and ``out_of_hours_reply`` are
sandboxed Jinja templates with the placeholders of reply templates
(``{{ customer.name }}``), checked when the rule is saved; the old
``str.format`` placeholders (``{customer_name}``) are rewritten on the way in
(:func:`upgrade_legacy`), and filling a text in is bounded (:func:`fill`).
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from sqlalchemy import func
from sqlalchemy import select

from ..errors import ValidationError
from ..i18n import _
from ..models import Agent
from ..models import Ticket
from ..models import agent_groups
from ..models.ticket import PRIORITIES
from ..models.ticket import STATUSES
from ..models.ticket import UNSOLVED
from . import _placeholders
from . import _validate as v
from . import rule_business_hours
from ._uow import SystemActor
from ._uow import record
from ._uow import session

#: Placeholders a reply, note or notification may use (those of reply
#: templates, written the same way: ``{{ customer.name }}``).
PLACEHOLDERS = _placeholders.PLACEHOLDERS

#: The placeholders of rules saved before rule texts were templates, and what
#: each is now. A text given with them (``{customer_name}``) is saved with the
#: new ones (``{{ customer.name }}``); migration 0010 rewrote stored rules.
LEGACY_PLACEHOLDERS = {"customer_name": "customer.name", "ticket_id": "ticket.id",
                       "agent_name": "agent.name", "opens_at": "opens_at"}

#: Longest text of a reply, note or notification action.
TEXT_MAX = 20_000

#: A single-brace placeholder: ``{name}``, ``{name!r}``, ``{name:>9}``.
_SINGLE = re.compile(r"(?<!\{)\{\s*([A-Za-z_][\w.]*)\s*(![rsa])?(:[^{}]*)?\}(?!\})")


class RuleTextError(ValidationError):
    """A rule's text could not be filled in for a ticket; the rule is paused with it."""


@dataclasses.dataclass(frozen=True)
class Action:
    """A kind of action.

    :ivar validate: Takes the action dict, returns it normalized or raises
        :class:`ValidationError`.
    :ivar apply: Takes the ticket id, the rule's actor and the action dict;
        runs inside the rule's transaction.
    """

    validate: t.Callable[[dict[str, t.Any]], dict[str, t.Any]]
    apply: t.Callable[[int, SystemActor, dict[str, t.Any]], None]


def upgrade_legacy(text: str) -> str:
    """``text`` with its old single-brace placeholders written the new way.

    ``Hello {customer_name}`` becomes ``Hello {{ customer.name }}``; the rest
    of the text is left as it is.

    :raises ValidationError: Another single-brace name (``{name}``), or an old
        placeholder with a format spec or a conversion (``{ticket_id:05}``):
        placeholders take none.
    """

    def new(match: re.Match[str]) -> str:
        name = LEGACY_PLACEHOLDERS.get(match.group(1))
        if name is None:
            raise ValidationError(_(
                "Unknown placeholder {%(name)s}; use one of: %(known)s.", name=match.group(1),
                known=", ".join("{{ " + p + " }}" for p in PLACEHOLDERS)), field="actions")
        if match.group(2) or match.group(3):
            raise ValidationError(_(
                "Placeholders take no format: write {{ %(name)s }} instead of %(old)s.",
                name=name, old=match.group(0)), field="actions")
        return "{{ " + name + " }}"

    return _SINGLE.sub(new, text)


def check_template(value: t.Any, key: str = "text", *,
                   extra: t.Mapping[str, str] | None = None) -> str:
    """An action text that is a template of known placeholders, old ones upgraded.

    :param extra: Placeholders of this action besides :data:`PLACEHOLDERS`,
        each with a sample value (``{"opens_at": "Monday 09:00"}``).
    :raises ValidationError: Not text, too long, a syntax error, an unknown
        placeholder, an old placeholder with a format spec.
    """
    text = v.text(value, key, max_length=TEXT_MAX)
    try:
        text = upgrade_legacy(text)
        if len(text) > TEXT_MAX:
            raise ValidationError(_("%(field)s is too long (%(length)d characters, at most"
                                    " %(max)d).", field=key, length=len(text), max=TEXT_MAX),
                                  field="actions")
        _placeholders.check(text, field="actions", extra=extra)
    except ValidationError as exc:
        exc.field, exc.details = "actions", {**exc.details, "key": key}
        raise
    return text


def _template(action: dict[str, t.Any], key: str = "text") -> dict[str, t.Any]:
    return {**action, key: check_template(action.get(key), key)}


def fill(text: str, values: dict[str, t.Any], *, ticket_id: int) -> str:
    """Fill an action text in with ``values`` (those of a reply template, and extras).

    :raises RuleTextError: It cannot be filled in for this ticket (a value a
        filter cannot take, more than 200,000 characters).
    """
    if "{" not in text:
        return text
    try:
        return _placeholders.render(text, values)
    except ValidationError as exc:
        raise RuleTextError(_("The text cannot be filled in for ticket #%(id)s: %(error)s",
                              id=ticket_id, error=exc.details.get("reason", exc.message)),
                            field="actions") from None


def render(text: str, ticket: Ticket, **extra: t.Any) -> str:
    """Fill the placeholders of an action text for ``ticket`` (and ``extra`` ones).

    ``ticket`` needs its customer (with identities), group and assignee loaded.

    :raises RuleTextError: See :func:`fill`.
    """
    return fill(text, {**_placeholders.context(ticket, None), **extra}, ticket_id=ticket.id)


def _fields(allowed: dict[str, t.Callable[[t.Any], t.Any]]) -> t.Callable[
        [dict[str, t.Any]], dict[str, t.Any]]:
    def validate(action: dict[str, t.Any]) -> dict[str, t.Any]:
        unknown = sorted(set(action) - set(allowed) - {"type"})
        if unknown:
            raise ValidationError(_("Action %(type)s does not take %(field)s.",
                                    type=action["type"], field=unknown[0]), field="actions")
        out = {"type": action["type"]}
        for key, check in allowed.items():
            out[key] = check(action.get(key))
        return out

    return validate


def referenced(model: str, value: t.Any) -> t.Any:
    """The group or agent a rule names; a missing one is a :class:`ValidationError`."""
    from ..errors import NotFound
    from . import agents

    field = f"{model}_id"
    try:
        if model == "group":
            return agents.get_group(v.integer(value, field))
        return agents.get_agent(v.integer(value, field))
    except NotFound as exc:
        raise ValidationError(str(exc), field=field) from None


def _group_ref(value: t.Any) -> int | None:
    if value is None:
        return None
    referenced("group", value)
    return t.cast(int, value)


def _agent_ref(value: t.Any) -> int | None:
    if value is None:
        return None
    agent = referenced("agent", value)
    if not agent.active:
        raise ValidationError(_("%(name)s is deactivated and cannot be assigned.",
                                name=agent.name), field="actions")
    return t.cast(int, value)


def _change(ticket_id: int, actor: SystemActor, **changes: t.Any) -> None:
    from .tickets import TicketChanges
    from .tickets import update_ticket

    update_ticket(ticket_id, actor=actor, changes=TicketChanges(**changes))


def _assign_validate(action: dict[str, t.Any]) -> dict[str, t.Any]:
    strategy = action.get("strategy", "agent")
    v.one_of(strategy, "strategy", ("agent", "round_robin", "least_loaded"))
    if strategy == "agent":
        return {"type": "assign", "strategy": "agent", "agent_id": _agent_ref(
            action.get("agent_id"))}
    group_id = _group_ref(v.integer(action.get("group_id"), "group_id"))
    return {"type": "assign", "strategy": strategy, "group_id": group_id}


def _pick_agent(group_id: int, strategy: str) -> int | None:
    """The next agent of a group: round-robin by least recent assignment, or least loaded."""
    s = session()
    members = select(Agent.id).join(agent_groups, agent_groups.c.agent_id == Agent.id).where(
        agent_groups.c.group_id == group_id, Agent.active.is_(True))
    load = select(func.count()).where(Ticket.assignee_id == Agent.id,
                                      Ticket.status.in_(UNSOLVED)).scalar_subquery()
    if strategy == "least_loaded":
        order = [load, Agent.id]
    else:
        last = select(func.max(Ticket.id)).where(
            Ticket.assignee_id == Agent.id).scalar_subquery()
        order = [func.coalesce(last, 0), Agent.id]
    return s.scalar(select(Agent.id).where(Agent.id.in_(members)).order_by(*order).limit(1))


def _assign_apply(ticket_id: int, actor: SystemActor, action: dict[str, t.Any]) -> None:
    if action["strategy"] == "agent":
        _change(ticket_id, actor, assignee_id=action["agent_id"])
        return
    agent_id = _pick_agent(action["group_id"], action["strategy"])
    _change(ticket_id, actor, group_id=action["group_id"], assignee_id=agent_id)


def _raise_priority(ticket_id: int, actor: SystemActor, action: dict[str, t.Any]) -> None:
    current = session().get_one(Ticket, ticket_id).priority
    if current + 1 < len(PRIORITIES):
        _change(ticket_id, actor, priority=PRIORITIES[current + 1])


def _reply(ticket_id: int, actor: SystemActor, action: dict[str, t.Any]) -> None:
    from .messages import may_reply_automatically
    from .messages import reply
    from .tickets import get_ticket

    ticket = get_ticket(ticket_id, actor=actor)
    if not may_reply_automatically(ticket, actor=actor):
        return
    reply(ticket_id, actor=actor, text=render(action["text"], ticket), confirm=True)


def _note(ticket_id: int, actor: SystemActor, action: dict[str, t.Any]) -> None:
    from .messages import add_note
    from .tickets import get_ticket

    text = render(action["text"], get_ticket(ticket_id, actor=actor))
    add_note(ticket_id, actor=actor, text=text, confirm=True)


def _send_template_validate(action: dict[str, t.Any]) -> dict[str, t.Any]:
    """A shared template that exists; a personal one would depend on its owner."""
    from ..models import ReplyTemplate

    unknown = sorted(set(action) - {"type", "template_id"})
    if unknown:
        raise ValidationError(_("Action %(type)s does not take %(field)s.",
                                type=action["type"], field=unknown[0]), field="actions")
    template_id = v.integer(action.get("template_id"), "template_id")
    row = session().get(ReplyTemplate, template_id)
    if row is None:
        raise ValidationError(_("Reply template %(id)s does not exist.", id=template_id),
                              field="actions")
    if not row.shared:
        raise ValidationError(_("Rules may only send shared templates; %(name)s is personal.",
                                name=row.name), field="actions")
    return {"type": "send_template", "template_id": template_id}


def _send_template(ticket_id: int, actor: SystemActor, action: dict[str, t.Any]) -> None:
    """Send the filled-in template as an automatic reply; the reply applies its actions."""
    from .messages import may_reply_automatically
    from .messages import reply
    from .templates import fill
    from .templates import get_template
    from .tickets import get_ticket

    _send_template_validate(action)  # deleted or made personal since the rule was saved
    template = get_template(action["template_id"], actor=actor)
    ticket = get_ticket(ticket_id, actor=actor)
    if not may_reply_automatically(ticket, actor=actor):
        return
    filled = fill(template, ticket, actor)
    reply(ticket_id, actor=actor, text=filled.text, html=filled.html, confirm=True,
          template_id=template.id)


def _notify_validate(action: dict[str, t.Any]) -> dict[str, t.Any]:
    """``message``, ``to`` (default ``assignee``), ``agent_ids`` (for ``agents``), ``email``.

    A rule saved before ``to`` existed (``message`` only) reads as
    ``to: assignee, email: true``.
    """
    from .notifications import TARGETS

    unknown = sorted(set(action) - {"type", "message", "to", "agent_ids", "email"})
    if unknown:
        raise ValidationError(_("Action %(type)s does not take %(field)s.",
                                type=action["type"], field=unknown[0]), field="actions")
    out: dict[str, t.Any] = {
        "type": "notify", "message": check_template(action.get("message"), "message"),
        "to": v.one_of(action.get("to", "assignee"), "to", TARGETS)}
    email = action.get("email", True)
    if not isinstance(email, bool):
        raise ValidationError(_("%(field)s must be true or false.", field="email"),
                              field="actions")
    out["email"] = email
    ids = action.get("agent_ids")
    if out["to"] != "agents":
        if ids:
            raise ValidationError(_("Choose agents only when the notice goes to chosen"
                                    " agents."), field="actions")
        return out
    if not isinstance(ids, list) or not ids:
        raise ValidationError(_("Choose at least one agent to notify."), field="actions")
    out["agent_ids"] = sorted({_notified_agent(x) for x in ids})
    return out


def _notified_agent(value: t.Any) -> int:
    agent = referenced("agent", value)
    if not agent.active:
        raise ValidationError(_("%(name)s is deactivated and cannot be notified.",
                                name=agent.name), field="actions")
    return t.cast(int, agent.id)


def _notify(ticket_id: int, actor: SystemActor, action: dict[str, t.Any]) -> None:
    """One notification per recipient who may see the ticket, and the event naming them."""
    from ..models import AgentNotification
    from ..models import utcnow
    from . import notifications
    from ._uow import insert_ids
    from .tickets import get_ticket

    ticket = get_ticket(ticket_id, actor=actor)
    message = render(action["message"], ticket)
    facts = notifications.TicketFacts(ticket.id, ticket.group_id, ticket.assignee_id)
    recipients = notifications.plan(action, [facts])[ticket.id]
    params = notifications.rows(recipients, ticket_id=ticket.id, message=message,
                                actor_name=actor.name, email=action.get("email", True),
                                now=utcnow())
    session().flush()
    ids = insert_ids(AgentNotification, params)
    record(ticket, "rule.notified", actor, notifications.event_data(
        action, message, [a.id for a in recipients], ids))


def _url(value: t.Any) -> str:
    from urllib.parse import urlsplit

    url = v.text(value, "url", max_length=2000)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(_("The webhook URL must start with http:// or https:// and"
                                " name a host."), field="actions")
    return url


def _webhook(ticket_id: int, actor: SystemActor, action: dict[str, t.Any]) -> None:
    """Record the call; the rules plugin sends the job after the commit."""
    ticket = session().get_one(Ticket, ticket_id)
    record(ticket, "rule.webhook_queued", actor, {"url": action["url"]})


def _tags(value: t.Any) -> list[str]:
    from .tickets import normalize_tag

    if not isinstance(value, list) or not value:
        raise ValidationError(_("tags must be a list."), field="actions")
    return sorted({normalize_tag(x) for x in value})


ACTIONS: dict[str, Action] = {
    "set_status": Action(
        _fields({"status": lambda x: v.one_of(x, "status", STATUSES)}),
        lambda tid, actor, a: _change(tid, actor, status=a["status"])),
    "set_priority": Action(
        _fields({"priority": lambda x: v.one_of(x, "priority", PRIORITIES)}),
        lambda tid, actor, a: _change(tid, actor, priority=a["priority"])),
    "raise_priority": Action(_fields({}), _raise_priority),
    "set_group": Action(
        _fields({"group_id": _group_ref}),
        lambda tid, actor, a: _change(tid, actor, group_id=a["group_id"])),
    "assign": Action(_assign_validate, _assign_apply),
    "add_tags": Action(_fields({"tags": _tags}),
                       lambda tid, actor, a: _change(tid, actor, add_tags=a["tags"])),
    "remove_tags": Action(_fields({"tags": _tags}),
                          lambda tid, actor, a: _change(tid, actor, remove_tags=a["tags"])),
    "reply": Action(_template, _reply),
    "note": Action(_template, _note),
    "send_template": Action(_send_template_validate, _send_template),
    "notify": Action(_notify_validate, _notify),
    "webhook": Action(_fields({"url": _url}), _webhook),
    "out_of_hours_reply": Action(rule_business_hours.validate_action,
                                 rule_business_hours.apply_action),
}


def registry() -> dict[str, Action]:
    """Core actions plus those plugins register through ``helpdesk_register_rule_actions``."""
    from ..extension import get_state

    found = dict(ACTIONS)
    for contributed in get_state().pm.hook.helpdesk_register_rule_actions():
        for name, spec in (contributed or {}).items():
            if name in found:
                raise RuntimeError(f"Rule action {name!r} is registered twice.")
            found[name] = Action(validate=spec["validate"], apply=spec["apply"])
    return found


def validate(actions: object) -> list[dict[str, t.Any]]:
    """Check a list of actions and return it normalized.

    :raises ValidationError: An unknown action, a bad value, a deleted or
        deactivated agent, a missing group, an undefined placeholder.
    """
    if not isinstance(actions, list) or not actions:
        raise ValidationError(_("A rule needs at least one action."), field="actions")
    known = registry()
    out = []
    for index, action in enumerate(actions):
        try:
            out.append(_one(known, action))
        except ValidationError as exc:
            # Say which action is at fault, so an editor can show it there.
            exc.details = {**exc.details, "index": index}
            raise
    return out


def _one(known: dict[str, Action], action: object) -> dict[str, t.Any]:
    kind = action.get("type") if isinstance(action, dict) else None
    if not isinstance(action, dict) or not isinstance(kind, str) or kind not in known:
        raise ValidationError(
            _("Unknown action %(type)s; known: %(known)s.",
              type=kind if isinstance(kind, str) else action,
              known=", ".join(sorted(known))), field="actions")
    return known[kind].validate(dict(action))


def apply(ticket_id: int, actor: SystemActor, actions: t.Sequence[dict[str, t.Any]]) -> None:
    """Apply ``actions`` to one ticket, inside the caller's transaction."""
    known = registry()
    for action in actions:
        known[action["type"]].apply(ticket_id, actor, action)
