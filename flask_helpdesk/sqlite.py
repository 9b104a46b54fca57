"""SQLite settings for the embedded mode: web requests and the in-process worker
share one database file.

With SQLite's default deferred transactions, a transaction that reads and then
writes fails at once with "database is locked" when another connection is
writing, and no busy timeout helps it. :func:`tune_engine` makes every
transaction ``BEGIN IMMEDIATE`` (writers queue behind each other, up to the
busy timeout), turns on WAL (readers never wait for the writer) and foreign
keys. ``init_app`` applies it to the helpdesk's engine when it is SQLite,
unless :data:`HELPDESK_SQLITE_TUNING` is false.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

_TUNED = "helpdesk_sqlite_tuned"


def tune_engine(engine: sa.engine.Engine, *, busy_timeout_ms: int = 30_000) -> bool:
    """Apply the settings to a SQLite engine (idempotent); False for other databases."""
    if engine.dialect.name != "sqlite" or engine.dialect.driver != "pysqlite":
        return False
    if getattr(engine, _TUNED, False):
        return True

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: t.Any, record: t.Any) -> None:
        dbapi_connection.isolation_level = None  # the "begin" listener below decides
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: t.Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    setattr(engine, _TUNED, True)
    engine.dispose()  # connections made before the listeners get them on reconnect
    return True
