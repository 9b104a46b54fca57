"""Ticket participants: who besides the customer takes part in a ticket's conversation.

Ingest makes them (:mod:`~flask_helpdesk.services.inbound`): the others an
inbound message was addressed to (for email, its To and Cc without the
account's own addresses; :func:`normalize_participants`), and a sender who
joined the ticket by answering a message the helpdesk sent
(:func:`~flask_helpdesk.services.inbound.remembers_sender`). A participant's
mail threads like the customer's: by the keys of the ticket's inbound
messages and by its number (see :ref:`threading`).

A channel that derives them again from what it stored (e.g. the email
channel's ``flask helpdesk email backfill-participants`` after an upgrade)
adds them with :func:`add_ticket_participants`.
"""

from __future__ import annotations

import contextlib
import typing as t

from sqlalchemy import insert
from sqlalchemy import select

from ..errors import ValidationError
from ..models import Ticket
from ..models import TicketParticipant
from ..models import utcnow
from ._uow import Actor
from ._uow import session
from ._uow import transaction
from .customers import normalize_identity
from .permissions import require_role
from .tickets import require_visible

if t.TYPE_CHECKING:
    from ..channels import Identity

#: Most participants remembered per message (long Cc lists are cut).
MAX_PARTICIPANTS = 50

#: Ids an ``IN (...)`` list gets at most.
_CHUNK = 500


def normalize_participants(
    identities: t.Sequence[Identity], *, without: t.Collection[tuple[str, str]] = (),
    mailing_list: bool = False,
) -> list[tuple[str, str]]:
    """The participants a message addressed to ``identities`` makes, by ingest's rules.

    The first :data:`MAX_PARTICIPANTS` identities, normalized, without
    invalid ones and those in ``without`` (the sender, as normalized
    ``(kind, value)``), each once; none at all for mailing-list mail. This is
    :func:`~flask_helpdesk.services.inbound.participants_of`, for a channel
    that derives the participants of stored messages again (e.g. the email
    channel's ``flask helpdesk email backfill-participants``).

    :param identities: Whom the message was addressed to besides the helpdesk.
    :param without: Normalized ``(kind, value)`` pairs to leave out (its sender).
    :param mailing_list: The message came through a mailing list.

    .. versionadded:: 0.2
    """
    if mailing_list:
        return []
    out: dict[tuple[str, str], None] = {}
    for identity in identities[:MAX_PARTICIPANTS]:
        try:
            value = normalize_identity(identity.kind, identity.value)
        except ValidationError:
            continue
        if (identity.kind, value) not in without:
            out[(identity.kind, value)] = None
    return list(out)


def add_participants(ticket_id: int, identities: t.Iterable[tuple[str, str]]) -> None:
    """Remember ``(kind, value)`` identities as participants of a ticket.

    Part of ingest's transaction (no permission check, no event); the
    values must be normalized. Identities already known on the ticket are
    left alone.
    """
    wanted = set(identities)
    if not wanted:
        return
    s = session()
    known = {(row.kind, row.value) for row in s.execute(select(
        TicketParticipant.kind, TicketParticipant.value).where(
        TicketParticipant.ticket_id == ticket_id))}
    s.add_all(TicketParticipant(ticket_id=ticket_id, kind=kind, value=value)
              for kind, value in sorted(wanted - known))


def ticket_participants(ticket_id: int, *, actor: Actor) -> list[tuple[str, str]]:
    """The ticket's participants as ``(kind, value)``, in the order they were added.

    :raises NotFound: No such ticket.
    :raises PermissionDenied: ``actor`` may not see it.

    .. versionadded:: 0.2
    """
    require_visible(ticket_id, actor=actor)
    return [(row.kind, row.value) for row in session().execute(select(
        TicketParticipant.kind, TicketParticipant.value).where(
        TicketParticipant.ticket_id == ticket_id).order_by(TicketParticipant.id))]


def add_ticket_participants(
    wanted: t.Mapping[int, t.Iterable[tuple[str, str]]], *, actor: Actor, dry_run: bool = False,
) -> dict[int, list[tuple[str, str]]]:
    """Remember participants of many tickets at once, e.g. derived again from stored mail.

    The batch form of :func:`add_participants` for maintenance commands: a few
    statements for all the tickets, in one transaction. Values are
    normalized; invalid identities, identities the ticket already has and
    tickets that do not exist are left out, so running it twice adds nothing.
    Like ingest, it records no history event. Only admins may.

    :param wanted: ``(kind, value)`` identities per ticket id.
    :param dry_run: Change nothing; only say what would be added.
    :return: Per ticket that gained any, the identities added (or that would be).

    .. versionadded:: 0.2
    """
    require_role(actor, "admin")
    clean: dict[int, set[tuple[str, str]]] = {}
    for ticket_id, identities in wanted.items():
        for kind, value in identities:
            with contextlib.suppress(ValidationError):
                clean.setdefault(int(ticket_id), set()).add(
                    (kind, normalize_identity(kind, value)))
    added: dict[int, list[tuple[str, str]]] = {}
    with transaction() as s:
        ids = sorted(clean)
        for start in range(0, len(ids), _CHUNK):
            part = ids[start:start + _CHUNK]
            known: dict[int, set[tuple[str, str]]] = {i: set() for i in s.scalars(
                select(Ticket.id).where(Ticket.id.in_(part)))}
            for row in s.execute(select(
                    TicketParticipant.ticket_id, TicketParticipant.kind, TicketParticipant.value
            ).where(TicketParticipant.ticket_id.in_(part))):
                known[row.ticket_id].add((row.kind, row.value))
            for ticket_id in part:
                if ticket_id in known and (new := sorted(clean[ticket_id] - known[ticket_id])):
                    added[ticket_id] = new
        rows = [{"ticket_id": ticket_id, "kind": kind, "value": value, "created_at": utcnow()}
                for ticket_id, identities in added.items() for kind, value in identities]
        if rows and not dry_run:
            s.execute(insert(TicketParticipant), rows)
    return added
