"""Alembic environment of the helpdesk: its own MetaData and version table.

Run through ``flask helpdesk db ...`` (or :mod:`flask_helpdesk.migrations`),
which passes the connection of the helpdesk's bind in ``config.attributes``.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from alembic import context

from flask_helpdesk.migrations import VERSION_TABLE
from flask_helpdesk.migrations import include_name
from flask_helpdesk.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "The helpdesk migrations run through 'flask helpdesk db upgrade', not the"
        " alembic command: they need the app's database connection."
    )



def render_item(type_: str, obj: t.Any, autogen_context: t.Any) -> str | t.Literal[False]:
    """Render the models' JSON/JSONB variant as importable code."""
    if type_ == "type" and isinstance(obj, sa.JSON) and obj._variant_mapping:
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    include_name=include_name,  # type: ignore[arg-type]
    # SQLite cannot ALTER most things: later revisions use batch operations.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
)

with context.begin_transaction():
    context.run_migrations()
