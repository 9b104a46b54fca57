"""Placeholders of reply templates: checked at save time, filled at send time.

Templates are Jinja text rendered in :class:`jinja2.sandbox.SandboxedEnvironment`
with :class:`jinja2.StrictUndefined`: no attribute starting with ``_``, no
globals, nothing but the values of :data:`PLACEHOLDERS` (plus any
``ticket.custom_fields.<name>``, empty when the ticket has no such field).
Plain text renders without escaping, HTML with autoescaping, so a customer's
name cannot inject markup into an HTML reply.

A template is text with placeholders, not a program: besides placeholders it
may use the filters of :data:`FILTERS`, tests, ``{% if %}`` and comparisons,
but no loops, assignments, calls, macros or multiplication, so no template
can make rendering slow or huge; what it fills in to is cut off at
:data:`OUTPUT_MAX` characters all the same (an error, never a huge string).

Rule texts (the ``reply``, ``note``, ``notify`` and ``out_of_hours_reply``
actions) use this same engine, with ``extra`` placeholders of their own such
as ``{{ opens_at }}``.
"""

from __future__ import annotations

import functools
import typing as t

from jinja2 import StrictUndefined
from jinja2 import Template
from jinja2 import TemplateError
from jinja2 import TemplateSyntaxError
from jinja2 import Undefined
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from ..errors import ValidationError
from ..i18n import _

if t.TYPE_CHECKING:
    from ..models import Agent
    from ..models import Ticket

#: Every placeholder a template may use, as written in the template.
PLACEHOLDERS = (
    "customer.name", "customer.first_name", "customer.email",
    "ticket.id", "ticket.subject", "ticket.status",
    "agent.name", "agent.first_name", "group.name",
    "ticket.custom_fields.<name>",
)

#: Filters a template may use (none of them can grow the text much).
FILTERS = ("capitalize", "d", "default", "e", "escape", "first", "int", "last", "length",
           "lower", "round", "string", "striptags", "title", "trim", "truncate", "upper",
           "wordcount")

#: The syntax a template may use: output, placeholders, filters, conditions.
_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name,
    nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Test, nodes.CondExpr, nodes.If,
    nodes.And, nodes.Or, nodes.Not, nodes.Compare, nodes.Operand, nodes.Concat,
    nodes.Add, nodes.Sub, nodes.Neg, nodes.Pos, nodes.Keyword, nodes.List, nodes.Tuple,
)

#: The longest text a template fills in to (the longest message text).
OUTPUT_MAX = 200_000

_ROOTS = frozenset(p.split(".")[0] for p in PLACEHOLDERS)
_PATHS = frozenset(tuple(p.split(".")) for p in PLACEHOLDERS if "<" not in p)
_CUSTOM = ("ticket", "custom_fields")


