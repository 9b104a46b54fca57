"""Ticket lists: filters, sorting, keyset pagination, saved views and their counts.

Every list is one index-backed query with a keyset cursor (no OFFSET), and
the related rows of a page are loaded with a fixed number of extra queries,
whatever the page holds.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import threading
import time
import typing as t

from sqlalchemy import and_
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import union
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import selectinload

from ..errors import NotFound
from ..errors import PermissionDenied
from ..errors import ValidationError
from ..extension import get_state
from ..i18n import _
from ..models import Agent
from ..models import SavedView
from ..models import Tag
from ..models import Ticket
from ..models import ticket_tags
from ..models.ticket import PRIORITIES
from ..models.ticket import STATUSES
from ..models.ticket import UNSOLVED
from . import _validate as v
from ._uow import Actor
from ._uow import session
from ._uow import transaction
from .permissions import require_role
from .permissions import visible_tickets

if t.TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy import Select

#: Sort keys: name -> ((column attribute, descending), ...); ``id`` breaks ties
#: in the direction of the last key. Each ``-name`` is the exact reverse of
#: ``name``, so one index serves both directions.
SORTS: dict[str, tuple[tuple[str, bool], ...]] = {
    "priority": (("priority", True), ("created_at", False)),
    "-priority": (("priority", False), ("created_at", True)),
    "created": (("created_at", False),),
    "-created": (("created_at", True),),
    "updated": (("updated_at", False),),
    "-updated": (("updated_at", True),),
    "last_customer_message": (("last_customer_message_at", False),),
    "-last_customer_message": (("last_customer_message_at", True),),
}

_EPOCH = dt.datetime(1970, 1, 1)


@dataclasses.dataclass(frozen=True)
class TicketFilter:
    """Which tickets a list shows. Empty fields do not filter.

    :ivar status: Any of these statuses.
    :ivar priority: Any of these priority names.
    :ivar assignee: Agent ids, plus ``"me"`` and ``"none"`` (unassigned).
    :ivar group: Group ids, plus ``"none"`` (no group).
    :ivar tags: Every one of these tags.
    :ivar channel: Any of these channels.
    :ivar customer: Tickets of this customer id.
    :ivar q: Full-text search over subject, messages and customer identities.
    :ivar created_after, created_before, updated_after, updated_before: Ranges.
    """

    status: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    assignee: tuple[int | str, ...] = ()
    group: tuple[int | str, ...] = ()
    tags: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    customer: int | None = None
    q: str | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> TicketFilter:
        """Parse a JSON filter (as saved views and the API hold them).

        :raises ValidationError: Unknown keys or invalid values.
        """
        if not isinstance(data, t.Mapping):
            raise ValidationError(_("filters must be an object."), field="filters")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationError(_("Unknown filters: %(names)s. Known: %(known)s.",
                                    names=", ".join(unknown), known=", ".join(sorted(known))),
                                  field="filters")
        kw: dict[str, t.Any] = {}
        for name in ("status", "priority", "tags", "channel"):
            kw[name] = tuple(_strings(data.get(name), name))
        for value in kw["status"]:
            v.one_of(value, "status", STATUSES)
        for value in kw["priority"]:
            v.one_of(value, "priority", PRIORITIES)
        kw["tags"] = tuple(x.lower() for x in kw["tags"])
        kw["assignee"] = tuple(_ids(data.get("assignee"), "assignee", ("me", "none")))
        kw["group"] = tuple(_ids(data.get("group"), "group", ("none",)))
        if data.get("customer") is not None:
            kw["customer"] = _int(data["customer"], "customer")
        if data.get("q") is not None:
            q = v.text(data["q"], "q", max_length=200, required=False)
            kw["q"] = q or None
        for name in ("created_after", "created_before", "updated_after", "updated_before"):
            if data.get(name) is not None:
                kw[name] = _datetime(data[name], name)
        return cls(**kw)

    def to_dict(self) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value in ((), None):
                continue
            out[f.name] = (list(value) if isinstance(value, tuple) else
                           value.isoformat() if isinstance(value, dt.datetime) else value)
        return out


def _strings(value: t.Any, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(x, str) for x in value):
        raise ValidationError(_("%(field)s must be a list of text.", field=field), field=field)
    return [x.strip() for x in value if x.strip()]


def _int(value: t.Any, field: str) -> int:
    if isinstance(value, str):
        value = v.whole_number(value, maximum=v.MAX_ID) or value
    return v.integer(value, field)


def _ids(value: t.Any, field: str, words: tuple[str, ...]) -> list[int | str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        value = [value]
    return [x if x in words else _int(x, field) for x in value]


def _datetime(value: t.Any, field: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(_("%(field)s must be a date and time (ISO 8601).", field=field),
                              field=field) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of tickets and the cursor of the next page (``None`` at the end)."""

    items: list[Ticket]
    next_cursor: str | None


