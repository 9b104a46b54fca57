"""SQLite settings for the embedded mode: web requests and the in-process worker
share one database file.

With SQLite's default deferred transactions, a transaction that reads and then
writes fails at once with "database is locked" when another connection wrote
in between, and no busy timeout helps it. :func:`tune_engine` turns on WAL
(readers never wait for the writer) and a busy timeout, and
:func:`begin_immediate` makes the services' write transactions
(:func:`flask_helpdesk.services.transaction`) start with ``BEGIN IMMEDIATE``
under a per-engine writer lock, so writers queue behind each other instead of
failing, and the writers of one process take turns without sleeping. Plain reads keep
pysqlite's usual behaviour. ``init_app`` applies it to the helpdesk's engine
when it is SQLite, unless :data:`HELPDESK_SQLITE_TUNING` is false.
"""

from __future__ import annotations

import threading
import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import scoped_session

if t.TYPE_CHECKING:
    from sqlalchemy.orm import Session

_TUNED = "helpdesk_sqlite_tuned"
_WRITER = "helpdesk_sqlite_writer_lock"


def tune_engine(engine: sa.engine.Engine, *, busy_timeout_ms: int = 30_000,
                synchronous: str = "NORMAL") -> bool:
    """Turn on WAL and a busy timeout on a SQLite engine (idempotent).

    ``synchronous`` (``NORMAL``, ``FULL`` or ``EXTRA``) applies to database
    files: with WAL, ``NORMAL`` syncs the log at checkpoints instead of at
    every commit, which SQLite documents as safe from corruption; only a
    power cut or an operating system crash may undo the latest commits.

    :return: False for other databases (nothing changed).
    """
    if engine.dialect.name != "sqlite" or engine.dialect.driver != "pysqlite":
        return False
    if getattr(engine, _TUNED, False):
        return True
    mode = synchronous.upper()
    if mode not in ("NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"synchronous must be NORMAL, FULL or EXTRA, not {synchronous!r}")

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: t.Any, record: t.Any) -> None:
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={mode}")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    setattr(engine, _TUNED, True)
    setattr(engine, _WRITER, threading.RLock())
    engine.dispose()  # connections made before the listener get it on reconnect
    return True


def begin_immediate(session: Session | scoped_session[Session],
                    engine: sa.engine.Engine) -> threading.RLock | None:
    """Start the session's transaction on ``engine`` with ``BEGIN IMMEDIATE``.

    Called by the unit of work before a service writes. An open transaction
    of the session is committed first (it holds no write yet, or the service
    would commit it anyway), so the write never upgrades a stale read
    snapshot. Then the engine's writer lock is taken: writers of this
    process (web threads, the embedded worker's threads) queue on it and the
    next one starts the moment the previous commits, instead of polling
    SQLite's lock with the busy handler's growing sleeps. Other processes
    still wait through the busy timeout.

    :return: The writer lock, held: the caller releases it once the
        transaction has ended. ``None`` (nothing done) unless ``engine`` was
        tuned by :func:`tune_engine`.
    """
    lock: threading.RLock | None = getattr(engine, _WRITER, None)
    if lock is None:
        return None
    current = session() if isinstance(session, scoped_session) else session
    if current.in_transaction():
        current.commit()
    lock.acquire()
    try:
        conn = current.connection(bind_arguments={"bind": engine})
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        lock.release()
        raise
    return lock