class _Values:
    """Read-only placeholder values: unknown keys are undefined (StrictUndefined)."""

    __slots__ = ("_values",)

    def __init__(self, values: t.Mapping[str, t.Any]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> t.Any:
        return self._values[key]


class _Fields(_Values):
    """Custom fields: a field the ticket does not have is a lenient undefined.

    It renders empty, and ``|default("...")`` replaces it.
    """

    __slots__ = ()

    def __getitem__(self, key: str) -> t.Any:
        value = self._values.get(key)
        return Undefined(name=key) if value is None else value


def _environment(*, html: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=html,
                               keep_trailing_newline=True)
    env.globals.clear()  # no range(), lipsum(), namespace()...
    env.filters = {name: env.filters[name] for name in FILTERS}
    return env


_TEXT = _environment(html=False)
_HTML = _environment(html=True)


def _path(node: nodes.Node) -> list[str] | None:
    """``customer.name`` of a chain of attribute lookups on a root name, else None."""
    parts: list[str] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
        else:
            parts.append("*")
        node = node.node
    if isinstance(node, nodes.Name) and node.name in _ROOTS:
        return [node.name, *reversed(parts)]
    return None


def _check_paths(node: nodes.Node, extra: t.Collection[str]) -> None:
    if isinstance(node, nodes.Name) and node.name in extra:
        return
    if not isinstance(node, _ALLOWED_NODES):
        raise ValidationError(_("A template may hold text, placeholders, filters and"
                                " {%% if %%} conditions only, not %(what)s.",
                                what=type(node).__name__), field="body")
    path = _path(node)
    if path is not None:
        if tuple(path) in _PATHS or (tuple(path[:2]) == _CUSTOM and len(path) == 3
                                     and path[2] != "*"):
            return
        raise _unknown(".".join(path), extra)
    for child in node.iter_child_nodes():
        _check_paths(child, extra)


def _unknown(name: str, extra: t.Collection[str] = ()) -> ValidationError:
    return ValidationError(
        _("Unknown placeholder {{ %(name)s }}; use one of: %(known)s.", name=name,
          known=", ".join("{{ " + p + " }}" for p in (*PLACEHOLDERS, *extra))), field="body")


def check(source: str, *, field: str, html: bool = False,
          extra: t.Mapping[str, str] | None = None) -> None:
    """Refuse a template that does not compile or names an unknown placeholder.

    :param extra: Placeholders besides :data:`PLACEHOLDERS`, plain names
        (``opens_at``), each with a sample value to try the template with.
    :raises ValidationError: With ``field`` set to ``field``.
    """
    try:
        _check(source, html=html, extra=extra or {})
    except ValidationError as exc:
        exc.field = field
        raise
    except TemplateSyntaxError as exc:
        raise ValidationError(_("The placeholders do not parse (line %(line)s): %(error)s",
                                line=exc.lineno, error=exc.message or ""), field=field) from None
    except RecursionError:
        raise ValidationError(_("The placeholders are nested too deeply."),
                              field=field) from None
    except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        raise ValidationError(_("The template cannot be filled in: %(error)s", error=str(exc)),
                              field=field) from None


def _check(source: str, *, html: bool, extra: t.Mapping[str, str]) -> None:
    env = _HTML if html else _TEXT
    tree = env.parse(source)
    # Names straight from the syntax tree: jinja2.meta would run the code
    # generator, which folds constants ('{{ "x" * 10**9 }}' would be built).
    # (Names a loop or {% set %} assigns are left to the syntax check.)
    names = list(tree.find_all(nodes.Name))
    assigned = {node.name for node in names if node.ctx != "load"}
    unknown = sorted({node.name for node in names} - assigned - _ROOTS - set(extra))
    if unknown:
        raise _unknown(unknown[0], extra)
    _check_paths(tree, extra)
    _bounded(env.from_string(tree), {**_sample(), **extra}, OUTPUT_MAX)


def _sample() -> dict[str, t.Any]:
    return {
        "customer": _Values({"name": "Ann Lee", "first_name": "Ann", "email": "a@example.com"}),
        "ticket": _Values({"id": 1, "subject": "Subject", "status": "open",
                           "custom_fields": _Fields({})}),
        "agent": _Values({"name": "Bo Agent", "first_name": "Bo"}),
        "group": _Values({"name": "Support"}),
    }


def _first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else ""


def context(ticket: Ticket, agent: Agent | None, *,
            status: str | None = None) -> dict[str, t.Any]:
    """The placeholder values for a reply on ``ticket`` written by ``agent``.

    ``ticket`` needs its customer (with identities), group and assignee loaded.
    Without an agent (a rule sends) the assignee signs.

    :param status: The ticket's status when it is not yet the loaded row's
        (a set-based rule changes the rows after filling its texts in).
    """
    from .tickets import status_label

    customer = ticket.customer
    emails = [i.value for i in customer.identities if i.kind == "email"]
    name = customer.name or (customer.identities[0].display if customer.identities else "")
    signer = agent or ticket.assignee
    signer_name = signer.name if signer is not None else ""
    return {
        "customer": _Values({"name": name, "first_name": _first_name(name),
                             "email": emails[0] if emails else ""}),
        "ticket": _Values({"id": ticket.id, "subject": ticket.subject,
                           "status": status_label(status or ticket.status),
                           "custom_fields": _Fields(ticket.custom_fields or {})}),
        "agent": _Values({"name": signer_name, "first_name": _first_name(signer_name)}),
        "group": _Values({"name": ticket.group.name if ticket.group is not None else ""}),
    }


def render(source: str, values: dict[str, t.Any], *, html: bool = False) -> str:
    """Fill a template saved earlier (so already checked) with ``values``.

    :raises ValidationError: The template cannot be filled for this ticket,
        or fills in to more than :data:`OUTPUT_MAX` characters.
    """
    return renderer(source, html=html)(values)


def renderer(source: str, *, html: bool = False) -> t.Callable[[dict[str, t.Any]], str]:
    """:func:`render` compiled once, to fill one template for many tickets."""
    compiled = _compiled(source, html)

    def fill(values: dict[str, t.Any]) -> str:
        try:
            return _bounded(compiled, values, OUTPUT_MAX)
        except (TemplateError, ArithmeticError, TypeError, ValueError, RecursionError) as exc:
            raise _unfillable(exc) from None

    return fill


@functools.lru_cache(maxsize=256)
def _compiled_cached(source: str, html: bool) -> Template:
    return (_HTML if html else _TEXT).from_string(source)


def _compiled(source: str, html: bool) -> Template:
    """The compiled template (kept: rules fill the same few texts again and again)."""
    try:
        return _compiled_cached(source, html)
    except (TemplateError, RecursionError) as exc:
        raise _unfillable(exc) from None


def _bounded(compiled: Template, values: t.Mapping[str, t.Any], limit: int) -> str:
    """Render chunk by chunk, refusing once the text passes ``limit`` characters."""
    parts: list[str] = []
    size = 0
    for chunk in compiled.generate(values):
        size += len(chunk)
        if size > limit:
            raise ValueError(_("the text would be longer than %(max)d characters",
                               max=limit))
        parts.append(chunk)
    return "".join(parts)


def _unfillable(exc: Exception) -> ValidationError:
    return ValidationError(_("The template cannot be filled in: %(error)s", error=str(exc)),
                           field="template_id", details={"reason": str(exc)})
