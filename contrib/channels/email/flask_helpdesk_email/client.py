"""Fetching mail over IMAP (imap-tools) into tickets.

Per account and folder the cursor store keeps the folder's UIDVALIDITY and
the last UID ingested; ``\\Seen`` is never read, so a person reading the
mailbox elsewhere loses nothing. New UIDs are fetched in batches with
``BODY.PEEK[]`` (nothing is marked read), and each batch is parsed and
ingested in one transaction with the cursor's advance
(:func:`flask_helpdesk.services.ingest_batch`). Only after that commit are
the batch's messages acknowledged on the server (a keyword flag, or a move to a
folder; never a delete). A crash between commit and acknowledgement leaves an
unacknowledged message that the cursor has already passed: nothing is lost
and nothing is ingested twice (ingest is idempotent on the Message-ID too).

A message that cannot be parsed or ingested is kept in the quarantine and
the batch goes on. On the first connection, and when the server changes a
folder's UIDVALIDITY, the folder is read back over the backfill window.

Only one fetcher works on an account at a time (the account lease of
:func:`flask_helpdesk.services.channels.claim_account`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import email.utils
import imaplib
import os
import re
import ssl
import time
import typing as t
import uuid

from imap_tools import BaseMailBox
from imap_tools import MailBox
from imap_tools import MailBoxStartTls
from imap_tools import MailBoxUnencrypted

from flask_helpdesk import ChannelError
from flask_helpdesk.i18n import gettext as _
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import channels
from flask_helpdesk.services import quarantine

from . import _tls
from . import accounts
from . import intake
from . import oauth2
from .flood import STATE as FLOOD_STATE
from .flood import FloodMeter

if t.TYPE_CHECKING:
    from flask_helpdesk.models import ChannelAccount

#: Keyword set on messages acknowledged in ``flag`` mode.
ACK_KEYWORD = "$HelpdeskImported"
#: Messages fetched per IMAP command.
BATCH = 50
#: Most bytes fetched per IMAP command (a large message is fetched alone).
BATCH_BYTES = 32 * 1024 * 1024
#: ``imap_security`` values: implicit TLS, STARTTLS, plain (loopback only).
SECURITY = ("tls", "starttls", "plain")
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclasses.dataclass(frozen=True)
class FetchOptions:
    """How to fetch, from the ``HELPDESK_EMAIL_*`` keys.

    :ivar backfill_days: Days read back on a first connection or a UIDVALIDITY change.
    :ivar ack_mode: ``flag`` or ``move``.
    :ivar ack_folder: Destination of ``move``.
    :ivar ticket_token: Pattern of a ticket number in the subject.
    :ivar lease: Seconds an account stays locked for one poll.
    :ivar flood_limit: Messages a minute from one sender before their new
        tickets go to spam (``0``: no limit).
    :ivar poll_limit: Most messages fetched from one account in one poll
        (``0``: no limit); what is left is the account's backlog.
    """

    backfill_days: int = 14
    ack_mode: str = "flag"
    ack_folder: str = "Helpdesk"
    ticket_token: str = r"\[#(\d+)\]"
    lease: float = 600
    flood_limit: int = 20
    poll_limit: int = 0

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> FetchOptions:
        return cls(
            backfill_days=int(config["HELPDESK_EMAIL_BACKFILL_DAYS"]),
            ack_mode=str(config["HELPDESK_EMAIL_ACK_MODE"]),
            ack_folder=str(config["HELPDESK_EMAIL_ACK_FOLDER"]),
            ticket_token=str(config["HELPDESK_EMAIL_TICKET_TOKEN"]),
            flood_limit=int(config["HELPDESK_EMAIL_FLOOD_LIMIT"]),
            poll_limit=int(config["HELPDESK_EMAIL_POLL_LIMIT"] or 0),
        )


@dataclasses.dataclass
class PollStats:
    """What one poll of an account did; ``backlog``: new messages left for the next poll."""

    fetched: int = 0
    ingested: int = 0
    quarantined: int = 0
    backlog: int = 0
    locked: bool = False


def poll_account(account: ChannelAccount, options: FetchOptions) -> PollStats:
    """Fetch every new message of every folder of ``account``.

    :return: ``locked=True`` when another fetcher holds the account.
    :raises ChannelError: The server could not be reached or refused us; the
        error is also kept on the account's health.
    """
    owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    if not channels.claim_account(account.id, owner=owner, seconds=options.lease):
        return PollStats(locked=True)
    run = _Run(account, options, owner)
    try:
        with connect(run.settings, account) as mb:
            for folder in run.settings.get("folders") or ["INBOX"]:
                _poll_folder(mb, run, str(folder))
        channels.record_success(account.id, backlog=run.stats.backlog)
        run.report_flood()
    except ChannelError as exc:
        channels.record_error(account.id, error=exc.message)
        raise
    except Exception as exc:
        channels.record_error(account.id, error=f"{type(exc).__name__}: {exc}")
        raise ChannelError(_("Fetching mail of %(name)s failed: %(error)s",
                             name=account.name, error=str(exc))) from exc
    finally:
        channels.release_account(account.id, owner=owner)
    return run.stats


class _Run:
    """One poll of one account: its settings, counters and flood meter."""

    def __init__(self, account: ChannelAccount, options: FetchOptions, owner: str) -> None:
        self.account, self.options, self.owner = account, options, owner
        self.settings = accounts.account_config(account)
        self.stats = PollStats()
        self.meter = FloodMeter(channels.get_cursor(account.id, FLOOD_STATE),
                                options.flood_limit)
        self.intake = intake.Intake(account, self.settings, ticket_token=options.ticket_token)
        #: Messages this poll may still fetch (``None``: no limit).
        self.budget: int | None = options.poll_limit or None

    def take(self, uids: list[int]) -> list[int]:
        """The first of ``uids`` that fit in the poll's budget; the rest is backlog."""
        taken = uids if self.budget is None else uids[:self.budget]
        if self.budget is not None:
            self.budget -= len(taken)
        self.stats.backlog += len(uids) - len(taken)
        return taken

    def save_meter(self) -> None:
        if self.meter.changed:
            channels.set_cursor(self.account.id, FLOOD_STATE, self.meter.dump(time.time()))
            self.meter.changed = False

    def report_flood(self) -> None:
        if self.meter.flooding:
            channels.record_error(self.account.id, error=_(
                "Mail flood: more than %(limit)d messages a minute from %(senders)s; their"
                " new tickets went to spam.", limit=self.meter.limit,
                senders=", ".join(sorted(self.meter.flooding))))


