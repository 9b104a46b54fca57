"""Mailboxes from HELPDESK_EMAIL_ACCOUNTS: applied to the database without their secrets."""

from __future__ import annotations

import re
import typing as t

import pytest
from flask import Flask
from imap_server import Dovecot
from sqlalchemy import text
from test_email_fetch import all_tickets
from test_email_fetch import append
from test_email_fetch import mail

from flask_helpdesk import Conflict
from flask_helpdesk import get_state
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels
from flask_helpdesk.testing import User


def _entry(dovecot: Dovecot, **extra: t.Any) -> dict[str, t.Any]:
    return {"name": "support", "group": "Support", **dovecot.settings(),
            "imap_password": dovecot.password, "smtp_password": "smtp-Pa55", **extra}


def _dump_accounts() -> str:
    db = get_state().db
    with db.engines[None].connect() as conn:
        return repr(conn.execute(text("SELECT * FROM helpdesk_channel_accounts")).all())


@pytest.fixture
def configured(mail_app_factory: t.Any, dovecot: Dovecot) -> t.Iterator[Flask]:
    app = mail_app_factory(HELPDESK_EMAIL_ACCOUNTS=[_entry(dovecot)])
    with app.app_context():
        agents.create_group(actor=SYSTEM, name="Support")
        agents.create_agent(actor=SYSTEM, name="Ada", user_id="1", role="admin")
        yield app


def test_a_configured_account_fetches_with_the_password_that_stays_in_the_config(
        configured: Flask, dovecot: Dovecot) -> None:
    runner = configured.test_cli_runner()
    output = runner.invoke(args=["helpdesk", "email", "accounts"]).output
    assert "created: support" in output and "support\tconfig\tenabled" in output
    account = channels.find_account("email", "support", actor=SYSTEM)
    assert account.group_id == agents.get_group_by_name("Support").id
    assert account.settings["imap_host"] == "127.0.0.1" and account.secrets == ""
    append(dovecot, mail("From a configured mailbox"))
    assert "fetched=1 ingested=1" in runner.invoke(args=["helpdesk", "email", "poll"]).output
    assert [t.subject for t in all_tickets()] == ["From a configured mailbox"]
    dump = _dump_accounts()
    assert dovecot.password not in dump and "smtp-Pa55" not in dump
    assert runner.invoke(args=["helpdesk", "email", "accounts"]).output.startswith("support\t")


def test_configured_accounts_are_marked_and_read_only_for_admins(configured: Flask) -> None:
    configured.test_cli_runner().invoke(args=["helpdesk", "email", "accounts"])
    account = channels.find_account("email", "support", actor=SYSTEM)
    client = configured.test_client(user=User("1"))
    listing = client.get("/helpdesk/admin/channels").text
    row = re.search(r'<tr class="hd-account-row".*?</tr>', listing, re.S).group(0)
    assert "support" in row and "from configuration, read-only" in row
    page = client.get(f"/helpdesk/admin/channels/{account.id}").text
    assert "comes from the application&#39;s configuration" in page
    assert 'name="imap_host"' not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/helpdesk/admin/channels/new/email").text).group(1)
    response = client.post(f"/helpdesk/admin/channels/{account.id}", data={
        "csrf_token": token, "name": "renamed", "imap_host": "imap.example.com"})
    assert response.status_code == 409
    admin = agents.list_agents()[0]
    with pytest.raises(Conflict):
        channels.update_account(account.id, actor=admin, enabled=False)
    assert channels.find_account("email", "support", actor=SYSTEM).enabled


def test_a_configured_name_taken_in_the_database_is_not_applied(
        mail_app_factory: t.Any, dovecot: Dovecot) -> None:
    app = mail_app_factory(HELPDESK_EMAIL_ACCOUNTS=[_entry(dovecot, group=None)])
    with app.app_context():
        mine = channels.create_account(actor=SYSTEM, channel="email", name="support",
                                       settings={"imap_host": "imap.example.com"})
        result = app.test_cli_runner().invoke(args=["helpdesk", "email", "accounts"])
        assert "support: An account named support was created in the helpdesk" in result.output
        assert channels.get_account(mine.id, actor=SYSTEM).settings == {
            "imap_host": "imap.example.com"}


def test_an_account_removed_from_the_config_is_disabled_and_editable_again(
        configured: Flask, mail_app_factory: t.Any) -> None:
    configured.test_cli_runner().invoke(args=["helpdesk", "email", "accounts"])
    later = mail_app_factory()  # the same database, the entry gone from the config
    with later.app_context():
        output = later.test_cli_runner().invoke(args=["helpdesk", "email", "accounts"]).output
        assert "released: support" in output
        account = channels.find_account("email", "support", actor=SYSTEM)
        assert not account.enabled and channels.managed_by(account) == ""
        admin = agents.list_agents()[0]
        channels.update_account(account.id, actor=admin, enabled=True)


def test_a_configured_account_with_plain_imap_to_another_host_is_not_applied(
        mail_app_factory: t.Any, dovecot: Dovecot) -> None:
    app = mail_app_factory(HELPDESK_EMAIL_ACCOUNTS=[
        _entry(dovecot, group=None, imap_host="192.0.2.1")])
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["helpdesk", "email", "accounts"])
        assert "support: Plain IMAP is allowed only to a loopback address" in result.output
        assert channels.list_accounts(actor=SYSTEM) == []