def conditions(
    actor: Actor, f: TicketFilter, *, page: bool = False
) -> list[ColumnElement[bool]]:
    """The SQL conditions of a filter, visibility included.

    :param page: The conditions are for one page of a sorted list: the text
        search is shaped for that (:func:`.search.narrowed`, one query more).
    """
    from .search import matching
    from .search import narrowed

    where: list[ColumnElement[bool]] = [visible_tickets(actor), Ticket.merged_into_id.is_(None)]
    if f.status:
        where.append(Ticket.status.in_(f.status))
    if f.priority:
        where.append(Ticket.priority.in_([PRIORITIES.index(p) for p in f.priority]))
    if f.assignee:
        where.append(_id_condition(Ticket.assignee_id, f.assignee, actor))
    if f.group:
        where.append(_id_condition(Ticket.group_id, f.group, actor))
    if f.channel:
        where.append(Ticket.channel.in_(f.channel))
    if f.customer is not None:
        where.append(Ticket.customer_id == f.customer)
    for tag in f.tags:
        where.append(Ticket.id.in_(
            select(ticket_tags.c.ticket_id).join(Tag, Tag.id == ticket_tags.c.tag_id)
            .where(Tag.name == tag)))
    for attr, op, value in (("created_at", "ge", f.created_after),
                            ("created_at", "lt", f.created_before),
                            ("updated_at", "ge", f.updated_after),
                            ("updated_at", "lt", f.updated_before)):
        if value is not None:
            col = getattr(Ticket, attr)
            where.append(col >= value if op == "ge" else col < value)
    if f.q:
        where.append(narrowed(f.q) if page else matching(f.q))
    return where


def _id_condition(column: t.Any, values: tuple[int | str, ...], actor: Actor) -> ColumnElement[
        bool]:
    ids = [x for x in values if isinstance(x, int)]
    if "me" in values:
        ids.append(actor.id if isinstance(actor, Agent) else -1)
    clauses = []
    if ids:
        clauses.append(column.in_(ids))
    if "none" in values:
        clauses.append(column.is_(None))
    return or_(*clauses) if clauses else false()


def _sort_columns(sort: str) -> list[tuple[t.Any, bool]]:
    if sort not in SORTS:
        raise ValidationError(_("Unknown sort %(sort)s; use one of: %(known)s.", sort=sort,
                                known=", ".join(SORTS)), field="sort")
    cols = []
    for attr, desc in SORTS[sort]:
        col = getattr(Ticket, attr)
        if attr == "last_customer_message_at":
            col = func.coalesce(col, Ticket.created_at)
        cols.append((col, desc))
    cols.append((Ticket.id, cols[-1][1] if cols else False))
    return cols


