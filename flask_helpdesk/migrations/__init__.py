"""The helpdesk's own Alembic history, separate from the host's migrations.

Only the tables of :data:`flask_helpdesk.models.metadata` are managed, and the
revision is kept in the table :data:`VERSION_TABLE`, so the host's own Alembic
(or Flask-Migrate) history and tables are never touched. ``flask helpdesk db``
wraps these functions; they take the engine of the helpdesk's bind.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import typing as t

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine import Engine

#: Table that records the helpdesk's schema revision.
VERSION_TABLE = "helpdesk_alembic_version"

#: This directory: ``env.py``, ``script.py.mako`` and ``versions/``.
SCRIPT_LOCATION = str(pathlib.Path(__file__).parent)


def include_name(name: str | None, type_: str, parent_names: t.Mapping[str, t.Any]) -> bool:
    """Limit autogenerate to the helpdesk's own tables (never the host's)."""
    if type_ == "table":
        from ..models import metadata

        return name in metadata.tables
    return True


def make_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the helpdesk history, bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(pathlib.Path(SCRIPT_LOCATION, "versions")))
    config.attributes["connection"] = connection
    return config


@functools.cache
def _script() -> ScriptDirectory:
    # The scripts shipped with this code never change while it runs.
    return ScriptDirectory.from_config(make_config())


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(script.revision for script in _script().walk_revisions())


def heads() -> list[str]:
    """The newest revision(s) shipped with this version of the helpdesk."""
    return list(_script().get_heads())


@dataclasses.dataclass(frozen=True)
class SchemaStatus:
    """Where the helpdesk tables stand compared with this version of the code.

    :ivar state: ``ready`` (at head), ``missing`` (never migrated),
        ``outdated`` (an older revision: ``flask helpdesk db upgrade`` is
        due) or ``ahead`` (a revision this code does not know, written by a
        newer flask-helpdesk; the tables are used as they are).
    :ivar current: The revision(s) the database is at.
    :ivar heads: The newest revision(s) of this code.
    """

    state: t.Literal["ready", "missing", "outdated", "ahead"]
    current: tuple[str, ...]
    heads: tuple[str, ...]


def status(engine: Engine) -> SchemaStatus:
    """Compare the database's revision with this code's: two small queries.

    :raises sqlalchemy.exc.SQLAlchemyError: The database cannot be reached.
    """
    now = tuple(current(engine))
    newest = tuple(heads())
    if not now:
        return SchemaStatus("missing", now, newest)
    if set(now) == set(newest):
        return SchemaStatus("ready", now, newest)
    if all(rev in _known() for rev in now):
        return SchemaStatus("outdated", now, newest)
    return SchemaStatus("ahead", now, newest)


def stamp_head(engine: Engine) -> None:
    """Record the head revision without migrating (tables made from the models).

    Used by :func:`flask_helpdesk.testing.create_tables`; a real database
    gets its tables and its revision from :func:`upgrade`.
    """
    with engine.begin() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        context.stamp(_script(), "heads")


def current(engine: Engine) -> list[str]:
    """The revision(s) the database is at; empty when never migrated."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return list(context.get_current_heads())


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the helpdesk tables up to ``revision``, in one transaction where possible."""
    with engine.begin() as conn:
        command.upgrade(make_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate down to ``revision``; ``"base"`` removes every helpdesk table.

    At ``base`` the version table is dropped too, so nothing of the helpdesk
    is left in the database.
    """
    with engine.begin() as conn:
        command.downgrade(make_config(conn), revision)
        if revision == "base":
            sa.Table(VERSION_TABLE, sa.MetaData()).drop(conn, checkfirst=True)


def revision(engine: Engine, message: str) -> str:
    """Write a new revision file from the difference between models and database.

    For helpdesk contributors only: the file is written into this package.
    The database must be at the head revision.

    :return: The path of the new file.
    """
    existing = list(pathlib.Path(SCRIPT_LOCATION, "versions").glob("*.py"))
    with engine.begin() as conn:
        script = command.revision(make_config(conn), message=message, autogenerate=True,
                                  rev_id=f"{len(existing) + 1:04d}")
    assert script is not None and not isinstance(script, list)
    return str(script.path)


__all__ = ["VERSION_TABLE", "SchemaStatus", "current", "downgrade", "heads", "revision",
           "stamp_head", "status", "upgrade"]
