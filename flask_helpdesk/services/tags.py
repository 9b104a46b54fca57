"""Tags: listing the names in use (tags are created by the ticket services)."""

from __future__ import annotations

from sqlalchemy import select

from ..models import Tag
from ._uow import session


def list_tags(*, prefix: str | None = None, after: str | None = None,
              limit: int = 100) -> list[Tag]:
    """Tags by name, keyset-paginated by name.

    :param prefix: Only tags whose name starts with this (case-insensitive).
    :param after: The last name of the previous page.
    :param limit: Most tags returned.
    """
    query = select(Tag).order_by(Tag.name).limit(limit)
    if prefix:
        escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Tag.name.like(escaped + "%", escape="\\"))
    if after is not None:
        query = query.where(Tag.name > after)
    return list(session().scalars(query))
