"""IMAP IDLE against a real Dovecot: mail appended by another connection is ingested at once."""

from __future__ import annotations

import time

from flask import Flask
from flask import current_app
from flask_helpdesk_email.idle import IdleWatcher
from imap_server import Dovecot
from test_email_fetch import account
from test_email_fetch import all_tickets
from test_email_fetch import append
from test_email_fetch import mail


def wait_for(subjects: list[str], seconds: float) -> float:
    start = time.monotonic()
    app = current_app._get_current_object()
    while time.monotonic() - start < seconds:
        with app.app_context():  # a fresh session sees what the watcher committed
            seen = sorted(t.subject for t in all_tickets())
        if seen == sorted(subjects):
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not ingested within {seconds} s: {seen}")


def test_new_mail_is_ingested_within_two_seconds(mail_app: Flask, dovecot: Dovecot) -> None:
    acc = account(dovecot)
    append(dovecot, mail("Before the watcher"))
    watcher = IdleWatcher(mail_app, acc.id, idle_timeout=1.0, fallback=30).start()
    try:
        with mail_app.app_context():
            wait_for(["Before the watcher"], 10)  # the backlog first
        time.sleep(1.5)  # the watcher is idling (and has re-issued IDLE once)
        append(dovecot, mail("Pushed"))
        with mail_app.app_context():
            took = wait_for(["Before the watcher", "Pushed"], 2.0)
        assert watcher.woken >= 1 and watcher.fallback_polls == 0
        assert took < 2.0
    finally:
        watcher.stop(timeout=10)
    assert not watcher.thread.is_alive()


def test_idle_falls_back_to_polling_when_the_server_fails(mail_app: Flask,
                                                          dovecot: Dovecot) -> None:
    from flask_helpdesk.services import SYSTEM
    from flask_helpdesk.services import channels

    acc = account(dovecot)
    channels.update_account(acc.id, actor=SYSTEM, secrets={"imap_password": "wrong"})
    watcher = IdleWatcher(mail_app, acc.id, idle_timeout=0.3, fallback=0.3).start()
    try:
        deadline = time.monotonic() + 15  # Dovecot delays each failed login by 2 s
        while watcher.fallback_polls < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert watcher.thread.is_alive() and watcher.fallback_polls >= 1
        channels.update_account(acc.id, actor=SYSTEM,
                                secrets={"imap_password": dovecot.password})
        append(dovecot, mail("After the fix"))
        with mail_app.app_context():
            wait_for(["After the fix"], 10)
    finally:
        watcher.stop(timeout=10)
