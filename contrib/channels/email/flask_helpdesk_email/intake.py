"""From raw mail to stored ticket messages: parse, limit, filter, ingest in batches.

The IMAP fetcher, the archive import and the quarantine retry all go through
an :class:`Intake`, so a message is treated the same whichever way it arrives:

- :meth:`Intake.shape` routes a parsed message to the account's group, drops
  attachments over the limits (:data:`HELPDESK_EMAIL_MAX_ATTACHMENT_SIZE`,
  and the core's :data:`HELPDESK_MAX_ATTACHMENT_SIZE` and
  :data:`HELPDESK_MAX_ATTACHMENTS_PER_MESSAGE`) and applies the sender
  filters (:mod:`flask_helpdesk_email.filters`).
- :meth:`Intake.store` ingests a batch in one transaction
  (:func:`flask_helpdesk.services.ingest_batch`); in that transaction a new
  filtered ticket is tagged with the reason, and when attachments were
  dropped the ticket is tagged ``email:attachments-dropped``, the agent gets a
  note naming them and (not on an archive import) the customer an automatic
  answer through the outbox, unless an automatic reply is refused
  (:func:`flask_helpdesk.services.messages.may_reply_automatically`, which
  asks this plugin's loop guard, :mod:`flask_helpdesk_email.loops`).
  A message that reuses the Message-ID of a stored one with other content is
  stored as a new message (see :func:`flask_helpdesk.services.ingest`) and
  its ticket tagged ``email:duplicate-message-id``.

An archive import's messages are ``imported``: their events, and the tags and
notes added here, carry ``imported: true``, so no event rule runs on them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import typing as t

from flask_helpdesk import get_state
from flask_helpdesk.i18n import gettext as _
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import imported_history
from flask_helpdesk.services import ingest
from flask_helpdesk.services import ingest_batch
from flask_helpdesk.services import messages
from flask_helpdesk.services import tickets

from . import filters
from .parse import parse_message

if t.TYPE_CHECKING:
    from flask_helpdesk import Identity
    from flask_helpdesk import InboundAttachment
    from flask_helpdesk import InboundMessage
    from flask_helpdesk.models import ChannelAccount
    from flask_helpdesk.services import IngestResult

@dataclasses.dataclass(frozen=True)
class Prepared:
    """A parsed message ready for ingest.

    :ivar message: What to ingest.
    :ivar verdict: The sender filters' decision.
    :ivar dropped: ``(filename, size)`` of attachments left out.
    :ivar limit: The per-file limit that applied, in bytes.
    """

    message: InboundMessage
    verdict: filters.Verdict
    dropped: tuple[tuple[str, int], ...] = ()
    limit: int = 0


class Intake:
    """How one run (a poll, an import) turns parsed mail into what ingest gets.

    :param account: The account the mail belongs to; ``None`` for an archive
        import without one (then only the ``HELPDESK_EMAIL_*`` keys apply).
    :param settings: The account's settings (:func:`channels.account_config`).
    :param ticket_token: Pattern of a ticket number in the subject
        (default :data:`HELPDESK_EMAIL_TICKET_TOKEN`).
    :param automatic_replies: Whether the customer is answered when
        attachments were left out (an archive import answers nobody).
    :param imported: The mail is imported history (an archive import): the
        messages are ingested with ``imported=True``.
    """

    def __init__(self, account: ChannelAccount | None, settings: t.Mapping[str, t.Any], *,
                 ticket_token: str | None = None, automatic_replies: bool = True,
                 imported: bool = False) -> None:
        state = get_state()
        self.account, self.settings = account, settings
        self.config = state.config.values
        self.account_name = account.name if account is not None else ""
        self.ticket_token = ticket_token or str(self.config["HELPDESK_EMAIL_TICKET_TOKEN"])
        self.group = (agents.get_group(account.group_id).name
                      if account is not None and account.group_id else None)
        self.limit = min(int(self.config["HELPDESK_EMAIL_MAX_ATTACHMENT_SIZE"]),
                         state.config.max_attachment_size)
        self.max_files = state.config.max_attachments_per_message
        self.threshold = state.config.spam_threshold
        self.automatic_replies = automatic_replies
        self.imported = imported

    def parse(self, raw: bytes) -> InboundMessage:
        return parse_message(raw, account=self.account_name, ticket_token=self.ticket_token)

    def prepare(self, raw: bytes, *, flood: bool = False) -> Prepared:
        """Parse ``raw`` and :meth:`shape` it."""
        return self.shape(self.parse(raw), flood=flood)

    def shape(self, message: InboundMessage, *, flood: bool = False) -> Prepared:
        """Route, limit and filter a parsed message (pure: no I/O).

        :param flood: The sender is over :data:`HELPDESK_EMAIL_FLOOD_LIMIT`.
        """
        if self.group and not message.group:
            message = dataclasses.replace(message, group=self.group)
        if self.imported and not message.imported:
            message = dataclasses.replace(message, imported=True)
        own = own_addresses(self.settings)
        if own and any(p.value.lower() in own for p in message.participants):
            # Our own mailbox is no participant of the ticket.
            message = dataclasses.replace(message, participants=without_own(
                message.participants, own))
        kept: list[InboundAttachment] = []
        dropped: list[tuple[str, int]] = []
        for item in message.attachments:
            if item.size > self.limit or len(kept) >= self.max_files:
                dropped.append((item.filename, item.size))
            else:
                kept.append(item)
        if dropped:
            meta = {**message.meta, "dropped_attachments": [
                {"filename": name, "size": size} for name, size in dropped]}
            message = dataclasses.replace(message, attachments=tuple(kept), meta=meta)
        verdict = filters.judge(message, config=self.config, account=self.settings,
                                threshold=self.threshold)
        if flood and verdict.reason != "allowed":
            verdict = filters.Verdict(1.0, "flood")
        return Prepared(filters.apply(message, verdict), verdict, tuple(dropped), self.limit)

    def store(self, batch: t.Sequence[Prepared], *, finish: t.Callable[
            [list[tuple[int, IngestResult]]], None] | None = None,
              ) -> list[IngestResult | Exception]:
        """Ingest ``batch`` in one transaction (:func:`ingest_batch`) with tags and notes.

        :param finish: Also called in the transaction, e.g. to advance a cursor.
        :return: Per message its result, or the exception that kept it out.
        """
        def done(pairs: list[tuple[int, IngestResult]]) -> None:
            for index, result in pairs:
                self.finish_one(batch[index], result)
            if finish is not None:
                finish(pairs)

        return ingest_batch([p.message for p in batch], finish=done)

    def finish_one(self, prepared: Prepared, result: IngestResult) -> None:
        """The filter's tag and the dropped files' note (and answer) of a stored message."""
        if result.duplicate:
            return
        tags = [prepared.verdict.tag] if result.created and prepared.verdict.tag else []
        if prepared.dropped and result.created:
            tags.append(DROPPED_TAG)
        if result.reused_id_of is not None:
            tags.append(DUPLICATE_ID_TAG)
        with imported_history() if prepared.message.imported else contextlib.nullcontext():
            if tags:
                tickets.update_ticket(result.ticket_id, actor=SYSTEM,
                                      changes=TicketChanges(add_tags=tags))
            if prepared.dropped:
                _report_dropped(prepared, result, self)


def own_addresses(settings: t.Mapping[str, t.Any]) -> set[str]:
    """The account's own addresses (``from_address``, ``imap_username``), lowercased."""
    return {str(a).strip().lower() for a in (settings.get("from_address"),
                                             settings.get("imap_username")) if a}


