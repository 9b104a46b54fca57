"""Database-specific schema beyond the models: the full-text search index.

The Alembic migrations call these functions, so tests that create tables from
the models get the same index.

SQLite
    An FTS5 table ``helpdesk_search_fts`` with ``helpdesk_search_documents`` as
    its external content, kept in sync by three triggers. Tokenizer: Porter
    stemming (English) over ``unicode61`` with ``remove_diacritics 2``, and a
    prefix index for three-letter prefixes.

PostgreSQL
    A stored generated column ``tsv`` on ``helpdesk_search_documents``: the
    concatenation of ``to_tsvector(language, document)`` for every configured
    language, with a GIN index; plus a ``pg_trgm`` GIN index over ``document``
    for partial words. Creating the ``pg_trgm`` extension needs a role allowed
    to do so; without it :func:`create_search_index` raises a
    :class:`RuntimeError` that names the statement a superuser must run.
"""

from __future__ import annotations

import re
import typing as t

from sqlalchemy import text

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine import Engine

#: The FTS5 table of SQLite.
FTS_TABLE = "helpdesk_search_fts"
#: The tokenizer of the FTS5 table.
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"

_DOCS = "helpdesk_search_documents"
_LANGUAGE = re.compile(r"[a-z_]{1,63}")

_SQLITE_CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(document,"
    f" content='{_DOCS}', content_rowid='ticket_id', tokenize='{FTS_TOKENIZE}', prefix='3')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ai AFTER INSERT ON {_DOCS} BEGIN"
    f" INSERT INTO {FTS_TABLE}(rowid, document) VALUES (new.ticket_id, new.document); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ad AFTER DELETE ON {_DOCS} BEGIN"
    f" INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, document)"
    f" VALUES ('delete', old.ticket_id, old.document); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_au AFTER UPDATE ON {_DOCS} BEGIN"
    f" INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, document)"
    f" VALUES ('delete', old.ticket_id, old.document);"
    f" INSERT INTO {FTS_TABLE}(rowid, document) VALUES (new.ticket_id, new.document); END",
)


def default_languages() -> tuple[str, ...]:
    """``HELPDESK_SEARCH_LANGUAGES`` of the current app, or the default outside one."""
    from flask import current_app
    from flask import has_app_context

    from .config import DEFAULTS

    if has_app_context() and "helpdesk" in current_app.extensions:
        from .extension import get_state

        return tuple(get_state().config.search_languages)
    return tuple(DEFAULTS["HELPDESK_SEARCH_LANGUAGES"])


def tsvector_sql(languages: t.Sequence[str], column: str = "document") -> str:
    """The SQL expression of the PostgreSQL search vector over ``column``.

    :raises RuntimeError: A language name is not a plain identifier.
    """
    for name in languages:
        if not _LANGUAGE.fullmatch(name):
            raise RuntimeError(f"HELPDESK_SEARCH_LANGUAGES: {name!r} is not a text search"
                               " configuration name (e.g. 'english').")
    if not languages:
        raise RuntimeError("HELPDESK_SEARCH_LANGUAGES must name at least one language.")
    return " || ".join(f"to_tsvector('{name}'::regconfig, {column})" for name in languages)


def create_search_index(
    bind: Engine | Connection, *, languages: t.Sequence[str] | None = None
) -> None:
    """Create the search index for the database behind ``bind`` (idempotent).

    Documents already stored are indexed. On PostgreSQL the index covers
    ``languages`` (default: ``HELPDESK_SEARCH_LANGUAGES``); to change the
    languages later, drop and create the index again.

    :raises RuntimeError: ``pg_trgm`` is missing and cannot be created by
        this role, or a language is unknown to PostgreSQL.
    """
    if _is_connection(bind):
        _create(t.cast("Connection", bind), languages)
    else:
        with t.cast("Engine", bind).begin() as conn:
            _create(conn, languages)


def drop_search_index(bind: Engine | Connection) -> None:
    """Remove what :func:`create_search_index` made (the documents stay)."""
    if _is_connection(bind):
        _drop(t.cast("Connection", bind))
    else:
        with t.cast("Engine", bind).begin() as conn:
            _drop(conn)


def _is_connection(bind: Engine | Connection) -> bool:
    from sqlalchemy.engine import Connection

    return isinstance(bind, Connection)


def _create(conn: Connection, languages: t.Sequence[str] | None) -> None:
    dialect = conn.dialect.name
    if dialect == "sqlite":
        exists = conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = :n"),
                              {"n": FTS_TABLE}).first()
        for statement in _SQLITE_CREATE:
            conn.exec_driver_sql(statement)
        if not exists:
            conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
    elif dialect == "postgresql":
        _create_postgresql(conn, tuple(languages or default_languages()))
    else:
        raise RuntimeError(f"flask-helpdesk search supports SQLite and PostgreSQL, not {dialect}.")


def _create_postgresql(conn: Connection, languages: tuple[str, ...]) -> None:
    expression = tsvector_sql(languages)
    known = set(conn.scalars(text("SELECT cfgname FROM pg_ts_config")))
    missing = [name for name in languages if name not in known]
    if missing:
        raise RuntimeError(f"PostgreSQL has no text search configuration {', '.join(missing)};"
                           f" known: {', '.join(sorted(known))}.")
    _require_trgm(conn)
    conn.exec_driver_sql(
        f"ALTER TABLE {_DOCS} ADD COLUMN IF NOT EXISTS tsv tsvector"
        f" GENERATED ALWAYS AS ({expression}) STORED")
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS ix_{_DOCS}_tsv ON {_DOCS} USING gin (tsv)")
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS ix_{_DOCS}_trgm ON {_DOCS}"
                         " USING gin (document gin_trgm_ops)")


def _require_trgm(conn: Connection) -> None:
    if conn.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")):
        return
    from sqlalchemy.exc import DBAPIError

    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as exc:
        raise RuntimeError(
            "flask-helpdesk search needs the PostgreSQL extension pg_trgm, and this database"
            " role may not create it. Ask a superuser to run 'CREATE EXTENSION pg_trgm;' in"
            f" this database, then run the migration again. ({exc.orig})"
        ) from exc


def _drop(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for suffix in ("ai", "ad", "au"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS ix_{_DOCS}_trgm")
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS ix_{_DOCS}_tsv")
        conn.exec_driver_sql(f"ALTER TABLE IF EXISTS {_DOCS} DROP COLUMN IF EXISTS tsv")
