"""Rule conditions: one definition per field, in SQL and in Python.

Every condition is ``{"field": ..., "op": ..., "value": ...}``. Its
:class:`Field` gives both forms from one place: :meth:`Field.sql` (dry runs,
manual runs and the time-rule tick select tickets with it) and
:meth:`Field.check` (event rules test one ticket already loaded). Text
conditions match whole words after NFKC normalization and case folding
(``"refund||return money"``); SQL can only pre-filter them soundly, so the
candidates are confirmed in Python (:func:`needs_python`).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing as t
import unicodedata

from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import not_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true

from ..errors import ValidationError
from ..i18n import _
from ..models import ContactIdentity
from ..models import Customer
from ..models import Message
from ..models import Tag
from ..models import Ticket
from ..models import ticket_tags
from ..models.ticket import PRIORITIES
from ..models.ticket import STATUSES

if t.TYPE_CHECKING:
    from sqlalchemy import ColumnElement

#: Most conditions in one rule.
MAX_CONDITIONS = 50


class Facts:
    """What the Python form of a condition may read about one ticket.

    The ticket comes with tags and customer loaded; message texts and
    identities are loaded on first use.
    """

    def __init__(self, ticket: Ticket) -> None:
        self.ticket = ticket

    @functools.cached_property
    def customer_texts(self) -> list[str]:
        from ._uow import session

        return list(session().scalars(select(Message.text).where(
            Message.ticket_id == self.ticket.id, Message.kind == "inbound")))

    @functools.cached_property
    def identities(self) -> list[tuple[str, str]]:
        from ._uow import session

        return [(k, v) for k, v in session().execute(select(
            ContactIdentity.kind, ContactIdentity.value).where(
            ContactIdentity.customer_id == self.ticket.customer_id))]


def normalize(text: str) -> str:
    """NFKC, then case folding: how texts and phrases are compared."""
    return unicodedata.normalize("NFKC", text).casefold()


def phrases(value: object, field: str) -> list[str]:
    """``"refund||return money"`` or a list, normalized; refuses empty phrases."""
    items = value.split("||") if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValidationError(_("%(field)s needs one or more phrases.", field=field),
                              field="conditions")
    out = [normalize(p).strip() for p in items if isinstance(p, str)]
    if len(out) != len(items) or not all(out):
        raise ValidationError(_("%(field)s needs one or more phrases.", field=field),
                              field="conditions")
    return out


def contains_phrase(text: str, wanted: t.Sequence[str]) -> bool:
    """Whether ``text`` contains one of the normalized phrases as whole words."""
    text = normalize(text)
    return any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text) for p in wanted)


def _like_prefilter(column: t.Any, wanted: t.Sequence[str]) -> ColumnElement[bool]:
    """A sound SQL pre-filter: never drops a match, may keep a non-match.

    ``lower()`` is ASCII-only on SQLite and differs from case folding for a
    few letters, so phrases outside plain ASCII are left to Python.
    """
    if not all(p.isascii() for p in wanted):
        return true()
    return or_(*[func.lower(column).contains(p, autoescape=True) for p in wanted])


Value = t.Any


@dataclasses.dataclass(frozen=True)
class Field:
    """One condition field: its operators, validation and both evaluation forms."""

    ops: tuple[str, ...]
    validate: t.Callable[[str, Value], Value]
    sql: t.Callable[[str, Value], ColumnElement[bool]]
    check: t.Callable[[Facts, str, Value], bool]
    python_refines: bool = False


def _scalar_ops(column: t.Callable[[], t.Any], attr: t.Callable[[Ticket], t.Any]) -> dict[
        str, t.Any]:
    def sql(op: str, value: Value) -> ColumnElement[bool]:
        col = column()
        if op == "is":
            return t.cast("ColumnElement[bool]", col.is_(None) if value is None else col == value)
        if op == "is_not":
            return t.cast("ColumnElement[bool]",
                          col.is_not(None) if value is None else or_(col != value, col.is_(None)))
        members = [x for x in value if x is not None]
        match = or_(col.in_(members), col.is_(None)) if None in value else col.in_(members)
        return t.cast("ColumnElement[bool]", match if op == "in" else not_(match))

    def check(facts: Facts, op: str, value: Value) -> bool:
        current = attr(facts.ticket)
        if op == "is":
            return bool(current == value)
        if op == "is_not":
            return bool(current != value)
        return (current in value) == (op == "in")

    return {"ops": ("is", "is_not", "in", "not_in"), "sql": sql, "check": check}


def _choice(allowed: t.Sequence[str], label: str) -> t.Callable[[str, Value], Value]:
    def validate(op: str, value: Value) -> Value:
        values = value if op in ("in", "not_in") else [value]
        if not isinstance(values, list) or not values or any(x not in allowed for x in values):
            raise ValidationError(_("%(field)s must be one of: %(allowed)s.", field=label,
                                    allowed=", ".join(allowed)), field="conditions")
        return value

    return validate


def _text_value(op: str, value: Value) -> Value:
    values = value if op in ("in", "not_in") else [value]
    if not isinstance(values, list) or not values or not all(isinstance(x, str) for x in values):
        raise ValidationError(_("The condition value must be text."), field="conditions")
    return value


def _ref(model: str) -> t.Callable[[str, Value], Value]:
    def validate(op: str, value: Value) -> Value:
        from .rule_actions import referenced

        values = value if op in ("in", "not_in") else [value]
        if not isinstance(values, list) or not values:
            raise ValidationError(_("The condition value must be a list."), field="conditions")
        for item in values:
            if item is None:
                continue
            referenced("group" if model == "group" else "agent", item)
        return value

    return validate


def _priority_validate(op: str, value: Value) -> Value:
    _choice(PRIORITIES, "priority")("in", value if op in ("in", "not_in") else [value])
    return value


def _rank(value: Value) -> Value:
    """Priority names as stored ranks (rules keep the names)."""
    return [PRIORITIES.index(x) for x in value] if isinstance(value, list) else \
        PRIORITIES.index(value)


def _priority_field() -> Field:
    base = _scalar_ops(lambda: Ticket.priority, lambda tk: tk.priority)

    def sql(op: str, value: Value) -> ColumnElement[bool]:
        value = _rank(value)
        if op == "at_least":
            return t.cast("ColumnElement[bool]", Ticket.priority >= value)
        if op == "below":
            return t.cast("ColumnElement[bool]", Ticket.priority < value)
        return t.cast("ColumnElement[bool]", base["sql"](op, value))

    def check(facts: Facts, op: str, value: Value) -> bool:
        value = _rank(value)
        if op == "at_least":
            return bool(facts.ticket.priority >= value)
        if op == "below":
            return bool(facts.ticket.priority < value)
        return bool(base["check"](facts, op, value))

    return Field(ops=(*base["ops"], "at_least", "below"), validate=_priority_validate, sql=sql,
                 check=check)


def _tags_validate(op: str, value: Value) -> Value:
    from .tickets import normalize_tag

    if not isinstance(value, list) or not value:
        raise ValidationError(_("The condition value must be a list."), field="conditions")
    return sorted({normalize_tag(x) for x in value})


def _tags_sql(op: str, value: Value) -> ColumnElement[bool]:
    def has(name: str) -> ColumnElement[bool]:
        return exists().where(ticket_tags.c.ticket_id == Ticket.id,
                              ticket_tags.c.tag_id == Tag.id, Tag.name == name)

    if op == "has_all":
        return and_(*[has(n) for n in value])
    any_ = or_(*[has(n) for n in value])
    return any_ if op == "has_any" else not_(any_)


def _tags_check(facts: Facts, op: str, value: Value) -> bool:
    names = {tag.name for tag in facts.ticket.tags}
    if op == "has_all":
        return set(value) <= names
    return bool(names & set(value)) == (op == "has_any")


def _text_field(column: t.Callable[[], t.Any], texts: t.Callable[[Facts], list[str]],
                inbound: bool) -> Field:
    def sql(op: str, value: Value) -> ColumnElement[bool]:
        if inbound:
            pre: ColumnElement[bool] = exists().where(
                Message.ticket_id == Ticket.id, Message.kind == "inbound",
                _like_prefilter(Message.text, value))
        else:
            pre = _like_prefilter(column(), value)
        return pre if op == "contains_any" else true()

    def check(facts: Facts, op: str, value: Value) -> bool:
        found = any(contains_phrase(text, value) for text in texts(facts))
        return found == (op == "contains_any")

    return Field(ops=("contains_any", "contains_none"),
                 validate=lambda op, value: phrases(value, "text"), sql=sql, check=check,
                 python_refines=True)


def _identity_validate(op: str, value: Value) -> Value:
    if (not isinstance(value, dict) or not isinstance(value.get("kind"), str)
            or not isinstance(value.get("value"), str) or not value["value"]):
        raise ValidationError(_("An identity condition needs a kind and a value."),
                              field="conditions")
    return {"kind": value["kind"], "value": value["value"].casefold()}


def _identity_sql(op: str, value: Value) -> ColumnElement[bool]:
    match = ContactIdentity.value == value["value"] if op == "is" else \
        ContactIdentity.value.endswith(value["value"], autoescape=True)
    return exists().where(ContactIdentity.customer_id == Ticket.customer_id,
                          ContactIdentity.kind == value["kind"], match)


def _identity_check(facts: Facts, op: str, value: Value) -> bool:
    return any(kind == value["kind"] and (
        v == value["value"] if op == "is" else v.endswith(value["value"]))
        for kind, v in facts.identities)


def _json_field(owner: str, key: str) -> Field:
    def sql(op: str, value: Value) -> ColumnElement[bool]:
        if owner == "custom":
            col = Ticket.custom_fields[key].as_string()
            match: ColumnElement[bool] = col == value
        else:
            match = exists().where(Customer.id == Ticket.customer_id,
                                   Customer.attributes[key].as_string() == value)
        return match if op == "is" else not_(match)

    def check(facts: Facts, op: str, value: Value) -> bool:
        source = facts.ticket.custom_fields if owner == "custom" else \
            facts.ticket.customer.attributes
        return bool(((source or {}).get(key) == value) == (op == "is"))

    return Field(ops=("is", "is_not"), validate=_text_value, sql=sql, check=check)


FIELDS: dict[str, Field] = {
    "status": Field(validate=_choice(STATUSES, "status"),
                    **_scalar_ops(lambda: Ticket.status, lambda tk: tk.status)),
    "priority": _priority_field(),
    "channel": Field(validate=_text_value,
                     **_scalar_ops(lambda: Ticket.channel, lambda tk: tk.channel)),
    "account": Field(validate=_text_value,
                     **_scalar_ops(lambda: Ticket.account, lambda tk: tk.account)),
    "group": Field(validate=_ref("group"),
                   **_scalar_ops(lambda: Ticket.group_id, lambda tk: tk.group_id)),
    "assignee": Field(validate=_ref("assignee"),
                      **_scalar_ops(lambda: Ticket.assignee_id, lambda tk: tk.assignee_id)),
    "tags": Field(ops=("has_any", "has_all", "has_none"), validate=_tags_validate,
                  sql=_tags_sql, check=_tags_check),
    "subject": _text_field(lambda: Ticket.subject, lambda f: [f.ticket.subject], False),
    "text": _text_field(lambda: Message.text, lambda f: f.customer_texts, True),
    "customer.identity": Field(ops=("is", "ends_with"), validate=_identity_validate,
                               sql=_identity_sql, check=_identity_check),
}


def field(name: object) -> Field:
    """The field named ``name``: a core field, ``custom.<key>`` or ``customer.<attribute>``.

    :raises ValidationError: No such field.
    """
    if isinstance(name, str) and name in FIELDS:
        return FIELDS[name]
    if name == "business_hours":
        from .rule_business_hours import FIELD

        return FIELD
    if isinstance(name, str):
        owner, _sep, key = name.partition(".")
        if owner in ("custom", "customer") and key and len(key) <= 64:
            return _json_field(owner, key)
    raise ValidationError(
        _("Unknown condition field %(field)s; known: %(known)s, custom.<name>,"
          " customer.<attribute>.", field=name, known=", ".join([*FIELDS, "business_hours"])),
        field="conditions")


def validate(conditions: object) -> dict[str, list[dict[str, t.Any]]]:
    """Check ``{"all": [...], "any": [...]}`` and return it normalized.

    :raises ValidationError: Unknown field or operator, a bad value, a group
        or agent that does not exist, or conditions no ticket can meet.
    """
    if conditions is None:
        conditions = {}
    if not isinstance(conditions, dict) or set(conditions) - {"all", "any"}:
        raise ValidationError(_('Conditions must be an object with "all" and "any" lists.'),
                              field="conditions")
    out: dict[str, list[dict[str, t.Any]]] = {"all": [], "any": []}
    for group in ("all", "any"):
        items = conditions.get(group, [])
        if not isinstance(items, list) or len(items) > MAX_CONDITIONS:
            raise ValidationError(_('Conditions must be an object with "all" and "any" lists.'),
                                  field="conditions")
        for index, item in enumerate(items):
            try:
                out[group].append(_one(item))
            except ValidationError as exc:
                # Say which row is at fault, so an editor can show it there.
                exc.details = {**exc.details, "group": group, "index": index}
                raise
    _check_possible(out["all"])
    return out


def _one(item: object) -> dict[str, t.Any]:
    if not isinstance(item, dict) or set(item) - {"field", "op", "value"}:
        raise ValidationError(_("A condition is an object with field, op and value."),
                              field="conditions")
    spec = field(item.get("field"))
    op = item.get("op")
    if op not in spec.ops:
        raise ValidationError(_("Condition %(field)s takes the operators: %(ops)s.",
                                field=item.get("field"), ops=", ".join(spec.ops)),
                              field="conditions")
    return {"field": item["field"], "op": op, "value": spec.validate(op, item.get("value"))}


def _check_possible(conditions: list[dict[str, t.Any]]) -> None:
    """Refuse "all" conditions that contradict each other (status is open and is closed)."""
    wanted: dict[str, t.Any] = {}
    hours = {(c["op"], c["value"]) for c in conditions if c["field"] == "business_hours"}
    if any(("inside", value) in hours for op, value in hours if op == "outside"):
        raise ValidationError(
            _("The conditions can never all be true: %(field)s cannot be two values.",
              field="business_hours"), field="conditions")
    for cond in conditions:
        if cond["op"] != "is" or cond["field"] not in FIELDS:
            continue
        if cond["field"] in wanted and wanted[cond["field"]] != cond["value"]:
            raise ValidationError(
                _("The conditions can never all be true: %(field)s cannot be two values.",
                  field=cond["field"]), field="conditions")
        wanted[cond["field"]] = cond["value"]


def to_sql(conditions: t.Mapping[str, t.Any]) -> ColumnElement[bool]:
    """The SQL form: tickets that may match (exact unless :func:`needs_python`)."""
    parts = [field(c["field"]).sql(c["op"], c["value"]) for c in conditions.get("all", [])]
    any_ = [field(c["field"]).sql(c["op"], c["value"]) for c in conditions.get("any", [])]
    if any_:
        parts.append(or_(*any_))
    return and_(true(), *parts) if parts else true()


def needs_python(conditions: t.Mapping[str, t.Any]) -> bool:
    """Whether SQL results must be confirmed with :func:`matches`."""
    return any(field(c["field"]).python_refines
               for group in ("all", "any") for c in conditions.get(group, []))


def matches(conditions: t.Mapping[str, t.Any], facts: Facts) -> bool:
    """The Python form: whether one loaded ticket meets the conditions."""
    if not all(field(c["field"]).check(facts, c["op"], c["value"])
               for c in conditions.get("all", [])):
        return False
    any_ = conditions.get("any", [])
    return not any_ or any(field(c["field"]).check(facts, c["op"], c["value"]) for c in any_)

