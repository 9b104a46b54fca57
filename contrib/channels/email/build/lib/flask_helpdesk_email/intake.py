"""From raw mail of an account to a stored ticket message: parse, limit, filter, ingest.

The IMAP fetcher and the quarantine retry both go through here, so a message
is treated the same whichever way it arrives:

- :func:`prepare` parses the bytes, routes the message to the account's
  group, drops attachments over the limits (:data:`HELPDESK_EMAIL_MAX_ATTACHMENT_SIZE`,
  and the core's :data:`HELPDESK_MAX_ATTACHMENT_SIZE` and
  :data:`HELPDESK_MAX_ATTACHMENTS_PER_MESSAGE`) and applies the sender
  filters (:mod:`flask_helpdesk_email.filters`).
- :func:`store` ingests it in the caller's transaction; a new filtered
  ticket is tagged with the reason; when attachments were dropped the agent
  gets a note naming them and the customer an automatic answer through the
  outbox, unless the loop guard (:mod:`flask_helpdesk_email.loops`) refuses.
"""

from __future__ import annotations

import dataclasses
import time
import typing as t

from flask_helpdesk import get_state
from flask_helpdesk.i18n import gettext as _
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels
from flask_helpdesk.services import ingest
from flask_helpdesk.services import messages
from flask_helpdesk.services import tickets

from . import filters
from .loops import auto_reply_refusal
from .parse import parse_message

if t.TYPE_CHECKING:
    from flask_helpdesk import InboundAttachment
    from flask_helpdesk import InboundMessage
    from flask_helpdesk.models import ChannelAccount
    from flask_helpdesk.services import IngestResult

#: Cursor-store folder name holding the automatic answers sent per sender.
AUTO_REPLIES = "$auto-replies"


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


def prepare(
    raw: bytes, *, account: ChannelAccount, settings: t.Mapping[str, t.Any],
    flood: bool = False, ticket_token: str | None = None,
) -> Prepared:
    """Parse ``raw`` for ``account`` and apply its limits and filters.

    :param settings: The account's settings (:func:`channels.account_config`).
    :param flood: The sender is over :data:`HELPDESK_EMAIL_FLOOD_LIMIT`.
    :param ticket_token: Pattern of a ticket number in the subject
        (default :data:`HELPDESK_EMAIL_TICKET_TOKEN`).
    """
    state = get_state()
    config = state.config.values
    message = parse_message(raw, account=account.name,
                            ticket_token=ticket_token or str(config["HELPDESK_EMAIL_TICKET_TOKEN"]))
    if account.group_id and not message.group:
        message = dataclasses.replace(message, group=agents.get_group(account.group_id).name)
    limit = min(int(config["HELPDESK_EMAIL_MAX_ATTACHMENT_SIZE"]),
                state.config.max_attachment_size)
    kept: list[InboundAttachment] = []
    dropped: list[tuple[str, int]] = []
    for item in message.attachments:
        if item.size > limit or len(kept) >= state.config.max_attachments_per_message:
            dropped.append((item.filename, item.size))
        else:
            kept.append(item)
    if dropped:
        meta = {**message.meta, "dropped_attachments": [
            {"filename": name, "size": size} for name, size in dropped]}
        message = dataclasses.replace(message, attachments=tuple(kept), meta=meta)
    verdict = filters.judge(message, config=config, account=settings,
                            threshold=state.config.spam_threshold)
    if flood and verdict.reason != "allowed":
        verdict = filters.Verdict(1.0, "flood")
    return Prepared(filters.apply(message, verdict), verdict, tuple(dropped), limit)


def store(prepared: Prepared, *, account: ChannelAccount,
          settings: t.Mapping[str, t.Any]) -> IngestResult:
    """Ingest ``prepared`` and add its tag, note and answer (call it in a transaction)."""
    result = ingest(prepared.message)
    if result.duplicate:
        return result
    if result.created and prepared.verdict.tag:
        tickets.update_ticket(result.ticket_id, actor=SYSTEM,
                              changes=TicketChanges(add_tags=[prepared.verdict.tag]))
    if prepared.dropped:
        _report_dropped(prepared, result, account, settings)
    return result


def _report_dropped(prepared: Prepared, result: IngestResult, account: ChannelAccount,
                    settings: t.Mapping[str, t.Any]) -> None:
    files = ", ".join(f"{name} ({_size(size)})" for name, size in prepared.dropped)
    messages.add_note(result.ticket_id, actor=SYSTEM, text=_(
        "Attachments left out of this email, over the limit of %(limit)s per file or the"
        " number of files allowed: %(files)s. The original email stays in the mailbox.",
        limit=_size(prepared.limit), files=files))
    ticket = tickets.get_ticket(result.ticket_id, actor=SYSTEM)
    if ticket.status in ("spam", "closed"):
        return
    if _refusal(prepared.message, account, settings) is not None:
        return
    messages.reply(result.ticket_id, actor=SYSTEM, text=_(
        "We received your email \"%(subject)s\" as ticket #%(id)s, but these attachments"
        " were not accepted because they are too large (at most %(limit)s per file) or too"
        " many: %(files)s.\n\nPlease send them in smaller parts or as a download link."
        " This is an automatic message.",
        subject=prepared.message.subject, id=result.ticket_id, limit=_size(prepared.limit),
        files=files))
    _count_auto_reply(account.id, prepared.message.sender.value)


def _refusal(message: InboundMessage, account: ChannelAccount,
             settings: t.Mapping[str, t.Any]) -> str | None:
    config = get_state().config.values
    return auto_reply_refusal(
        message, sent_last_hour=auto_replies_last_hour(account.id, message.sender.value),
        limit=int(config["HELPDESK_EMAIL_AUTO_REPLY_LIMIT"]),
        internal_domains=filters.internal_domains(config, settings))


def auto_replies_last_hour(account_id: int, sender: str) -> int:
    """Automatic answers this plugin sent to ``sender`` from the account in the last hour."""
    return len(_recent(channels.get_cursor(account_id, AUTO_REPLIES).get(sender.lower(), [])))


def _count_auto_reply(account_id: int, sender: str) -> None:
    state = channels.get_cursor(account_id, AUTO_REPLIES)
    state = {k: _recent(v) for k, v in state.items() if _recent(v)}
    state[sender.lower()] = [*state.get(sender.lower(), []), _now()]
    channels.set_cursor(account_id, AUTO_REPLIES, state)


def _recent(stamps: t.Iterable[float]) -> list[float]:
    return [s for s in stamps if s > _now() - 3600]


def _now() -> float:
    return time.time()


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"
