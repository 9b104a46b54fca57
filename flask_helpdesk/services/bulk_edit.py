"""Changing many tickets at once, as the inbox's bulk actions do.

Each ticket is changed through the same service as a single edit, in its own
transaction, so one ticket that refuses the change (closed, merged, not
visible) does not undo the others; the result says which tickets changed and
why the others did not. A bulk call takes at most :data:`BULK_MAX` tickets.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ..errors import HelpdeskError
from ..errors import ValidationError
from ..i18n import _
from . import tickets

if t.TYPE_CHECKING:
    from ._uow import Actor
    from .tickets import TicketChanges

#: Most tickets one bulk action changes.
BULK_MAX = 100


@dataclasses.dataclass
class BulkResult:
    """What a bulk action did.

    :ivar changed: Ids of the tickets that were changed.
    :ivar failed: Ticket id -> the message of the error that refused it.
    """

    changed: list[int] = dataclasses.field(default_factory=list)
    failed: dict[int, str] = dataclasses.field(default_factory=dict)


def _ids(ticket_ids: t.Iterable[int]) -> list[int]:
    ids = list(dict.fromkeys(ticket_ids))
    if not ids:
        raise ValidationError(_("Select at least one ticket."), field="ticket_ids")
    if len(ids) > BULK_MAX:
        raise ValidationError(_("At most %(max)d tickets can be changed at once.",
                                max=BULK_MAX), field="ticket_ids")
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in ids):
        raise ValidationError(_("Ticket ids must be numbers."), field="ticket_ids")
    return ids


def _each(ids: list[int], change: t.Callable[[int], object]) -> BulkResult:
    result = BulkResult()
    for ticket_id in ids:
        try:
            change(ticket_id)
        except HelpdeskError as exc:
            result.failed[ticket_id] = exc.message
        else:
            result.changed.append(ticket_id)
    return result


def update_tickets(
    ticket_ids: t.Iterable[int], *, actor: Actor, changes: TicketChanges
) -> BulkResult:
    """Apply the same ``changes`` to every ticket (status, assignee, group, tags...).

    :raises ValidationError: No ticket, too many, or ``changes`` is empty.
    """
    ids = _ids(ticket_ids)
    if changes == type(changes)():
        raise ValidationError(_("Choose what to change."), field="action")
    return _each(ids, lambda ticket_id: tickets.update_ticket(
        ticket_id, actor=actor, changes=changes))


def merge_into(ticket_ids: t.Iterable[int], into_id: int, *, actor: Actor) -> BulkResult:
    """Merge every ticket into ticket ``into_id`` (each must be of the same customer)."""
    ids = [x for x in _ids(ticket_ids) if x != into_id]
    if not ids:
        raise ValidationError(_("Select tickets other than the one to merge into."),
                              field="ticket_ids")
    tickets.get_ticket(into_id, actor=actor)  # NotFound / PermissionDenied before any change
    return _each(ids, lambda ticket_id: tickets.merge_tickets(ticket_id, into_id, actor=actor))
