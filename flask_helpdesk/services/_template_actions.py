"""What sending a reply template also does to the ticket.

A template's ``actions`` is an object with any of ``status``, ``priority``,
``add_tags``, ``remove_tags``, ``assignee_id`` and ``group_id``. It is checked
when the template is saved and applied, through the ticket services' own
helpers (so each change is a history event), when a reply made from the
template is sent.
"""

from __future__ import annotations

import typing as t

from ..errors import NotFound
from ..errors import ValidationError
from ..i18n import _
from ..models.template import TEMPLATE_ACTIONS
from ..models.ticket import PRIORITIES
from ..models.ticket import STATUSES
from . import _validate as v
from ._uow import record

if t.TYPE_CHECKING:
    from ..models import Customer
    from ..models import Ticket
    from ._uow import Actor


def validate(actions: object) -> dict[str, t.Any]:
    """Check a template's actions and return them normalized (empty values dropped).

    :raises ValidationError: An unknown key, status or priority, a bad tag, a
        missing group, a missing or deactivated agent.
    """
    if actions is None:
        return {}
    if not isinstance(actions, dict):
        raise ValidationError(_("actions must be an object."), field="actions")
    unknown = sorted(set(actions) - set(TEMPLATE_ACTIONS), key=str)
    if unknown:
        raise ValidationError(_("Unknown action %(name)s; known: %(known)s.", name=unknown[0],
                                known=", ".join(TEMPLATE_ACTIONS)), field="actions")
    out: dict[str, t.Any] = {}
    if actions.get("status") not in (None, ""):
        out["status"] = v.one_of(actions["status"], "actions.status", STATUSES)
    if actions.get("priority") not in (None, ""):
        out["priority"] = v.one_of(actions["priority"], "actions.priority", PRIORITIES)
    for key in ("add_tags", "remove_tags"):
        tags = _tags(actions.get(key), f"actions.{key}")
        if tags:
            out[key] = tags
    both = sorted(set(out.get("add_tags", ())) & set(out.get("remove_tags", ())))
    if both:
        raise ValidationError(_("The tag %(tag)s cannot be both added and removed.",
                                tag=both[0]), field="actions.remove_tags")
    if actions.get("group_id") is not None:
        out["group_id"] = _group(actions["group_id"]).id
    if actions.get("assignee_id") is not None:
        out["assignee_id"] = _assignee(actions["assignee_id"], out.get("group_id")).id
    return out


def _tags(value: object, field: str) -> list[str]:
    from .tickets import normalize_tag

    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ValidationError(_("%(field)s must be a list of tags.", field=field), field=field)
    try:
        return sorted({normalize_tag(tag) for tag in value})
    except ValidationError as exc:
        exc.field = field
        raise


def _group(value: object) -> t.Any:
    from .agents import get_group

    try:
        return get_group(v.integer(value, "actions.group_id"))
    except NotFound as exc:
        raise ValidationError(exc.message, field="actions.group_id") from None


def _assignee(value: object, group_id: int | None) -> t.Any:
    from .agents import get_agent
    from .agents import get_group

    try:
        agent = get_agent(v.integer(value, "actions.assignee_id"))
    except NotFound as exc:
        raise ValidationError(exc.message, field="actions.assignee_id") from None
    if not agent.active:
        raise ValidationError(_("%(name)s is deactivated and cannot be assigned.",
                                name=agent.name), field="actions.assignee_id")
    if group_id is not None and not agent.sees_all and group_id not in agent.group_ids:
        raise ValidationError(_("%(name)s is not a member of the group %(group)s.",
                                name=agent.name, group=get_group(group_id).name),
                              field="actions.assignee_id")
    return agent


def summary(actions: t.Mapping[str, t.Any]) -> list[str]:
    """The actions in words, for the picker's "Will also: ..." line."""
    from .agents import get_agent
    from .agents import get_group
    from .tickets import status_label

    out = []
    if actions.get("status"):
        out.append(_("set status %(status)s", status=status_label(actions["status"])))
    if actions.get("priority"):
        out.append(_("set priority %(priority)s", priority=_priority_label(
            actions["priority"])))
    added, removed = actions.get("add_tags") or [], actions.get("remove_tags") or []
    if added:
        out.append(_("add tags %(tags)s", tags=", ".join(added)))
    if removed:
        out.append(_("remove tags %(tags)s", tags=", ".join(removed)))
    try:
        if actions.get("group_id"):
            out.append(_("move to %(group)s", group=get_group(actions["group_id"]).name))
        if actions.get("assignee_id"):
            out.append(_("assign to %(agent)s", agent=get_agent(actions["assignee_id"]).name))
    except NotFound:
        pass  # deleted since; sending says so
    return [str(item) for item in out]


def _priority_label(name: str) -> str:
    labels = {"low": _("low"), "normal": _("normal"), "high": _("high"), "urgent": _("urgent")}
    return str(labels.get(name, name))


def apply(actions: t.Mapping[str, t.Any], ticket: Ticket, actor: Actor | Customer) -> None:
    """Apply a template's actions to ``ticket`` inside the current transaction.

    :raises ValidationError: A change is not possible now (a status the ticket
        cannot reach, an agent deactivated since the template was saved).
    """
    from . import tickets

    if "group_id" in actions or "assignee_id" in actions:
        tickets._set_group_and_assignee(ticket, t.cast("Actor", actor),
                                        actions.get("group_id", v.UNSET),
                                        actions.get("assignee_id", v.UNSET))
    if actions.get("add_tags") or actions.get("remove_tags"):
        tickets._change_tags(ticket, t.cast("Actor", actor), actions.get("add_tags", ()),
                             actions.get("remove_tags", ()))
    if actions.get("priority"):
        rank = tickets.priority_rank(actions["priority"])
        if rank != ticket.priority:
            record(ticket, "ticket.updated", actor, {
                "field": "priority", "old": ticket.priority_name, "new": actions["priority"]})
            ticket.priority = rank
    if actions.get("status"):
        tickets.set_status(ticket, actor, actions["status"])
