"""A fetcher killed between the ingest commit and the acknowledgement loses and doubles nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from flask import Flask
from flask_helpdesk_email.client import ACK_KEYWORD
from imap_server import Dovecot
from test_email_fetch import account
from test_email_fetch import all_tickets
from test_email_fetch import append
from test_email_fetch import flags
from test_email_fetch import mail
from test_email_fetch import poll


def test_sigkill_between_ingest_and_ack(mail_app: Flask, dovecot: Dovecot,
                                        tmp_path: Path) -> None:
    acc = account(dovecot)
    append(dovecot, mail("One"), mail("Two"))
    env = {**os.environ, "HELPDESK_EMAIL_TEST_PAUSE_BEFORE_ACK": "60"}
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("poll_process.py")),
         mail_app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path / "files"), str(LEASE)],
        env=env)
    try:
        deadline = time.monotonic() + 30
        while not _tickets_seen_by_another_request(mail_app):
            assert time.monotonic() < deadline, "the poller ingested nothing"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    killed_at = time.monotonic()
    # One batch, one commit: both stored with the cursor's advance.
    assert [t.subject for t in all_tickets()] == ["One", "Two"]
    assert all(ACK_KEYWORD not in f for f in flags(dovecot))  # killed before the ack
    assert poll(acc).locked  # the dead fetcher's lease still holds...
    time.sleep(max(0.0, LEASE - (time.monotonic() - killed_at)) + 0.5)
    append(dovecot, mail("Three"))
    assert poll(acc).ingested == 1  # ...until it runs out; only the new mail is read
    assert [t.subject for t in all_tickets()] == ["One", "Two", "Three"]
    # "One" and "Two" were ingested but never acknowledged: the next fetch did it.
    assert all(ACK_KEYWORD in f for f in flags(dovecot))


#: Seconds the killed fetcher's lease lasts.
LEASE = 5


def _tickets_seen_by_another_request(app: Flask) -> bool:
    with app.app_context():  # a new session, so a fresh snapshot of the database
        return bool(all_tickets())
