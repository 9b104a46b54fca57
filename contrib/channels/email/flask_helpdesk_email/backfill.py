"""Ticket participants of mail stored before the helpdesk kept them (``backfill-participants``).

Migration ``0008_threading`` created the participants table empty, so on an
upgraded install a colleague the customer copied on an old ticket could not
answer it by the ticket number or the customer's Message-ID. The To and Cc of
every inbound email are kept in its ``meta`` (:mod:`flask_helpdesk_email.parse`),
so :func:`backfill_participants` derives the participants again, with the
rules of ingest: the account's own addresses left out as
:class:`~flask_helpdesk_email.intake.Intake` does, then
:func:`flask_helpdesk.services.participants.normalize_participants` (normalized,
at most ``MAX_PARTICIPANTS`` a message, without the sender, none for
mailing-list mail). The sender is not in the stored ``meta``; every address
of the message's author is left out instead.

Messages are read a page at a time, keyset by id
(:func:`~flask_helpdesk.services.messages.list_inbound`), and each page's
participants are added in one transaction
(:func:`~flask_helpdesk.services.participants.add_ticket_participants`), so memory
stays bounded and an interrupted run loses nothing; identities a ticket
already has are left alone, so a second run adds nothing.
"""

from __future__ import annotations

import dataclasses
import typing as t

from flask_helpdesk import Identity
from flask_helpdesk import NotFound
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import channels
from flask_helpdesk.services import messages
from flask_helpdesk.services import participants

from .accounts import account_config
from .intake import own_addresses
from .intake import without_own

#: Messages read (and participants added) at a time.
PAGE = 500

#: The parts of a message's ``meta`` read: its addresses and its flags.
META_KEYS = ("to", "cc", "flags")


@dataclasses.dataclass
class BackfillStats:
    """What a backfill did (or, on a dry run, would do).

    :ivar messages: Inbound email messages read.
    :ivar tickets: Tickets that gained participants.
    :ivar participants: Participants added.
    """

    messages: int = 0
    tickets: int = 0
    participants: int = 0


def backfill_participants(*, dry_run: bool = False, page: int = PAGE) -> BackfillStats:
    """Add the participants that the To and Cc of stored inbound email make.

    :param dry_run: Change nothing; count what would be added.
    :param page: Messages read and committed at a time.
    """
    stats = BackfillStats()
    own: dict[str, set[str]] = {}
    tickets: set[int] = set()
    #: On a dry run nothing is written, so what a page would add is kept to
    #: count it once (as many entries as participants to add, not messages).
    planned: set[tuple[int, str, str]] = set()
    after = None
    while stored := messages.list_inbound("email", actor=SYSTEM, after=after, limit=page,
                                          meta_keys=META_KEYS):
        wanted: dict[int, set[tuple[str, str]]] = {}
        for message in stored:
            if message.account not in own:
                own[message.account] = _own_addresses(message.account)
            found = participants_of_stored(message, own[message.account])
            wanted.setdefault(message.ticket_id, set()).update(
                p for p in found if (message.ticket_id, *p) not in planned)
        added = participants.add_ticket_participants(wanted, actor=SYSTEM, dry_run=dry_run)
        for ticket_id, identities in added.items():
            tickets.add(ticket_id)
            stats.participants += len(identities)
            if dry_run:
                planned.update((ticket_id, *p) for p in identities)
        stats.messages += len(stored)
        after = stored[-1].id
    stats.tickets = len(tickets)
    return stats


def participants_of_stored(message: messages.StoredInbound, own: t.Collection[str]
                           ) -> list[tuple[str, str]]:
    """The participants ingest made of a stored email, from its ``meta``.

    :param own: The account's own addresses (:func:`~.intake.own_addresses`).
    """
    meta = message.meta
    flags = meta.get("flags")
    listed = bool(flags.get("mailing_list")) if isinstance(flags, dict) else False
    pairs = [p for key in ("to", "cc") if isinstance(meta.get(key), list)
             for p in meta[key] if isinstance(p, dict) and p.get("address")]
    # As the parser: each (address, name) once, To before Cc.
    identities = tuple(dict.fromkeys(
        Identity("email", str(p["address"]), str(p.get("name") or "")) for p in pairs))
    return participants.normalize_participants(
        without_own(identities, own), without=set(message.author), mailing_list=listed)


def _own_addresses(account: str) -> set[str]:
    """Own addresses of the account a message came through (none when it is gone)."""
    try:
        found = channels.find_account("email", account, actor=SYSTEM)
    except NotFound:
        return set()
    return own_addresses(account_config(found))
