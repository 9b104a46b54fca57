from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON
from sqlalchemy import MetaData
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase

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

#: JSON on every database, JSONB on PostgreSQL.
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base of every helpdesk model."""

    metadata = metadata


def utcnow() -> dt.datetime:
    """The current time in UTC, naive (all helpdesk timestamps are naive UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
