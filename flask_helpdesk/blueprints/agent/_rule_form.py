"""The rule editor's form: a rule as form fields and back.

A *draft* is what the form shows: plain strings and lists keyed like the
inputs, one dict per condition row and per action row. :func:`from_rule`
turns a saved rule into a draft, :func:`from_form` reads the posted form
(keeping every row exactly as typed, so an error loses nothing), and
:func:`to_service` turns a draft into the ``when``, ``conditions`` and
``actions`` of :func:`~flask_helpdesk.services.rules.create_rule`. The
service validates; this module only shapes.

Form names: ``when_*`` for the "when", ``c<i>_*`` for condition row ``i``
and ``a<i>_*`` for action row ``i`` (rows may be numbered with gaps: the
page's script adds rows with fresh numbers).
"""

from __future__ import annotations

import json
import re
import typing as t

from ...errors import ValidationError
from ...i18n import _
from ...i18n import lazy_gettext
from ...services import whole_number

if t.TYPE_CHECKING:
    from werkzeug.datastructures import MultiDict

    from ...models import Rule

Draft = dict[str, t.Any]

#: Minutes per unit of a time rule's delay.
UNITS = {"minutes": 1, "hours": 60, "days": 24 * 60}

#: Condition fields offered by the editor (``custom`` and ``customer`` take a key).
CONDITION_FIELDS = ("status", "priority", "channel", "account", "group", "assignee", "tags",
                    "subject", "text", "customer.identity", "customer", "custom",
                    "business_hours")

#: Widgets that hold a condition's value, by field.
VALUE_WIDGET = {
    "status": "status", "priority": "priority", "group": "groups", "assignee": "assignees",
    "business_hours": "calendar", "customer.identity": "text",
}

#: The ``from``/``to`` of ``field.changed`` that are ids, not names.
ID_FIELDS = ("group", "assignee")

#: Watched fields whose ``from``/``to`` are chosen from a list.
CHOICE_FIELDS = ("status", "priority", "group", "assignee")

#: Every value widget of an action row, by form-name suffix.
ACTION_WIDGETS = ("status", "priority", "group_id", "agent_id", "strategy", "tags", "text",
                  "template_id", "url", "calendar_id", "language", "params")

