"""Archive import: .eml files, Maildir folders and mbox files through the normal ingest.

Every message is parsed by :func:`~flask_helpdesk_email.parse_message` and
handed to :func:`flask_helpdesk.services.ingest`, so an import is idempotent
(importing the same archive twice adds nothing) and keeps the messages' own
dates. A message that fails goes to the quarantine and the import goes on.
"""

from __future__ import annotations

import dataclasses
import mailbox
import os
import typing as t

from flask_helpdesk.services import IngestResult
from flask_helpdesk.services import ingest
from flask_helpdesk.services import quarantine
from flask_helpdesk.services import transaction

from .parse import parse_message

if t.TYPE_CHECKING:
    from flask_helpdesk import InboundMessage

#: Messages committed together by an import.
BATCH = 200


@dataclasses.dataclass
class ImportStats:
    """What an import did.

    :ivar imported: Messages stored.
    :ivar duplicates: Messages already there.
    :ivar quarantined: Messages that failed.
    :ivar tickets: New tickets opened.
    """

    imported: int = 0
    duplicates: int = 0
    quarantined: int = 0
    tickets: int = 0


def iter_raw(path: str) -> t.Iterator[tuple[str, bytes]]:
    """``(source, raw bytes)`` of every message under ``path``.

    A directory with ``cur``/``new`` is a Maildir; another directory is
    walked for ``.eml`` files and mbox files; a file starting with ``From ``
    is an mbox; any other file is one message.
    """
    if os.path.isdir(path):
        if os.path.isdir(os.path.join(path, "cur")) or os.path.isdir(os.path.join(path, "new")):
            box = mailbox.Maildir(path, factory=None, create=False)
            for key in sorted(box.iterkeys()):
                yield f"{path}:{key}", box.get_bytes(key)
            return
        for name in sorted(os.listdir(path)):
            yield from iter_raw(os.path.join(path, name))
        return
    with open(path, "rb") as fh:
        head = fh.read(5)
    if head == b"From ":
        mbox = mailbox.mbox(path, factory=None, create=False)
        for index, key in enumerate(mbox.iterkeys()):
            yield f"{path}#{index + 1}", mbox.get_bytes(key)
        mbox.close()
    else:
        with open(path, "rb") as fh:
            yield path, fh.read()


def import_paths(
    paths: t.Iterable[str], *, account: str = "", ticket_token: str = r"\[#(\d+)\]",
    batch: int = BATCH,
) -> ImportStats:
    """Ingest every message under ``paths`` (see :func:`iter_raw`).

    Messages are committed ``batch`` at a time; a batch in which one message
    fails is rolled back and done again one message per transaction, so the
    failing one goes to the quarantine alone.
    """
    stats = ImportStats()
    pending: list[tuple[str, bytes]] = []
    for path in paths:
        for item in iter_raw(path):
            pending.append(item)
            if len(pending) >= batch:
                _import_batch(pending, account, ticket_token, stats)
                pending = []
    _import_batch(pending, account, ticket_token, stats)
    return stats


def _import_batch(items: list[tuple[str, bytes]], account: str, token: str,
                  stats: ImportStats) -> None:
    if not items:
        return
    parsed = [(source, raw, _parse(raw, account, token)) for source, raw in items]
    if all(message is not None for _s, _r, message in parsed):
        results = []
        try:
            with transaction():
                for _source, _raw, message in parsed:
                    assert message is not None
                    results.append(ingest(message))
        except Exception:  # noqa: BLE001 - redone one by one below
            pass
        else:
            for result in results:
                _count(result, stats)
            return
    for source, raw, _message in parsed:
        try:
            _count(ingest(parse_message(raw, account=account, ticket_token=token)), stats)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the rest
            quarantine.quarantine_message(channel="email", account=account, raw=raw,
                                          error=exc, source=source)
            stats.quarantined += 1


def _parse(raw: bytes, account: str, token: str) -> InboundMessage | None:
    try:
        return parse_message(raw, account=account, ticket_token=token)
    except Exception:  # noqa: BLE001 - handled by the one-by-one pass
        return None


def _count(result: IngestResult, stats: ImportStats) -> None:
    stats.duplicates += result.duplicate
    stats.imported += not result.duplicate
    stats.tickets += result.created
