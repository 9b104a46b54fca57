from __future__ import annotations

import datetime as dt
import typing as t

from sqlalchemy import JSON
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Dialect
    from sqlalchemy.types import TypeEngine

#: The helpdesk's own MetaData, with a naming convention so that Alembic
#: migrations name constraints the same way on every database.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class _JSONB(TypeDecorator[t.Any]):
    """PostgreSQL's JSONB, its dialect imported only once a PostgreSQL engine uses it.

    Importing ``sqlalchemy.dialects.postgresql`` (all its drivers) costs about
    30 ms, which every process on SQLite would pay at start-up.
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[t.Any]:
        from sqlalchemy.dialects.postgresql import JSONB

        return dialect.type_descriptor(JSONB())


#: JSON on every database, JSONB on PostgreSQL.
JSONType = JSON().with_variant(_JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base of every helpdesk model."""

    metadata = metadata


def utcnow() -> dt.datetime:
    """The current time in UTC, naive (all helpdesk timestamps are naive UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