#: Labels of the "when" choices, condition fields, operators and actions.
WHEN_TYPES = {
    "event": lazy_gettext("when something happens"),
    "time": lazy_gettext("after a time"),
    "manual": lazy_gettext("only when run by hand"),
}
EVENT_LABELS = {
    "ticket.created": lazy_gettext("a ticket is created"),
    "message.received": lazy_gettext("the customer writes"),
    "message.replied": lazy_gettext("an agent replies"),
    "note.added": lazy_gettext("a note is added"),
    "field.changed": lazy_gettext("a field changes"),
    "tag.added": lazy_gettext("a tag is added"),
}
ANCHOR_LABELS = {
    "created": lazy_gettext("since the ticket was created"),
    "updated": lazy_gettext("since the ticket last changed"),
    "last_customer_message": lazy_gettext("since the customer's last message"),
    "last_agent_reply": lazy_gettext("since the last agent reply"),
    "status_changed": lazy_gettext("since the ticket entered its status"),
}
UNIT_LABELS = {
    "minutes": lazy_gettext("minutes"),
    "hours": lazy_gettext("hours"),
    "days": lazy_gettext("days"),
}
WATCHED_LABELS = {
    "status": lazy_gettext("Status"),
    "priority": lazy_gettext("Priority"),
    "group": lazy_gettext("Group"),
    "assignee": lazy_gettext("Assignee"),
    "subject": lazy_gettext("Subject"),
    "custom_fields": lazy_gettext("Custom field"),
}
FIELD_LABELS = {
    "status": lazy_gettext("Status"),
    "priority": lazy_gettext("Priority"),
    "channel": lazy_gettext("Channel"),
    "account": lazy_gettext("Account or mailbox"),
    "group": lazy_gettext("Group"),
    "assignee": lazy_gettext("Assignee"),
    "tags": lazy_gettext("Tags"),
    "subject": lazy_gettext("Subject"),
    "text": lazy_gettext("Customer's messages"),
    "customer.identity": lazy_gettext("Customer's address"),
    "customer": lazy_gettext("Customer attribute"),
    "custom": lazy_gettext("Custom field"),
    "business_hours": lazy_gettext("Business hours"),
}
OP_LABELS = {
    "is": lazy_gettext("is"),
    "is_not": lazy_gettext("is not"),
    "in": lazy_gettext("is one of"),
    "not_in": lazy_gettext("is none of"),
    "at_least": lazy_gettext("is at least"),
    "below": lazy_gettext("is below"),
    "has_any": lazy_gettext("has any of"),
    "has_all": lazy_gettext("has all of"),
    "has_none": lazy_gettext("has none of"),
    "contains_any": lazy_gettext("contains any of"),
    "contains_none": lazy_gettext("contains none of"),
    "ends_with": lazy_gettext("ends with"),
    "inside": lazy_gettext("inside"),
    "outside": lazy_gettext("outside"),
}
ACTION_LABELS = {
    "set_status": lazy_gettext("Set the status"),
    "set_priority": lazy_gettext("Set the priority"),
    "raise_priority": lazy_gettext("Raise the priority one step"),
    "set_group": lazy_gettext("Move to a group"),
    "assign": lazy_gettext("Assign"),
    "add_tags": lazy_gettext("Add tags"),
    "remove_tags": lazy_gettext("Remove tags"),
    "reply": lazy_gettext("Reply to the customer"),
    "note": lazy_gettext("Add an internal note"),
    "send_template": lazy_gettext("Send a reply template"),
    "notify": lazy_gettext("Notify the agents"),
    "webhook": lazy_gettext("Call a webhook"),
    "out_of_hours_reply": lazy_gettext("Out-of-hours auto-reply"),
}
NOTIFY_LABELS = {
    "assignee": lazy_gettext("the assignee (or the group when unassigned)"),
    "group": lazy_gettext("the ticket's group"),
    "agents": lazy_gettext("chosen agents"),
}
STRATEGY_LABELS = {
    "agent": lazy_gettext("a named agent"),
    "round_robin": lazy_gettext("round-robin in the group"),
    "least_loaded": lazy_gettext("the least loaded agent of the group"),
}

_ROW = re.compile(r"^([ca])(\d+)_(field|type)$")


def blank_condition() -> Draft:
    return {"group": "all", "field": "status", "key": "", "op": "is", "text": "",
            "status": [], "priority": [], "groups": [], "assignees": [], "calendar": "",
            "kind": "email"}


def blank_action() -> Draft:
    row: Draft = {name: "" for name in ACTION_WIDGETS}
    row.update(type="", strategy="agent", to="assignee", agent_ids=[], email="1")
    return row


def blank() -> Draft:
    """The draft of a new rule: on a new ticket, no conditions, one empty action."""
    return {"name": "", "enabled": False, "when": {
        "type": "event", "on": "ticket.created", "field": "status", "custom": "", "from": "",
        "to": "", "from_text": "", "to_text": "", "tag": "", "since": "status_changed",
        "amount": "24", "unit": "hours", "business_hours": False, "calendar_id": ""},
        "conditions": [], "actions": [blank_action()]}


# ------------------------------------------------------------ rule -> draft

def from_rule(rule: Rule) -> Draft:
    """A saved rule as the form's values."""
    draft = blank()
    draft["name"], draft["enabled"] = rule.name, rule.enabled
    draft["when"].update(when_values(dict(rule.when)))
    draft["conditions"] = [_condition_values(group, c) for group in ("all", "any")
                           for c in t.cast("list[dict[str, t.Any]]",
                                           rule.conditions.get(group, []))]
    draft["actions"] = [_action_values(a) for a in rule.actions]
    return draft