def _encode(values: list[t.Any]) -> str:
    raw = json.dumps([x.isoformat() if isinstance(x, dt.datetime) else x for x in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, sort: str, n: int) -> list[t.Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != n:
            raise ValueError
        kinds = [attr for attr, _desc in SORTS[sort]] + ["id"]
        decoded = [dt.datetime.fromisoformat(x) if k.endswith("_at") else int(x)
                   for k, x in zip(kinds, values, strict=True)]
        if any(isinstance(x, int) and not -2**31 <= x < 2**31 for x in decoded):
            raise ValueError  # beyond any column: the database would raise
        return decoded
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(_("The page cursor is invalid; start from the first page."),
                              field="cursor") from None


def _after(cols: list[tuple[t.Any, bool]], values: list[t.Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``cols`` (mixed directions).

    The redundant bound on the first column lets the database seek in the
    index instead of scanning from the start.
    """
    ors = []
    for i, (col, desc) in enumerate(cols):
        prefix = [cols[j][0] == values[j] for j in range(i)]
        step = col < values[i] if desc else col > values[i]
        ors.append(and_(*prefix, step))
    first, desc = cols[0]
    return and_(first <= values[0] if desc else first >= values[0], or_(*ors))


def list_tickets(
    *, actor: Actor, filters: TicketFilter | None = None, sort: str = "-updated",
    cursor: str | None = None, limit: int | None = None,
) -> Page:
    """A page of the tickets ``actor`` may see, matching ``filters``.

    Tickets come with customer, group, assignee and tags loaded (three or four
    queries in all, whatever the page size).
    """
    config = get_state().config
    limit = config.page_size if limit is None else limit
    if isinstance(limit, bool) or not isinstance(limit, int) or not (
            1 <= limit <= config.max_page_size):
        raise ValidationError(_("limit must be between 1 and %(max)d.",
                                max=config.max_page_size), field="limit")
    f = filters or TicketFilter()
    cols = _sort_columns(sort)
    query: Select[Ticket] = select(Ticket).where(*conditions(actor, f, page=True))
    if cursor:
        query = query.where(_after(cols, _decode(cursor, sort, len(cols))))
    query = query.order_by(*[c.desc() if d else c.asc() for c, d in cols]).limit(limit + 1)
    # Many-to-one rows come in the same statement; tags (and the customers'
    # identities, the assignees' groups: selectin on the models) in one more each.
    query = query.options(joinedload(Ticket.customer), joinedload(Ticket.group),
                          joinedload(Ticket.assignee), selectinload(Ticket.tags))
    items = list(session().scalars(query))
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = _encode([_value(last, attr) for attr, _d in SORTS[sort]] + [last.id])
    return Page(items, next_cursor)


def _value(ticket: Ticket, attr: str) -> t.Any:
    value = getattr(ticket, attr)
    if attr == "last_customer_message_at" and value is None:
        return ticket.created_at
    return value


def count_tickets(*, actor: Actor, filters: TicketFilter) -> int:
    return int(session().scalar(select(func.count()).select_from(Ticket)
                                .where(*conditions(actor, filters))) or 0)


# --------------------------------------------------------------- saved views


def list_views(*, actor: Actor) -> list[SavedView]:
    """The shared views and the actor's own, in position order."""
    query = select(SavedView).order_by(SavedView.position, SavedView.id)
    owner = actor.id if isinstance(actor, Agent) else -1
    query = query.where(or_(SavedView.owner_id.is_(None), SavedView.owner_id == owner))
    return list(session().scalars(query))


def get_view(view_id: int, *, actor: Actor) -> SavedView:
    view = session().get(SavedView, view_id)
    if view is None or (view.owner_id is not None and not (
            isinstance(actor, Agent) and actor.id == view.owner_id)):
        raise NotFound(_("View %(id)s does not exist.", id=view_id))
    return view


def create_view(
    *, actor: Actor, name: str, filters: t.Mapping[str, t.Any], sort: str = "-updated",
    shared: bool = False, position: int = 0,
) -> SavedView:
    """Save a view; shared views are for managers and admins to create."""
    if shared:
        require_role(actor, "manager")
    elif not isinstance(actor, Agent):
        raise PermissionDenied(_("Only an agent can own a personal view."))
    parsed = TicketFilter.from_dict(filters)
    _sort_columns(sort)
    view = SavedView(name=v.text(name, "name", max_length=100), filters=parsed.to_dict(),
                     sort=sort, position=v.integer(position, "position", minimum=0),
                     owner_id=None if shared else t.cast(Agent, actor).id)
    with transaction() as s:
        s.add(view)
    return view


def update_view(
    view_id: int, *, actor: Actor, name: str = v.UNSET, filters: t.Mapping[str, t.Any] =
    v.UNSET, sort: str = v.UNSET, position: int = v.UNSET,
) -> SavedView:
    with transaction():
        view = get_view(view_id, actor=actor)
        if view.owner_id is None:
            require_role(actor, "manager")
        if name is not v.UNSET:
            view.name = v.text(name, "name", max_length=100)
        if filters is not v.UNSET:
            view.filters = TicketFilter.from_dict(filters).to_dict()
        if sort is not v.UNSET:
            _sort_columns(sort)
            view.sort = sort
        if position is not v.UNSET:
            view.position = v.integer(position, "position", minimum=0)
    return view


def delete_view(view_id: int, *, actor: Actor) -> None:
    with transaction() as s:
        view = get_view(view_id, actor=actor)
        if view.owner_id is None:
            require_role(actor, "manager")
        s.delete(view)


def view_counts(*, actor: Actor, views: t.Sequence[SavedView],
                limit: int | None = None) -> dict[int, int]:
    """Ticket count of each view, in one statement.

    Each count is its own scalar subquery, so each can use the index that
    fits its filter rather than all sharing one scan of every ticket. With
    ``limit``, a count stops at ``limit + 1`` (so "more than ``limit``" is
    told apart from exactly ``limit``) and never reads more rows than that:
    a view of every solved ticket costs no more than a small one.
    """
    if not views:
        return {}
    columns = []
    for i, view in enumerate(views):
        where = conditions(actor, TicketFilter.from_dict(view.filters))
        if limit is None:
            count = select(func.count()).select_from(Ticket).where(*where)
        else:
            capped = select(Ticket.id).where(*where).limit(limit + 1).subquery()
            count = select(func.count()).select_from(capped)
        columns.append(count.scalar_subquery().label(f"view_{i}"))
    row = session().execute(select(*columns)).one()
    return {view.id: int(n) for view, n in zip(views, row, strict=True)}


def group_counts(*, actor: Actor) -> dict[int | None, int]:
    """Unsolved (open, pending, on hold) tickets per group the actor may see.

    One ``GROUP BY`` over the covering ``(group_id, status, ...)`` index. A
    group the actor sees is seen whole, so its count needs no per-ticket
    visibility check: the rows of other groups are just left out (``None``
    counts tickets without a group). Merged tickets are closed, so no
    unsolved count includes one.
    """
    query = (select(Ticket.group_id, func.count()).where(Ticket.status.in_(UNSOLVED))
             .group_by(Ticket.group_id))
    counts = {group_id: int(n) for group_id, n in session().execute(query)}
    if isinstance(actor, Agent) and not actor.sees_all:
        visible = actor.group_ids | {None} if actor.active else set()
        counts = {k: n for k, n in counts.items() if k in visible}
    return counts


def _visible_unsolved_ids(actor: Actor) -> t.Any:
    """The ids of the unsolved tickets the actor may see, index-only.

    The visibility rule split into a union, so each part is a covering index
    range: the groups' tickets, and the tickets assigned to the agent.
    """
    unsolved = Ticket.status.in_(UNSOLVED)
    if not isinstance(actor, Agent) or actor.sees_all or not actor.active:
        return select(Ticket.id).where(unsolved, visible_tickets(actor))
    groups = [Ticket.group_id.is_(None)]
    if actor.group_ids:
        groups.append(Ticket.group_id.in_(sorted(actor.group_ids)))
    # The same rule as permissions.visible_tickets, one index range per part.
    return union(select(Ticket.id).where(unsolved, or_(*groups)),
                 select(Ticket.id).where(unsolved, Ticket.assignee_id == actor.id))


def tag_counts(*, actor: Actor, limit: int = 10) -> list[tuple[str, int]]:
    """The tags on most unsolved tickets the actor may see, with their counts."""
    n = func.count().label("n")
    top = (select(ticket_tags.c.tag_id, n)
           .where(ticket_tags.c.ticket_id.in_(_visible_unsolved_ids(actor)))
           .group_by(ticket_tags.c.tag_id).order_by(n.desc()).limit(limit).subquery())
    query = (select(Tag.name, top.c.n).join(top, top.c.tag_id == Tag.id)
             .order_by(top.c.n.desc(), Tag.name))
    return [(name, int(count)) for name, count in session().execute(query)]


#: (app, visibility, views) -> (expires at, counts); see :func:`sidebar_counts`.
_count_cache: dict[tuple[t.Any, ...], tuple[float, SidebarCounts]] = {}
_count_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class SidebarCounts:
    """The inbox sidebar's numbers: per saved view, per group, the top tags."""

    views: dict[int, int]
    groups: dict[int | None, int]
    tags: list[tuple[str, int]]
    #: :data:`HELPDESK_VIEW_COUNT_LIMIT` (``None``: exact): a view count above
    #: it means "more than ``view_limit``".
    view_limit: int | None = None


def sidebar_counts(*, actor: Actor, views: t.Sequence[SavedView]) -> SidebarCounts:
    """:func:`view_counts`, :func:`group_counts` and :func:`tag_counts` at once.

    View counts stop above :data:`HELPDESK_VIEW_COUNT_LIMIT`.

    Reused for :data:`HELPDESK_COUNT_CACHE_SECONDS` by every agent who sees
    the same tickets (same role class, groups, and "me" for views about the
    agent), so a team loading the inbox counts once, not once per page.
    """
    ttl = get_state().config.count_cache_seconds
    key = (id(get_state()), _visibility_key(actor),
           tuple((view.id, json.dumps(view.filters, sort_keys=True)) for view in views))
    now = time.monotonic()
    if ttl > 0:
        with _count_lock:
            hit = _count_cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
    limit = get_state().config.view_count_limit or None
    counts = SidebarCounts(view_counts(actor=actor, views=views, limit=limit),
                           group_counts(actor=actor), tag_counts(actor=actor), limit)
    if ttl > 0:
        with _count_lock:
            if len(_count_cache) > 1000:
                _count_cache.clear()
            _count_cache[key] = (now + ttl, counts)
    return counts


def _visibility_key(actor: Actor) -> tuple[t.Any, ...]:
    if not isinstance(actor, Agent):
        return ("system",)
    # "me" filters and assigned tickets depend on the agent itself.
    return (actor.id, actor.active, actor.sees_all, tuple(sorted(actor.group_ids)))