def without_own(participants: t.Iterable[Identity], own: t.Collection[str]
                ) -> tuple[Identity, ...]:
    """``participants`` without the account's own addresses (see :func:`own_addresses`)."""
    return tuple(p for p in participants if p.value.lower() not in own)


#: The tag of a ticket whose email came with attachments that were left out.
DROPPED_TAG = "email:attachments-dropped"

#: The tag of a ticket that got an email reusing the Message-ID of another, different one.
DUPLICATE_ID_TAG = "email:duplicate-message-id"


def prepare(
    raw: bytes, *, account: ChannelAccount, settings: t.Mapping[str, t.Any],
    flood: bool = False, ticket_token: str | None = None,
) -> Prepared:
    """Parse ``raw`` for ``account`` and apply its limits and filters (see :class:`Intake`)."""
    return Intake(account, settings, ticket_token=ticket_token).prepare(raw, flood=flood)


def store(prepared: Prepared, *, account: ChannelAccount,
          settings: t.Mapping[str, t.Any]) -> IngestResult:
    """Ingest ``prepared`` and add its tag, note and answer (call it in a transaction)."""
    result = ingest(prepared.message)
    Intake(account, settings).finish_one(prepared, result)
    return result


def _report_dropped(prepared: Prepared, result: IngestResult, intake: Intake) -> None:
    files = ", ".join(f"{name} ({_size(size)})" for name, size in prepared.dropped)
    messages.add_note(result.ticket_id, actor=SYSTEM, text=_(
        "Attachments left out of this email, over the limit of %(limit)s per file or the"
        " number of files allowed: %(files)s. The original email stays in the mailbox.",
        limit=_size(prepared.limit), files=files))
    if not intake.automatic_replies:
        return
    ticket = tickets.get_ticket(result.ticket_id, actor=SYSTEM)
    if ticket.status in ("spam", "closed"):
        return
    if not messages.may_reply_automatically(ticket):
        return
    messages.reply(result.ticket_id, actor=SYSTEM, text=_(
        "We received your email \"%(subject)s\" as ticket #%(id)s, but these attachments"
        " were not accepted because they are too large (at most %(limit)s per file) or too"
        " many: %(files)s.\n\nPlease send them in smaller parts or as a download link."
        " This is an automatic message.",
        subject=prepared.message.subject, id=result.ticket_id, limit=_size(prepared.limit),
        files=files))


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"
