"""IMAP IDLE: fetch new mail within a second of its arrival instead of once a period.

An :class:`IdleWatcher` keeps one IDLE connection per account on its first
folder (``INBOX`` by default) in a thread of its own. Each IDLE command lasts
at most :data:`HELPDESK_EMAIL_IDLE_TIMEOUT` seconds and is then issued again
(RFC 2177 asks for less than 29 minutes); when the server announces new mail
the watcher runs the same :func:`~flask_helpdesk_email.client.poll_account`
as the periodic job, so the cursor, the lease and the acknowledgement work
the same way. A server without the IDLE capability, or a broken connection,
falls back to polling every :data:`HELPDESK_EMAIL_POLL_INTERVAL` (at least
every IDLE timeout) until IDLE works again.

``flask helpdesk email idle`` runs watchers for every enabled account until
it is stopped. Keep the periodic poll as well: it catches whatever arrives
while no watcher runs.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t

from flask import Flask

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import channels

from . import accounts
from .client import FetchOptions
from .client import connect
from .client import poll_account

if t.TYPE_CHECKING:
    from imap_tools import BaseMailBox

log = logging.getLogger("flask_helpdesk_email.idle")

#: Seconds between tries when the account is locked by another fetcher.
LOCKED_RETRY = 0.5


class IdleWatcher:
    """Watch one account with IMAP IDLE in a thread; :meth:`stop` ends it.

    :param app: The Flask app (the thread pushes its own app context).
    :param account_id: The email account to watch.
    :param idle_timeout: Seconds one IDLE command lasts.
    :param fallback: Seconds between polls when IDLE is not available.
    """

    def __init__(self, app: Flask, account_id: int, *, idle_timeout: float = 300,
                 fallback: float = 60) -> None:
        self.app, self.account_id = app, account_id
        self.idle_timeout, self.fallback = idle_timeout, fallback
        self.stopping = threading.Event()
        #: Polls done because the server announced mail, and fallback polls.
        self.woken = self.fallback_polls = 0
        self.thread = threading.Thread(target=self.run, name=f"email-idle-{account_id}",
                                       daemon=True)

    def start(self) -> IdleWatcher:
        self.thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to end (within one IDLE timeout) and wait for it."""
        self.stopping.set()
        self.thread.join(timeout)

    def run(self) -> None:
        with self.app.app_context():
            options = FetchOptions.from_config(self.app.config)
            while not self.stopping.is_set():
                try:
                    self._watch(options)
                except Exception:  # noqa: BLE001 - logged; the loop falls back to polling
                    log.exception("IDLE on email account %s failed", self.account_id)
                    self._fallback_poll(options)

    def _watch(self, options: FetchOptions) -> None:
        account = channels.get_account(self.account_id, actor=SYSTEM)
        settings = accounts.account_config(account)
        folder = str((settings.get("folders") or ["INBOX"])[0])
        with connect(settings, account) as mb:
            if "IDLE" not in mb.client.capabilities:
                log.info("%s does not support IDLE; polling", settings.get("imap_host"))
                self._fallback_poll(options)
                return
            mb.folder.set(folder)
            self._poll(options)  # what came while nobody watched
            while not self.stopping.is_set():
                if self._wait(mb):
                    self.woken += 1
                    self._poll(options)

    def _wait(self, mb: BaseMailBox) -> bool:
        """One IDLE command; ``True`` when the server announced new mail."""
        responses = mb.idle.wait(timeout=self.idle_timeout)
        # News that came while IDLE was being ended arrive with the answer to
        # DONE; imaplib keeps those apart.
        late = [mb.client.untagged_responses.pop(k, None) for k in ("EXISTS", "RECENT")]
        return any(late) or any(b"EXISTS" in line or b"RECENT" in line for line in responses)

    def _poll(self, options: FetchOptions) -> None:
        while not self.stopping.is_set():
            account = channels.get_account(self.account_id, actor=SYSTEM)
            if not account.enabled or not poll_account(account, options).locked:
                return
            time.sleep(LOCKED_RETRY)  # a periodic poll is running; it may miss the new mail

    def _fallback_poll(self, options: FetchOptions) -> None:
        self.stopping.wait(min(self.fallback, self.idle_timeout))
        if not self.stopping.is_set():
            self.fallback_polls += 1
            try:
                self._poll(options)
            except Exception:  # noqa: BLE001 - kept on the account's health by poll_account
                log.exception("polling email account %s failed", self.account_id)


def watch_accounts(app: Flask, names: t.Iterable[str] = ()) -> list[IdleWatcher]:
    """Start a watcher for every enabled email account (or the ones named).

    The accounts of :data:`HELPDESK_EMAIL_ACCOUNTS` are applied first.
    """
    config = app.config
    wanted = set(names)
    accounts.sync_config_accounts(config)
    found = channels.list_accounts(actor=SYSTEM, channel="email", enabled_only=True)
    return [IdleWatcher(app, a.id, idle_timeout=float(config["HELPDESK_EMAIL_IDLE_TIMEOUT"]),
                        fallback=float(config["HELPDESK_EMAIL_POLL_INTERVAL"] or 60)).start()
            for a in found if not wanted or a.name in wanted]
