"""Tags: listing the names in use, and the admin's rename, merge and delete.

Tags are created by the ticket services when an agent or a rule tags a
ticket. Admins tidy them up here: every ticket whose tags change gets a
``ticket.tags_changed`` event (``{"added": [...], "removed": [...]}``, the
same kind the ticket services record), written in bulk so that a tag on many
thousands of tickets is changed with a handful of statements. The tickets'
``updated_at`` is left alone: tidying the tag list is not news about the
tickets, and must not reorder every inbox.

Rules and saved views that name a tag are not rewritten; they keep the name
they were saved with.
"""

from __future__ import annotations

import dataclasses
import typing as t

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select

from ..errors import Conflict
from ..errors import NotFound
from ..errors import ValidationError
from ..i18n import _
from ..models import Tag
from ..models import Ticket
from ..models.ticket import ticket_tags
from ._history import record_many
from ._uow import Actor
from ._uow import session
from ._uow import transaction
from .permissions import require_role


@dataclasses.dataclass(frozen=True)
class TagUsage:
    """A tag and how many tickets carry it.

    :ivar id: The tag's id.
    :ivar name: Its name.
    :ivar tickets: Tickets tagged with it (merged ones included).
    """

    id: int
    name: str
    tickets: int


def list_tags(*, prefix: str | None = None, after: str | None = None,
              limit: int = 100) -> list[Tag]:
    """Tags by name, keyset-paginated by name.

    :param prefix: Only tags whose name starts with this (case-insensitive).
    :param after: The last name of the previous page.
    :param limit: Most tags returned.
    """
    query = select(Tag).order_by(Tag.name).limit(limit)
    return list(session().scalars(_filter(query, prefix, after)))


def tag_usage(*, prefix: str | None = None, after: str | None = None,
              limit: int = 100) -> list[TagUsage]:
    """Like :func:`list_tags`, with the number of tickets of each tag (one query)."""
    query = (select(Tag.id, Tag.name, func.count(ticket_tags.c.ticket_id))
             .outerjoin(ticket_tags, ticket_tags.c.tag_id == Tag.id)
             .group_by(Tag.id, Tag.name).order_by(Tag.name).limit(limit))
    rows = session().execute(_filter(query, prefix, after))
    return [TagUsage(id, name, count) for id, name, count in rows]


def get_tag(tag_id: int) -> Tag:
    """One tag.

    :raises NotFound: No such tag.
    """
    tag = session().get(Tag, tag_id)
    if tag is None:
        raise NotFound(_("Tag %(id)s does not exist.", id=tag_id))
    return tag


def find_tag(name: str, *, field: str = "name") -> Tag:
    """The tag called ``name`` (normalized as tags are).

    :param field: The input field the name came from, for the error.
    :raises ValidationError: There is no such tag.
    """
    tag = session().scalar(select(Tag).where(Tag.name == _name(name, field)))
    if tag is None:
        raise ValidationError(_("There is no tag %(name)s.", name=name.strip()), field=field)
    return tag


def rename_tag(tag_id: int, *, actor: Actor, name: str) -> Tag:
    """Give a tag a new name on every ticket. Only admins may.

    :raises Conflict: Another tag has that name (merge into it instead).
    :raises ValidationError: The name is not a valid tag.
    """
    require_role(actor, "admin")
    with transaction():
        tag = get_tag(tag_id)
        new = _name(name)
        if new == tag.name:
            return tag
        if session().scalar(select(Tag.id).where(Tag.name == new)) is not None:
            raise Conflict(_("A tag named %(name)s exists already; merge into it instead.",
                             name=new), field="name")
        old, tag.name = tag.name, new
        record_many(actor, "ticket.tags_changed", [
            (tid, gid, {"added": [new], "removed": [old]}) for tid, gid in _tickets(tag.id)])
    return tag


def merge_tags(source_id: int, *, into_id: int, actor: Actor) -> Tag:
    """Replace a tag by another on every ticket and delete it. Only admins may.

    A ticket that had both keeps one ``into`` tag.

    :return: The tag that remains.
    :raises ValidationError: Both are the same tag.
    """
    require_role(actor, "admin")
    if source_id == into_id:
        raise ValidationError(_("A tag cannot be merged into itself."), field="into")
    with transaction() as s:
        source, into = get_tag(source_id), get_tag(into_id)
        has_into = set(s.scalars(select(ticket_tags.c.ticket_id).where(
            ticket_tags.c.tag_id == into.id)))
        changes = [(tid, gid, {"added": [] if tid in has_into else [into.name],
                               "removed": [source.name]}) for tid, gid in _tickets(source.id)]
        s.execute(insert(ticket_tags).from_select(
            ["ticket_id", "tag_id"],
            select(ticket_tags.c.ticket_id, literal(into.id)).where(
                ticket_tags.c.tag_id == source.id,
                ticket_tags.c.ticket_id.not_in(select(ticket_tags.c.ticket_id).where(
                    ticket_tags.c.tag_id == into.id)))))
        _drop(source)
        record_many(actor, "ticket.tags_changed", changes)
    return into


def delete_tag(tag_id: int, *, actor: Actor) -> int:
    """Remove a tag from every ticket and delete it. Only admins may.

    :return: How many tickets lost the tag.
    """
    require_role(actor, "admin")
    with transaction():
        tag = get_tag(tag_id)
        changes = [(tid, gid, {"added": [], "removed": [tag.name]})
                   for tid, gid in _tickets(tag.id)]
        _drop(tag)
        return record_many(actor, "ticket.tags_changed", changes)


def _filter(query: t.Any, prefix: str | None, after: str | None) -> t.Any:
    if prefix:
        escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Tag.name.like(escaped + "%", escape="\\"))
    if after is not None:
        query = query.where(Tag.name > after)
    return query


def _name(name: str, field: str = "name") -> str:
    from .tickets import normalize_tag

    try:
        return normalize_tag(name)
    except ValidationError as exc:
        raise ValidationError(exc.message, field=field) from None


def _tickets(tag_id: int) -> list[tuple[int, int | None]]:
    """``(ticket_id, group_id)`` of every ticket with the tag."""
    query = (select(Ticket.id, Ticket.group_id)
             .join(ticket_tags, ticket_tags.c.ticket_id == Ticket.id)
             .where(ticket_tags.c.tag_id == tag_id).order_by(Ticket.id))
    return [(tid, gid) for tid, gid in session().execute(query)]


def _drop(tag: Tag) -> None:
    """Delete a tag and its links (SQLite may not enforce the cascade)."""
    s = session()
    s.execute(delete(ticket_tags).where(ticket_tags.c.tag_id == tag.id))
    s.delete(tag)