def connect(config: t.Mapping[str, t.Any], account: ChannelAccount | None = None) -> BaseMailBox:
    """Log in to the account's IMAP server (``imap_*`` settings, ``imap_password`` secret).

    The server's certificate is checked against the system's CAs, or those of
    ``imap_ca_file``; ``imap_security: "plain"`` is refused unless the host is
    a loopback address. With ``imap_auth: "xoauth2"`` it logs in with the
    token of the ``helpdesk_email_oauth2_token`` hook for ``account`` instead.

    :raises ChannelError: Plain IMAP to another host, an unknown security
        mode, or a certificate that cannot be verified.
    """
    host, port = str(config["imap_host"]), int(config["imap_port"])
    security = str(config.get("imap_security", "tls"))
    check_security(host, security)
    mb: BaseMailBox
    try:
        if security == "plain":
            mb = MailBoxUnencrypted(host, port, timeout=30)
        else:
            context = _tls.context(verify=bool(config.get("imap_verify", True)),
                                   ca_file=str(config.get("imap_ca_file") or ""))
            box = MailBox if security == "tls" else MailBoxStartTls
            mb = box(host, port, timeout=30, ssl_context=context)
    except ssl.SSLCertVerificationError as exc:
        raise _tls.verify_failed("imap", host, exc) from exc
    try:
        if oauth2.uses_oauth2(config, "imap"):
            mb.xoauth2(str(config["imap_username"]), oauth2.token(account, "imap"),
                       initial_folder=None)
        else:
            mb.login(str(config["imap_username"]), str(config["imap_password"]),
                     initial_folder=None)
    except Exception:
        mb.client.shutdown()
        raise
    # Dovecot announces MOVE and UIDPLUS only after login; imaplib keeps the
    # old list, and imap-tools would then copy + delete instead of moving.
    typ, data = mb.client.capability()
    if typ == "OK" and data and data[-1]:
        mb.client.capabilities = tuple(data[-1].decode().upper().split())
    return mb