def when_values(when: dict[str, t.Any]) -> Draft:
    out: Draft = {"type": when["type"]}
    if when["type"] == "event":
        out["on"] = when["on"]
        out["tag"] = str(when.get("tag", ""))
        name = str(when.get("field", "status"))
        out["field"] = name
        if name.startswith("custom_fields."):
            out.update(field="custom_fields", custom=name.removeprefix("custom_fields."))
        for key in ("from", "to"):
            if key not in when:
                continue
            if name in CHOICE_FIELDS:
                value = when[key]
                out[key] = f"{name}:{'' if value is None else value}"
            else:
                out[f"{key}_text"] = "" if when[key] is None else str(when[key])
    elif when["type"] == "time":
        minutes = int(when["minutes"])
        unit = "days" if minutes % UNITS["days"] == 0 else (
            "hours" if minutes % UNITS["hours"] == 0 else "minutes")
        out.update(since=when["since"], amount=str(minutes // UNITS[unit]), unit=unit,
                   business_hours=bool(when.get("business_hours")),
                   calendar_id=str(when.get("calendar_id") or ""))
    return out


def _strings(value: t.Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return ["" if x is None else str(x) for x in values]


def _condition_values(group: str, cond: dict[str, t.Any]) -> Draft:
    row = blank_condition()
    name, op = str(cond["field"]), cond["op"]
    value: t.Any = cond.get("value")
    row.update(group=group, op=op, field=name)
    owner, _sep, key = name.partition(".")
    if owner in ("custom", "customer") and name != "customer.identity":
        row.update(field=owner, key=key, text=str(value or ""))
    elif name == "customer.identity":
        row.update(kind=value["kind"], text=value["value"])
    elif name in ("status", "priority"):
        row[name] = _strings(value)
    elif name in ("group", "assignee"):
        row[VALUE_WIDGET[name]] = _strings(value)
    elif name == "business_hours":
        row["calendar"] = "" if value is None else str(value)
    elif name == "tags":
        row["text"] = " ".join(value)
    elif name in ("subject", "text"):
        row["text"] = "||".join(value) if isinstance(value, list) else str(value)
    elif name in ("channel", "account") and op in ("in", "not_in"):
        row["text"] = ", ".join(value)
    else:
        row["text"] = str(value)
    return row


def _action_values(action: dict[str, t.Any]) -> Draft:
    row = blank_action()
    kind = str(action["type"])
    row["type"] = kind
    if kind == "notify":
        row.update(text=action["message"], to=action.get("to", "assignee"),
                   agent_ids=[str(x) for x in action.get("agent_ids", [])],
                   email="1" if action.get("email", True) else "")
    elif kind in ACTION_LABELS:
        for key, value in action.items():
            if key == "tags":
                row["tags"] = " ".join(value)
            elif key in row and key != "type":
                row[key] = "" if value is None else str(value)
    else:
        row["params"] = json.dumps({k: v for k, v in action.items() if k != "type"},
                                   ensure_ascii=False)
    return row


# ------------------------------------------------------------ form -> draft

def from_form(form: MultiDict[str, str]) -> Draft:
    """The posted form as a draft, rows in the order of their numbers."""
    when: Draft = {key: form.get(f"when_{key}", "") for key in (
        "type", "on", "field", "custom", "from", "to", "from_text", "to_text", "tag", "since",
        "amount", "unit", "calendar_id")}
    when["business_hours"] = bool(form.get("when_business_hours"))
    rows: dict[str, list[int]] = {"c": [], "a": []}
    for name in form:
        match = _ROW.match(name)
        if match:
            rows[match.group(1)].append(int(match.group(2)))
    conditions = []
    for i in sorted(rows["c"]):
        row = blank_condition()
        for key in ("group", "field", "key", "op", "text", "calendar", "kind"):
            row[key] = form.get(f"c{i}_{key}", row[key]).strip()
        for key in ("status", "priority", "groups", "assignees"):
            row[key] = form.getlist(f"c{i}_{key}")
        conditions.append(row)
    actions = []
    for i in sorted(rows["a"]):
        row = blank_action()
        row.update({key: form.get(f"a{i}_{key}", row.get(key, "")) for key in (
            "type", "to", *ACTION_WIDGETS)})
        row.update(agent_ids=form.getlist(f"a{i}_agent_ids"),
                   email="1" if form.get(f"a{i}_email") else "")
        actions.append(row)
    return {"name": form.get("name", ""), "enabled": bool(form.get("enabled")), "when": when,
            "conditions": conditions, "actions": actions}


# --------------------------------------------------------- draft -> service

def to_service(draft: Draft) -> dict[str, t.Any]:
    """``name``, ``when``, ``conditions`` and ``actions`` for the rules service.

    :raises ValidationError: A number or JSON the form cannot read (the
        service checks everything else).
    """
    conditions: dict[str, list[dict[str, t.Any]]] = {"all": [], "any": []}
    for index, row in enumerate(draft["conditions"]):
        group = "any" if row["group"] == "any" else "all"
        try:
            conditions[group].append(_condition(row))
        except ValidationError as exc:
            exc.details = {**exc.details, "section": "c", "row": index}
            raise
    actions = []
    for index, row in enumerate(draft["actions"]):
        if not row["type"]:
            continue
        try:
            actions.append(_action(row))
        except ValidationError as exc:
            exc.details = {**exc.details, "section": "a", "row": index}
            raise
    return {"name": draft["name"], "when": _when(draft["when"]), "conditions": conditions,
            "actions": actions}


def _when(values: Draft) -> dict[str, t.Any]:
    kind = values["type"]
    if kind == "time":
        amount = whole_number(values["amount"], maximum=10**6)
        if amount is None or values["unit"] not in UNITS:
            raise ValidationError(_("Give the delay as a whole number of minutes, hours or"
                                    " days."), field="when.minutes")
        out: dict[str, t.Any] = {"type": "time", "since": values["since"],
                                 "minutes": amount * UNITS[values["unit"]]}
        if values["business_hours"]:
            out["business_hours"] = True
            if values["calendar_id"]:
                out["calendar_id"] = _number(values["calendar_id"], "when.calendar_id")
        return out
    if kind != "event":
        return {"type": kind}
    out = {"type": "event", "on": values["on"]}
    if values["on"] == "tag.added":
        out["tag"] = values["tag"]
    elif values["on"] == "field.changed":
        name = values["field"]
        out["field"] = f"custom_fields.{values['custom'].strip()}" if (
            name == "custom_fields") else name
        for key in ("from", "to"):
            if name in CHOICE_FIELDS:
                raw = values[key]
                if raw:
                    out[key] = _choice(name, raw, f"when.{key}")
            elif values[f"{key}_text"].strip():
                out[key] = values[f"{key}_text"].strip()
    return out


def _choice(name: str, raw: str, field: str) -> t.Any:
    """A ``field.changed`` value from its select: ``"status:open"``, ``"group:3"``, ``"group:"``."""
    kind, _sep, value = raw.partition(":")
    if kind != name:
        raise ValidationError(_("Choose a value of the field that changes."), field=field)
    if name in ID_FIELDS:
        return _number(value, field) if value else None
    return value


def _number(raw: str, field: str) -> int:
    number = whole_number(raw)
    if number is None:
        raise ValidationError(_("%(field)s must be a number.", field=field), field=field)
    return number


def _ids(values: list[str]) -> list[int | None]:
    return [None if not v else _number(v, "conditions") for v in values]


def _single(values: list[t.Any], op: str) -> t.Any:
    if op in ("in", "not_in", "has_any", "has_all", "has_none"):
        return values
    return values[0] if values else None


def _condition(row: Draft) -> dict[str, t.Any]:
    name, op, text = row["field"], row["op"], row["text"]
    value: t.Any
    if name in ("status", "priority"):
        value = _single(row[name], op)
    elif name in ("group", "assignee"):
        value = _single(_ids(row[VALUE_WIDGET[name]]), op)
    elif name == "business_hours":
        value = _number(row["calendar"], "conditions") if row["calendar"] else None
    elif name == "tags":
        value = text.replace(",", " ").split()
    elif name == "customer.identity":
        value = {"kind": row["kind"], "value": text}
    elif name in ("custom", "customer"):
        name, value = f"{name}.{row['key']}", text
    elif name in ("channel", "account") and op in ("in", "not_in"):
        value = [x.strip() for x in text.split(",") if x.strip()]
    else:
        value = text
    return {"field": name, "op": op, "value": value}


def _action(row: Draft) -> dict[str, t.Any]:
    kind = row["type"]
    if kind not in ACTION_LABELS:
        return {"type": kind, **_params(row["params"])}
    optional = {"group_id": row["group_id"] or None, "calendar_id": row["calendar_id"] or None}
    simple: dict[str, dict[str, t.Any]] = {
        "set_status": {"status": row["status"]}, "set_priority": {"priority": row["priority"]},
        "raise_priority": {}, "add_tags": {"tags": row["tags"].replace(",", " ").split()},
        "remove_tags": {"tags": row["tags"].replace(",", " ").split()},
        "reply": {"text": row["text"]}, "note": {"text": row["text"]},
        "webhook": {"url": row["url"].strip()},
    }
    if kind in simple:
        return {"type": kind, **simple[kind]}
    if kind == "notify":
        out: dict[str, t.Any] = {"type": kind, "message": row["text"], "to": row["to"],
                                 "email": bool(row["email"])}
        if row["to"] == "agents":
            out["agent_ids"] = [_number(x, "agent_ids") for x in row["agent_ids"]]
        return out
    if kind == "set_group":
        return {"type": kind, "group_id": _optional_id(optional["group_id"], "group_id")}
    if kind == "send_template":
        return {"type": kind, "template_id": _optional_id(row["template_id"] or None,
                                                          "template_id")}
    if kind == "assign":
        if row["strategy"] == "agent":
            return {"type": kind, "strategy": "agent",
                    "agent_id": _optional_id(row["agent_id"] or None, "agent_id")}
        return {"type": kind, "strategy": row["strategy"],
                "group_id": _optional_id(optional["group_id"], "group_id")}
    out = {"type": kind, "text": row["text"]}  # out_of_hours_reply
    if optional["calendar_id"]:
        out["calendar_id"] = _number(optional["calendar_id"], "calendar_id")
    if row["language"]:
        out["language"] = row["language"]
    return out


def _optional_id(raw: str | None, field: str) -> int | None:
    return None if raw is None else _number(raw, field)


def _params(raw: str) -> dict[str, t.Any]:
    """A plugin action's parameters, written as a JSON object."""
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError:
        value = None
    if not isinstance(value, dict) or "type" in value:
        raise ValidationError(_('Write the parameters as a JSON object, such as'
                                ' {"key": "value"}.'), field="params")
    return value


def error_place(draft: Draft, exc: Exception) -> tuple[str, int | None]:
    """Where the form shows an error: ``("name" | "when" | "c" | "a" | "", row)``."""
    field = getattr(exc, "field", None) or ""
    details = getattr(exc, "details", {}) or {}
    if "section" in details:
        return details["section"], details["row"]
    if "group" in details and "index" in details:
        rows = [i for i, row in enumerate(draft["conditions"])
                if ("any" if row["group"] == "any" else "all") == details["group"]]
        return "c", rows[details["index"]] if details["index"] < len(rows) else None
    if "index" in details:
        rows = [i for i, row in enumerate(draft["actions"]) if row["type"]]
        return "a", rows[details["index"]] if details["index"] < len(rows) else None
    if field == "conditions":
        return "c", None
    if field == "actions":
        return "a", None
    if field.startswith("when"):
        return "when", None
    if field == "name" or type(exc).__name__ == "Conflict":
        return "name", None
    return "", None
