"""The inbound quarantine: raw data a channel could not parse or ingest.

A fetcher that meets a message it cannot turn into a ticket message keeps the
raw bytes here with the error (:func:`quarantine_message`) and goes on with
the rest of its batch, so one bad message never blocks a mailbox. Admins list
the quarantine, retry an entry through the channel's own parser once the cause
is fixed (:func:`retry_quarantined`, which asks the channel's
``helpdesk_reparse_message`` hook), or discard it.

An entry remembers whether it failed during an archive import (``imported``):
its retry ingests the message as imported history too
(``InboundMessage.imported``), so no event rule runs on it and nobody gets an
automatic answer to old mail.

The bytes live in the attachment storage; the row keeps their key.
"""

from __future__ import annotations

import dataclasses
import typing as t

from sqlalchemy import select

from ..errors import HelpdeskError
from ..errors import NotFound
from ..errors import RetryFailed
from ..errors import ValidationError
from ..extension import get_state
from ..i18n import _
from ..models import QuarantinedMessage
from ..models import utcnow
from ._uow import Actor
from ._uow import session
from ._uow import transaction
from ._validate import id_cursor
from .inbound import IngestResult
from .inbound import ingest
from .permissions import require_role

if t.TYPE_CHECKING:
    from ..channels import InboundMessage

#: Longest error text kept.
ERROR_MAX = 4000

#: Turns the raw bytes of a quarantined entry into a message (a channel's parser).
Parser = t.Callable[[bytes], "InboundMessage"]


def quarantine_message(
    *, channel: str, account: str, raw: bytes, error: str | BaseException, source: str = "",
    imported: bool = False,
) -> QuarantinedMessage:
    """Keep ``raw`` with the reason it failed. Call it outside the failed transaction.

    :param channel: The channel that read it.
    :param account: The account that read it.
    :param raw: The bytes exactly as read from the source.
    :param error: What went wrong (an exception is turned into its text).
    :param source: Where it came from, for the admin (``INBOX uid 42``).
    :param imported: It was read by an archive import (imported history): a
        retry ingests it with ``imported=True``.
    """
    key = get_state().storage.save(bytes(raw), filename="quarantined")
    with transaction() as s:
        item = QuarantinedMessage(
            channel=channel[:50], account=account[:100], storage_key=key, size=len(raw),
            source=source[:500], error=_error_text(error), attempts=1, imported=imported,
            created_at=utcnow(), last_attempt_at=utcnow())
        s.add(item)
    return item


def list_quarantine(
    *, actor: Actor, channel: str | None = None, after: int | None = None,
    cursor: str | None = None, limit: int = 50,
) -> list[QuarantinedMessage]:
    """Quarantined entries, newest first, keyset-paginated by id. Only admins may.

    :param after: The last id of the previous page.
    :param cursor: ``after`` as a request's text, read after the permission check.
    :raises ValidationError: A cursor that is not an id.
    """
    require_role(actor, "admin")
    if cursor:
        after = id_cursor(cursor)
    query = select(QuarantinedMessage).order_by(QuarantinedMessage.id.desc()).limit(limit)
    if channel is not None:
        query = query.where(QuarantinedMessage.channel == channel)
    if after is not None:
        query = query.where(QuarantinedMessage.id < after)
    return list(session().scalars(query))


def get_quarantined(item_id: int, *, actor: Actor) -> QuarantinedMessage:
    """One entry. Only admins may.

    :raises NotFound: No such entry.
    """
    require_role(actor, "admin")
    item = session().get(QuarantinedMessage, item_id)
    if item is None:
        raise NotFound(_("Quarantined message %(id)s does not exist.", id=item_id))
    return item


def quarantined_raw(item_id: int, *, actor: Actor) -> bytes:
    """The raw bytes of an entry, e.g. to download them. Only admins may."""
    return get_state().storage.open(get_quarantined(item_id, actor=actor).storage_key)


def retry_quarantined(
    item_id: int, *, actor: Actor, parse: Parser | None = None
) -> IngestResult:
    """Parse and ingest an entry again; on success it leaves the quarantine. Only admins may.

    An entry kept by an archive import (``imported``) is ingested as imported
    history (``imported=True``), whatever the parser says: no event rule runs
    on it.

    :param parse: A parser of the raw bytes; by default the channel's
        ``helpdesk_reparse_message`` hook.
    :raises RetryFailed: It failed again; the entry stays with the new error
        and one more attempt.
    :raises ValidationError: No plugin reads messages of the entry's channel again.
    """
    item = get_quarantined(item_id, actor=actor)
    key, channel, account = item.storage_key, item.channel, item.account
    imported = item.imported
    raw = get_state().storage.open(key)
    try:
        message = parse(raw) if parse is not None else _reparse(channel, account, raw)
        if message is not None and imported and not message.imported:
            message = dataclasses.replace(message, imported=True)
        result = None if message is None else ingest(message)
    except Exception as exc:
        session().rollback()
        with transaction():
            item = get_quarantined(item_id, actor=actor)
            item.error, item.attempts = _error_text(exc), item.attempts + 1
            item.last_attempt_at = utcnow()
        raise RetryFailed(_("The message still fails: %(error)s", error=item.error)) from exc
    if result is None:
        raise ValidationError(_("No plugin can read messages of channel %(channel)s again;"
                                " discard the entry instead.", channel=channel))
    _delete(item_id, key)
    return result


def _reparse(channel: str, account: str, raw: bytes) -> InboundMessage | None:
    state = get_state()
    message = state.pm.hook.helpdesk_reparse_message(
        helpdesk=state, channel=channel, account=account, raw=raw)
    return t.cast("InboundMessage | None", message)


def discard_quarantined(item_id: int, *, actor: Actor) -> None:
    """Delete an entry and its bytes. Only admins may."""
    _delete(item_id, get_quarantined(item_id, actor=actor).storage_key)


def _delete(item_id: int, key: str) -> None:
    with transaction() as s:
        item = s.get(QuarantinedMessage, item_id)
        if item is not None:
            s.delete(item)
    get_state().storage.delete(key)


def _error_text(error: str | BaseException) -> str:
    if isinstance(error, HelpdeskError):
        text = error.message
    elif isinstance(error, BaseException):
        text = f"{type(error).__name__}: {error}"
    else:
        text = str(error)
    return text[:ERROR_MAX]