def check_security(host: str, security: str) -> None:
    """Refuse an ``imap_security`` that is unknown, or plain to a host off this machine.

    :raises ChannelError: With the reason, for the account's health.
    """
    if security not in SECURITY:
        raise ChannelError(_("Unknown IMAP security %(mode)s.", mode=security))
    if security == "plain" and not _tls.loopback(host):
        raise ChannelError(_("Plain IMAP is allowed only to a loopback address; use tls or"
                             " starttls."))


def _poll_folder(mb: BaseMailBox, run: _Run, folder: str) -> None:
    """Fetch the folder's new messages (or, first, those of the backfill window).

    While a backfill is not done (a poll limit cut it short) the cursor keeps
    its ``since`` date, so the next polls go on with the window and not with
    older mail that has higher UIDs.
    """
    mb.folder.set(folder)
    uidvalidity = int(mb.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])
    cursor = channels.get_cursor(run.account.id, folder)
    if cursor.get("uidvalidity") == uidvalidity:
        last = int(cursor.get("last_uid", 0))
        since = cursor.get("since")
        _reack(mb, [int(u) for u in cursor.get("unacked", ())], run.options)
    else:
        last = 0
        day = dt.date.today() - dt.timedelta(days=run.options.backfill_days)
        since = day.strftime("%d-%b-%Y")
        channels.set_cursor(run.account.id, folder,
                            {"uidvalidity": uidvalidity, "last_uid": 0, "since": since})
    query = f"UID {last + 1}:*" + (f" SINCE {since}" if since else "")
    found = sorted(int(u) for u in mb.uids(query) if int(u) > last)
    uids = run.take(found)
    base = {"uidvalidity": uidvalidity, **({"since": since} if since else {})}
    if since and len(uids) == len(found):
        base.pop("since")  # the window is read once this poll is done
    for batch in _batches(mb, uids):
        if not channels.claim_account(run.account.id, owner=run.owner,
                                      seconds=run.options.lease):
            raise ChannelError(_("Another fetcher took over account %(name)s.",
                                 name=run.account.name))
        fetched = _fetch(mb, batch)
        run.stats.fetched += len(fetched)
        _store_batch(run, folder, base, [
            (uid, raw, run.meter.hit(_sender_hint(raw), when)) for uid, raw, when in fetched])
        _pause_for_tests()
        _ack(mb, [uid for uid, _r, _w in fetched], run.options)
        run.save_meter()
    if since and "since" not in base and not uids:
        state = channels.get_cursor(run.account.id, folder)
        state.pop("since", None)
        channels.set_cursor(run.account.id, folder, state)


def _batches(mb: BaseMailBox, uids: list[int]) -> t.Iterator[list[int]]:
    """UIDs in groups of at most :data:`BATCH` messages and :data:`BATCH_BYTES` bytes."""
    for start in range(0, len(uids), BATCH):
        chunk = uids[start:start + BATCH]
        sizes = _sizes(mb, chunk)
        group: list[int] = []
        total = 0
        for uid in chunk:
            size = sizes.get(uid, 0)
            if group and total + size > BATCH_BYTES:
                yield group
                group, total = [], 0
            group.append(uid)
            total += size
        if group:
            yield group


def _sizes(mb: BaseMailBox, uids: list[int]) -> dict[int, int]:
    typ, data = mb.client.uid("FETCH", ",".join(map(str, uids)), "(UID RFC822.SIZE)")
    found = {}
    for item in data if typ == "OK" else ():
        line = item[0] if isinstance(item, tuple) else item
        if isinstance(line, bytes) and (uid := _UID.search(line)) and (
                size := _SIZE.search(line)):
            found[int(uid.group(1))] = int(size.group(1))
    return found


