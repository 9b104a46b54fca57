"""Rule texts are templates: {customer_name} becomes {{ customer.name }}

Revision ID: 0010_rule_placeholders
Revises: 0009_quarantine_imported
Create Date: 2026-12-14 10:00:00

The texts of the ``reply``, ``note`` and ``out_of_hours_reply`` actions and the
``message`` of ``notify`` were :meth:`str.format` strings; they are now Jinja
templates, like reply templates. Each stored text is rewritten so that it
fills in as it did: a placeholder becomes the new one (a format spec or a
conversion is dropped: ``{ticket_id:05}`` becomes ``{{ ticket.id }}``),
``{{`` and ``}}`` become the braces they stood for, and every brace left in
the text is written ``{{ "{" }}``. A text that was never a valid format
string (a stray brace kept as written) is kept as written the same way.
The conversion is frozen here, not imported, so this revision does the same
thing whatever the code becomes.
"""

from __future__ import annotations

import re
import string
import typing as t

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010_rule_placeholders"
down_revision = "0009_quarantine_imported"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

#: Action type -> the key of its text.
TEXTS = {"reply": "text", "note": "text", "out_of_hours_reply": "text", "notify": "message"}

#: Old placeholder -> new one.
NAMES = {"customer_name": "customer.name", "ticket_id": "ticket.id",
         "agent_name": "agent.name", "opens_at": "opens_at"}

_BRACE = '{{ "{" }}'

rules = sa.table("helpdesk_rules", sa.column("id", sa.Integer), sa.column("actions", _JSON))


def _literal(text: str) -> str:
    """Plain text as a template that fills in to it.

    Every brace is written ``{{ "{" }}``: Jinja would read ``{{``, ``{%``
    and ``{#``, and the rules' check refuses a single-brace ``{name}``.
    """
    return text.replace("{", _BRACE)


def to_template(text: str) -> str:
    """A ``str.format`` text of the old placeholders as a template."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:  # never valid: kept as written
        return _literal(text)
    out = []
    for literal, name, _spec, _conversion in parts:
        out.append(_literal(literal))
        if name is not None and name in NAMES:
            out.append("{{ " + NAMES[name] + " }}")
        elif name is not None:  # not a placeholder then either: kept as written
            out.append(_literal("{" + name + "}"))
    return "".join(out)


_NEW = re.compile(r'\{\{ (customer\.name|ticket\.id|agent\.name|opens_at) \}\}|\{\{ "\{" \}\}')
_OLD = {new: old for old, new in NAMES.items()}


def to_format(text: str) -> str:
    """A template as a ``str.format`` text (the way back; other placeholders stay text)."""
    out, at = [], 0
    for match in _NEW.finditer(text):
        out.append(text[at:match.start()].replace("{", "{{").replace("}", "}}"))
        out.append("{" + _OLD[match.group(1)] + "}" if match.group(1) else "{{")
        at = match.end()
    out.append(text[at:].replace("{", "{{").replace("}", "}}"))
    return "".join(out)


def _rewrite(convert: t.Callable[[str], str]) -> None:
    bind = op.get_bind()
    for rule_id, actions in bind.execute(sa.select(rules.c.id, rules.c.actions)).all():
        changed = []
        for action in actions or []:
            key = TEXTS.get(str(action.get("type"))) if isinstance(action, dict) else None
            if key and isinstance(action.get(key), str):
                action = {**action, key: convert(action[key])}
            changed.append(action)
        if changed != actions:
            bind.execute(rules.update().where(rules.c.id == rule_id).values(actions=changed))


def upgrade() -> None:
    _rewrite(to_template)


def downgrade() -> None:
    _rewrite(to_format)
