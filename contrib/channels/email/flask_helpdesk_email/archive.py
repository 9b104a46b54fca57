"""Archive import: .eml files, Maildir folders and mbox files through the normal ingest.

Every message is parsed by :func:`~flask_helpdesk_email.parse_message` (in a
pool of forked processes while the previous batch is stored), shaped like
fetched mail (the account's group, sender filters, attachment limits) and
handed to :func:`flask_helpdesk.services.ingest_batch` a batch at a time, so
an import is idempotent (importing the same archive twice adds nothing) and
keeps the messages' own dates. Nobody gets an automatic answer. A message
that fails goes to the quarantine and the import goes on.
"""

from __future__ import annotations

import dataclasses
import itertools
import mailbox
import multiprocessing
import os
import typing as t

from flask_helpdesk import NotFound
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import channels
from flask_helpdesk.services import quarantine

from .intake import Intake
from .parse import parse_message

if t.TYPE_CHECKING:
    from flask_helpdesk import InboundMessage
    from flask_helpdesk.models import ChannelAccount

    from .intake import Prepared

#: Messages committed together by an import.
BATCH = 200
#: Batches an import needs before it starts a parsing pool. Forking the
#: workers and stopping them costs about 40 ms, the parse of a batch of 200
#: about 100 ms, and the first batch is parsed before anything can be stored
#: anyway: with one or two batches the pool costs more than it saves.
POOL_MIN_BATCHES = 3


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
    batch: int = BATCH, workers: int | None = None,
) -> ImportStats:
    """Ingest every message under ``paths`` (see :func:`iter_raw`).

    Messages go through the account's :class:`~flask_helpdesk_email.intake.Intake`
    (its group, sender filters and attachment limits; the ``HELPDESK_EMAIL_*``
    keys without an account) but nobody gets an automatic answer. They are
    committed ``batch`` at a time (:func:`flask_helpdesk.services.ingest_batch`);
    a message that fails goes to the quarantine alone.

    :param account: Name of the email account the mail belongs to, if any.
    :param workers: Processes that parse while the batches are stored
        (default: one fewer than the CPUs, at least one; ``0`` parses here).
        An import of fewer than :data:`POOL_MIN_BATCHES` batches starts none.
    """
    found = _account(account)
    intake = Intake(found, channels.account_config(found) if found else {},
                    ticket_token=ticket_token, automatic_replies=False)
    stats = ImportStats()
    for items, parsed in _parsed(paths, intake, batch, workers):
        _import_batch(intake, items, parsed, stats)
    return stats


def _account(name: str) -> ChannelAccount | None:
    if not name:
        return None
    try:
        return channels.find_account("email", name, actor=SYSTEM)
    except NotFound:
        return None


def _parsed(paths: t.Iterable[str], intake: Intake, batch: int, workers: int | None
            ) -> t.Iterator[tuple[list[tuple[str, bytes]], list[InboundMessage | str]]]:
    """Batches of ``(source, raw)`` in order, with their parsed messages (or the error's text).

    Parsing is pure, so a pool of forked processes parses the next batches
    while this process stores the current one (an import of fewer than
    :data:`POOL_MIN_BATCHES` batches is parsed here). The children are forked
    from this process, so they import nothing: with ``spawn`` or
    ``forkserver`` each would import the parser's dependencies (Flask and the
    helpdesk) first. When the batch it needs next is not parsed yet, this
    process parses a later one itself rather than wait, so parsing and
    storing share the CPUs. At most ``workers + 1`` batches are with the
    pool at a time.
    """
    chunks: t.Iterator[list[tuple[str, bytes]]] = _chunked(
        ((s, r) for path in paths for s, r in iter_raw(path)), batch)
    if workers is None:
        workers = max(1, (os.cpu_count() or 1) - 1)

    def parse(items: list[tuple[str, bytes]]) -> list[InboundMessage | str]:
        return _parse_all([r for _s, r in items], intake.account_name, intake.ticket_token)

    head = list(itertools.islice(chunks, POOL_MIN_BATCHES)) if workers > 0 else []
    chunks = itertools.chain(head, chunks)
    if (workers <= 0 or len(head) < POOL_MIN_BATCHES
            or "fork" not in multiprocessing.get_all_start_methods()):
        for items in chunks:
            yield items, parse(items)
        return
    numbered = enumerate(chunks)
    queued: dict[int, tuple[list[tuple[str, bytes]], t.Any]] = {}
    done: dict[int, tuple[list[tuple[str, bytes]], list[InboundMessage | str]]] = {}
    following = 0
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for index, items in itertools.islice(numbered, workers + 1):
            queued[index] = (items, pool.apply_async(_parse_all, (
                [r for _s, r in items], intake.account_name, intake.ticket_token)))
        while queued or done:
            if following in done:
                yield done.pop(following)
            else:
                items, job = queued[following]
                if not job.ready() and (later := next(numbered, None)) is not None:
                    done[later[0]] = (later[1], parse(later[1]))  # work instead of waiting
                    continue
                del queued[following]
                yield items, job.get()
                if (more := next(numbered, None)) is not None:
                    queued[more[0]] = (more[1], pool.apply_async(_parse_all, (
                        [r for _s, r in more[1]], intake.account_name, intake.ticket_token)))
            following += 1


def _chunked(items: t.Iterable[tuple[str, bytes]], size: int
             ) -> t.Iterator[list[tuple[str, bytes]]]:
    chunk: list[tuple[str, bytes]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _parse_all(raws: list[bytes], account: str, token: str) -> list[InboundMessage | str]:
    out: list[InboundMessage | str] = []
    for raw in raws:
        try:
            out.append(parse_message(raw, account=account, ticket_token=token))
        except Exception as exc:  # noqa: BLE001 - quarantined by the importer
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def _import_batch(intake: Intake, items: list[tuple[str, bytes]],
                  parsed: list[InboundMessage | str], stats: ImportStats) -> None:
    ready: list[tuple[str, bytes, Prepared]] = []
    for (source, raw), message in zip(items, parsed, strict=True):
        if isinstance(message, str):
            _quarantine(intake, source, raw, message, stats)
        else:
            ready.append((source, raw, intake.shape(message)))
    results = intake.store([p for _s, _r, p in ready])
    for (source, raw, _p), result in zip(ready, results, strict=True):
        if isinstance(result, Exception):
            _quarantine(intake, source, raw, result, stats)
        else:
            stats.duplicates += result.duplicate
            stats.imported += not result.duplicate
            stats.tickets += result.created


def _quarantine(intake: Intake, source: str, raw: bytes, error: str | Exception,
                stats: ImportStats) -> None:
    quarantine.quarantine_message(channel="email", account=intake.account_name, raw=raw,
                                  error=error, source=source)
    stats.quarantined += 1
