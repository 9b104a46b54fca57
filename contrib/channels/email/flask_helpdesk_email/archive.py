"""Archive import: .eml files, Maildir folders and mbox files through the normal ingest.

Every message is parsed by :func:`~flask_helpdesk_email.parse_message` (in a
pool of forked processes while the previous batch is stored), shaped like
fetched mail (the account's group, sender filters, attachment limits) and
handed to :func:`flask_helpdesk.services.ingest_batch` a batch at a time, so
an import is idempotent (importing the same archive twice adds nothing) and
keeps the messages' own dates. The messages are ingested as imported
history (``imported=True``): no event rule runs on them and nobody gets an
automatic answer. A message that fails goes to the quarantine (marked as
imported, so a retry stores it as imported history too) and the import goes on.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import logging
import mailbox
import multiprocessing
import os
import typing as t
from concurrent.futures.process import BrokenProcessPool

from flask_helpdesk import NotFound
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import channels
from flask_helpdesk.services import quarantine

from .accounts import account_config
from .intake import Intake
from .parse import parse_message

if t.TYPE_CHECKING:
    from flask_helpdesk import InboundMessage
    from flask_helpdesk.models import ChannelAccount

    from .intake import Prepared

log = logging.getLogger("flask_helpdesk_email.archive")

#: At most this many messages are committed together by an import.
BATCH = 200
#: Messages parsed together, by this process or by a worker of the pool.
CHUNK = 50
#: Chunks an import needs, after the first, before it starts a parsing pool.
#: Forking a worker and stopping it costs about 10 ms, the parse of a chunk
#: about 25 ms.
POOL_MIN_CHUNKS = 2
#: Messages of the first chunk, which this process parses itself while the
#: pool starts: small, so storing (whose first batch also compiles the
#: statements) begins at once while the workers parse the next chunks.
FIRST_CHUNK = 10


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
    batch: int = BATCH, workers: int | None = None, chunk: int = CHUNK,
) -> ImportStats:
    """Ingest every message under ``paths`` (see :func:`iter_raw`).

    Messages go through the account's :class:`~flask_helpdesk_email.intake.Intake`
    (its group, sender filters and attachment limits; the ``HELPDESK_EMAIL_*``
    keys without an account) but nobody gets an automatic answer. They are
    committed at most ``batch`` at a time
    (:func:`flask_helpdesk.services.ingest_batch`); a message that fails goes
    to the quarantine alone.

    :param account: Name of the email account the mail belongs to, if any.
    :param workers: Processes that parse while the batches are stored
        (default: one fewer than the CPUs, at least one; ``0`` parses here).
        An import of fewer than :data:`POOL_MIN_CHUNKS` chunks starts none.
    :param chunk: Messages a worker parses at a time (at most ``batch``).
    """
    found = _account(account)
    intake = Intake(found, account_config(found) if found else {},
                    ticket_token=ticket_token, automatic_replies=False, imported=True)
    stats = ImportStats()
    for items, parsed in _parsed(paths, intake, batch, workers, chunk):
        _import_batch(intake, items, parsed, stats)
    return stats


def _account(name: str) -> ChannelAccount | None:
    if not name:
        return None
    try:
        return channels.find_account("email", name, actor=SYSTEM)
    except NotFound:
        return None


def _parsed(paths: t.Iterable[str], intake: Intake, batch: int, workers: int | None,
            chunk: int) -> t.Iterator[tuple[list[tuple[str, bytes]], list[InboundMessage | str]]]:
    """Batches of ``(source, raw)`` in order, with their parsed messages (or the error's text).

    Parsing is pure, so a pool of forked processes parses the next chunks of
    ``chunk`` messages while this process stores what is parsed. The children
    are forked from this process, so they import nothing: with ``spawn`` or
    ``forkserver`` each would import the parser's dependencies (Flask and the
    helpdesk) first. This process parses a small first chunk
    (:data:`FIRST_CHUNK` messages) itself while the pool starts on the next
    ones, and whenever the chunk it needs next is not
    parsed yet it parses a later one rather than wait, so parsing and storing
    share the CPUs. Each batch handed on is the run of parsed chunks at the
    head, at most ``batch`` messages: the first is small, so storing starts
    early, and later ones grow as parsing gets ahead of storing. At most
    ``2 * workers`` chunks are with the pool at a time. When a worker dies
    (killed, out of memory), the chunks it had are parsed here and the
    import goes on without the pool. An import with fewer than
    :data:`POOL_MIN_CHUNKS` chunks after the first (or ``workers=0``) is
    parsed here, in batches of ``batch``.
    """
    def parse(items: list[tuple[str, bytes]]) -> list[InboundMessage | str]:
        return _parse_all([r for _s, r in items], intake.account_name, intake.ticket_token)

    mails = ((s, r) for path in paths for s, r in iter_raw(path))
    if workers is None:
        workers = max(1, (os.cpu_count() or 1) - 1)
    size = max(1, min(chunk, batch))
    chunks = _chunked(mails, size, first=min(FIRST_CHUNK, size))
    head = list(itertools.islice(chunks, POOL_MIN_CHUNKS + 1)) if workers > 0 else []
    if (workers <= 0 or len(head) <= POOL_MIN_CHUNKS
            or "fork" not in multiprocessing.get_all_start_methods()):
        rest = itertools.chain((m for items in head for m in items), mails)
        for items in _chunked(rest, batch):
            yield items, parse(items)
        return
    numbered = enumerate(itertools.chain(head, chunks))
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        inflight: dict[int, tuple[list[tuple[str, bytes]], concurrent.futures.Future[t.Any]]] = {}
        ready: dict[int, tuple[list[tuple[str, bytes]], list[InboundMessage | str]]] = {}
        broken = False

        def top_up() -> None:
            nonlocal broken
            while (not broken and len(inflight) < 2 * workers
                   and (more := next(numbered, None)) is not None):
                try:
                    inflight[more[0]] = (more[1], pool.submit(
                        _parse_all, [r for _s, r in more[1]], intake.account_name,
                        intake.ticket_token))
                except BrokenProcessPool:
                    broken = True
                    ready[more[0]] = (more[1], parse(more[1]))

        def result(index: int) -> list[InboundMessage | str]:
            nonlocal broken
            items, future = inflight[index]
            try:
                parsed: list[InboundMessage | str] = future.result()
                return parsed
            except BrokenProcessPool:  # a worker died (killed, out of memory)
                if not broken:
                    log.warning("A parsing process of the import died; parsing here instead.")
                broken = True
                return parse(items)

        first, first_items = next(numbered)
        top_up()
        ready[first] = (first_items, parse(first_items))
        following = first
        while inflight or ready or broken:
            items_out: list[tuple[str, bytes]] = []
            parsed_out: list[InboundMessage | str] = []
            while following in ready or (
                    following in inflight and inflight[following][1].done()):
                if following in ready:
                    items, parsed = ready[following]
                else:
                    items, parsed = inflight[following][0], result(following)
                if items_out and len(items_out) + len(items) > batch:
                    ready[following] = (items, parsed)
                    break
                ready.pop(following, None)
                inflight.pop(following, None)
                items_out += items
                parsed_out += parsed
                following += 1
                top_up()
            if items_out:
                yield items_out, parsed_out
            elif (later := next(numbered, None)) is not None:
                ready[later[0]] = (later[1], parse(later[1]))  # work instead of waiting
            elif following in inflight:
                ready[following] = (inflight[following][0], result(following))
                del inflight[following]
            else:
                break


def _chunked(items: t.Iterable[tuple[str, bytes]], size: int, *, first: int | None = None
             ) -> t.Iterator[list[tuple[str, bytes]]]:
    """Lists of ``size`` items (the first of ``first``, when given), the last one shorter."""
    chunk: list[tuple[str, bytes]] = []
    limit = first or size
    for item in items:
        chunk.append(item)
        if len(chunk) >= limit:
            yield chunk
            chunk, limit = [], size
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
                                  error=error, source=source, imported=intake.imported)
    stats.quarantined += 1