def _fetch(mb: BaseMailBox, uids: list[int]) -> list[tuple[int, bytes, float]]:
    typ, data = mb.client.uid("FETCH", ",".join(map(str, uids)),
                              "(UID INTERNALDATE BODY.PEEK[])")
    if typ != "OK":
        raise ChannelError(_("The IMAP server refused to fetch: %(error)s", error=str(data)))
    found = []
    for item in data:
        if isinstance(item, tuple) and (match := _UID.search(item[0])):
            stamp = imaplib.Internaldate2tuple(item[0])
            when = time.mktime(stamp) if stamp else time.time()
            found.append((int(match.group(1)), bytes(item[1]), when))
    return sorted(found)


def _sender_hint(raw: bytes) -> str:
    """The From address, read cheaply for the flood meter."""
    head = raw[:16384].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    msg = email.message_from_bytes(head + b"\r\n\r\n", policy=email.policy.compat32)
    return email.utils.parseaddr(str(msg.get("From", "")))[1].lower()


def _store_batch(run: _Run, folder: str, base: dict[str, t.Any],
                 batch: list[tuple[int, bytes, bool]]) -> None:
    """Parse and ingest one fetched batch in one transaction with the cursor's advance.

    The cursor never passes a message that is neither stored nor in the
    quarantine: a crash at any point re-fetches it (ingest is idempotent).
    """
    if not batch:
        return
    ready, done = [], set()
    for position, (uid, raw, flood) in enumerate(batch):
        try:
            ready.append((position, run.intake.prepare(raw, flood=flood)))
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the batch
            _quarantine(run, folder, uid, raw, exc)
            done.add(position)

    def finish(pairs: list[tuple[int, t.Any]]) -> None:
        done.update(ready[index][0] for index, _result in pairs)
        upto = next((p for p in range(len(batch)) if p not in done), len(batch))
        if upto:
            uids = [uid for uid, _r, _f in batch[:upto]]
            channels.set_cursor(run.account.id, folder, {
                **base, "last_uid": uids[-1], "unacked": uids})

    results = run.intake.store([p for _i, p in ready], finish=finish)
    for (position, _p), result in zip(ready, results, strict=True):
        uid, raw, _flood = batch[position]
        if isinstance(result, Exception):
            _quarantine(run, folder, uid, raw, result)
        else:
            run.stats.ingested += 1
    uids = [uid for uid, _r, _f in batch]
    channels.set_cursor(run.account.id, folder, {
        **base, "last_uid": uids[-1], "unacked": uids})


def _quarantine(run: _Run, folder: str, uid: int, raw: bytes, error: Exception) -> None:
    quarantine.quarantine_message(channel="email", account=run.account.name, raw=raw,
                                  error=error, source=f"{folder} uid {uid}")
    run.stats.quarantined += 1


def _reack(mb: BaseMailBox, uids: list[int], options: FetchOptions) -> None:
    """Acknowledge again what was ingested but maybe not acknowledged (a crash)."""
    if not uids:
        return
    query = f"UID {','.join(map(str, uids))}"
    if options.ack_mode != "move":
        query += f" UNKEYWORD {ACK_KEYWORD}"
    waiting = [int(u) for u in mb.uids(query) if int(u) in uids]
    if waiting:
        _ack(mb, waiting, options)


def _ack(mb: BaseMailBox, uids: list[int], options: FetchOptions) -> None:
    targets = ",".join(map(str, uids))
    if options.ack_mode == "move":
        if not mb.folder.exists(options.ack_folder):
            mb.folder.create(options.ack_folder)
        mb.move(targets, options.ack_folder)
    else:
        mb.flag(targets, ACK_KEYWORD, True)


def _pause_for_tests() -> None:
    # Lets the crash test kill the process between the ingest commit and the ack.
    pause = os.environ.get("HELPDESK_EMAIL_TEST_PAUSE_BEFORE_ACK")
    if pause:
        time.sleep(float(pause))


def poll_all(options: FetchOptions, name: str | None = None) -> dict[str, PollStats]:
    """Poll every enabled email account (or the one named ``name``)."""
    if name is not None:
        found = [channels.find_account("email", name, actor=SYSTEM)]
    else:
        found = channels.list_accounts(actor=SYSTEM, channel="email", enabled_only=True)
    return {account.name: poll_account(account, options) for account in found}
