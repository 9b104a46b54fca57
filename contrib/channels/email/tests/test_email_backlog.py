"""The backlog an account shows its admins, and the first-connect backfill window."""

from __future__ import annotations

import datetime as dt
import re
import typing as t

from flask import Flask
from flask_helpdesk_email.client import FetchOptions
from flask_helpdesk_email.client import poll_account
from imap_server import Dovecot
from imap_tools import MailBoxUnencrypted
from test_email_fetch import account
from test_email_fetch import all_tickets
from test_email_fetch import append
from test_email_fetch import mail
from test_email_fetch import poll

from flask_helpdesk import get_state
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels
from flask_helpdesk.testing import User


def _backlog_on_admin_page(app: Flask) -> str:
    html = app.test_client(user=User("1")).get("/helpdesk/admin/channels").text
    return re.search(r'<td class="hd-backlog">(\d+)</td>', html).group(1)


def _append_aged(server: Dovecot, subject: str, days: int) -> None:
    """Put a message in INBOX as if it had arrived ``days`` ago (its INTERNALDATE)."""
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    with MailBoxUnencrypted("127.0.0.1", server.port).login(server.user, server.password) as mb:
        mb.append(mail(subject), "INBOX", dt=when)


def _subjects() -> list[str]:
    return sorted(t.subject for t in all_tickets())


def test_a_poll_limited_below_the_waiting_mail_leaves_a_backlog_until_the_next_poll(
        mail_app_factory: t.Any, dovecot: Dovecot) -> None:
    app = mail_app_factory(HELPDESK_EMAIL_POLL_LIMIT=2)
    with app.app_context():
        agents.create_agent(actor=SYSTEM, name="Ada", user_id="1", role="admin")
        acc = account(dovecot)
        append(dovecot, *(mail(f"Mail {n}") for n in range(5)))
        runner = app.test_cli_runner()
        output = runner.invoke(args=["helpdesk", "email", "poll"]).output
        assert "fetched=2 ingested=2 quarantined=0 backlog=3" in output
        assert channels.get_account(acc.id, actor=SYSTEM).backlog == 3
        assert _backlog_on_admin_page(app) == "3"
        assert "backlog=1" in runner.invoke(args=["helpdesk", "email", "poll"]).output
        assert "backlog=0" in runner.invoke(args=["helpdesk", "email", "poll"]).output
        assert channels.get_account(acc.id, actor=SYSTEM).backlog == 0
        assert _backlog_on_admin_page(app) == "0"
        assert _subjects() == [f"Mail {n}" for n in range(5)]


def test_first_connect_skips_mail_older_than_the_default_14_days(
        mail_app: Flask, dovecot: Dovecot) -> None:
    _append_aged(dovecot, "Fifteen days old", 15)
    _append_aged(dovecot, "Thirteen days old", 13)
    append(dovecot, mail("New"))
    options = FetchOptions.from_config(get_state().config.values)
    assert options.backfill_days == 14  # the default of HELPDESK_EMAIL_BACKFILL_DAYS
    acc = account(dovecot)
    assert poll_account(acc, options).ingested == 2
    assert _subjects() == ["New", "Thirteen days old"]
    assert poll_account(acc, options).fetched == 0  # and the old one is not read later


def test_the_backfill_window_is_configurable(mail_app_factory: t.Any, dovecot: Dovecot) -> None:
    app = mail_app_factory(HELPDESK_EMAIL_BACKFILL_DAYS=30)
    with app.app_context():
        _append_aged(dovecot, "Forty days old", 40)
        _append_aged(dovecot, "Twenty days old", 20)
        account(dovecot)
        app.test_cli_runner().invoke(args=["helpdesk", "email", "poll"])
        assert _subjects() == ["Twenty days old"]


def test_a_backfill_cut_by_the_poll_limit_goes_on_with_the_window(
        mail_app: Flask, dovecot: Dovecot) -> None:
    append(dovecot, mail("Recent 1"), mail("Recent 2"))
    _append_aged(dovecot, "Old, appended later", 60)
    append(dovecot, mail("Recent 3"))
    acc = account(dovecot)
    assert (poll(acc, poll_limit=2).backlog, _subjects()) == (1, ["Recent 1", "Recent 2"])
    assert poll(acc, poll_limit=2).backlog == 0
    assert _subjects() == ["Recent 1", "Recent 2", "Recent 3"]
    append(dovecot, mail("Later"))
    assert poll(acc, poll_limit=2).ingested == 1
    assert "Old, appended later" not in _subjects()
