"""Fetching from a real Dovecot into tickets."""

from __future__ import annotations

import typing as t
from email.message import EmailMessage
from email.utils import format_datetime
from email.utils import make_msgid

import pytest
from flask import Flask
from flask_helpdesk_email.client import ACK_KEYWORD
from flask_helpdesk_email.client import FetchOptions
from flask_helpdesk_email.client import poll_account
from imap_server import Dovecot
from imap_tools import MailBoxUnencrypted

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels
from flask_helpdesk.services import messages
from flask_helpdesk.services import quarantine
from flask_helpdesk.services import views


def mail(subject: str, *, sender: str = "dan@example.org", body: str = "Hello",
         message_id: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "help@example.test", subject
    msg["Message-ID"] = message_id or make_msgid(domain="example.org")
    msg["Date"] = format_datetime(__import__("datetime").datetime.now().astimezone())
    msg.set_content(body)
    return bytes(msg)


def append(server: Dovecot, *raws: bytes, folder: str = "INBOX") -> None:
    with MailBoxUnencrypted("127.0.0.1", server.port).login(server.user, server.password) as mb:
        for raw in raws:
            mb.append(raw, folder)


def flags(server: Dovecot, folder: str = "INBOX") -> list[tuple[str, ...]]:
    with MailBoxUnencrypted("127.0.0.1", server.port).login(
            server.user, server.password, initial_folder=folder) as mb:
        return [m.flags for m in mb.fetch(mark_seen=False, headers_only=True)]


def account(server: Dovecot, **settings: t.Any) -> t.Any:
    return channels.create_account(actor=SYSTEM, channel="email", name="support",
                                   settings={**server.settings(), **settings},
                                   secrets={"imap_password": server.password})


def all_tickets() -> list[t.Any]:
    return sorted(views.list_tickets(actor=SYSTEM, limit=100).items, key=lambda t: t.id)


def all_messages(ticket_id: int | None = None) -> list[t.Any]:
    ids = [ticket_id] if ticket_id is not None else [t.id for t in all_tickets()]
    return [m for i in ids for m in messages.list_messages(i, actor=SYSTEM)]


def poll(acc: t.Any, **options: t.Any) -> t.Any:
    return poll_account(acc, FetchOptions(**options))


def test_new_mail_becomes_tickets_and_is_flagged_after_ingest(mail_app: Flask,
                                                              dovecot: Dovecot) -> None:
    group = agents.create_group(actor=SYSTEM, name="Support")
    acc = account(dovecot)
    channels.update_account(acc.id, actor=SYSTEM, group_id=group.id)
    append(dovecot, mail("Printer broken", body="Привет, принтер не печатает"),
           mail("Invoice", sender="eve@example.org"))
    stats = poll(acc)
    assert (stats.fetched, stats.ingested, stats.quarantined) == (2, 2, 0)
    tickets = all_tickets()
    assert [t.subject for t in tickets] == ["Printer broken", "Invoice"]
    assert {t.group_id for t in tickets} == {group.id}
    [message] = all_messages(tickets[0].id)
    assert "принтер" in message.text
    assert all(ACK_KEYWORD in f and "\\Seen" not in f for f in flags(dovecot))
    assert poll(acc).fetched == 0  # the cursor remembers
    health = channels.get_account(acc.id, actor=SYSTEM)
    assert health.last_success_at is not None and health.lease_owner == ""


def test_mail_read_elsewhere_is_not_lost(mail_app: Flask, dovecot: Dovecot) -> None:
    acc = account(dovecot)
    append(dovecot, mail("Already read"))
    with MailBoxUnencrypted("127.0.0.1", dovecot.port).login(dovecot.user,
                                                             dovecot.password) as mb:
        mb.flag(mb.uids(), "\\Seen", True)
    assert poll(acc).ingested == 1
    assert len(all_tickets()) == 1


def test_cursor_survives_a_restart_and_a_uidvalidity_change(
        mail_app_factory: t.Callable[..., Flask], dovecot: Dovecot) -> None:
    old = mail("First", message_id="<first@example.org>")
    append(dovecot, old)
    with mail_app_factory().app_context():
        assert poll(account(dovecot)).ingested == 1
    append(dovecot, mail("Second"))
    with mail_app_factory().app_context():  # a new process, same database
        acc = channels.find_account("email", "support", actor=SYSTEM)
        assert poll(acc).ingested == 1
        assert len(all_tickets()) == 2
        # The server renumbered the folder: every UID is new to us.
        dovecot.doveadm("mailbox", "update", "-u", dovecot.user, "--uid-validity", "4242",
                        "INBOX")
        append(dovecot, old, mail("Third"))
        stats = poll(acc)
        assert stats.fetched == 4  # all read back over the backfill window
        assert len(all_tickets()) == 3 and len(all_messages()) == 3  # "First" is not duplicated


def test_malformed_mail_is_quarantined_and_the_batch_goes_on(mail_app: Flask,
                                                              dovecot: Dovecot) -> None:
    acc = account(dovecot)
    bad = mail("Too long an id", message_id="<" + "x" * 600 + "@example.org>")
    append(dovecot, mail("Before"), bad, mail("After"))
    stats = poll(acc)
    assert (stats.ingested, stats.quarantined) == (2, 1)
    [item] = quarantine.list_quarantine(actor=SYSTEM)
    assert item.source == "INBOX uid 2" and "external_id" in item.error
    assert quarantine.quarantined_raw(item.id, actor=SYSTEM) == bad.replace(b"\n", b"\r\n")
    assert poll(acc).fetched == 0  # the bad one is not fetched again and again


def test_move_mode_moves_after_ingest(mail_app: Flask, dovecot: Dovecot) -> None:
    acc = account(dovecot)
    append(dovecot, mail("Move me"))
    assert poll(acc, ack_mode="move", ack_folder="Done").ingested == 1
    assert flags(dovecot) == [] and len(flags(dovecot, "Done")) == 1


def test_a_locked_account_is_left_to_its_fetcher(mail_app: Flask, dovecot: Dovecot) -> None:
    acc = account(dovecot)
    append(dovecot, mail("Busy"))
    assert channels.claim_account(acc.id, owner="other worker")
    assert poll(acc).locked and len(all_tickets()) == 0
    channels.release_account(acc.id, owner="other worker")
    assert poll(acc).ingested == 1


def test_wrong_password_is_kept_on_the_account(mail_app: Flask, dovecot: Dovecot) -> None:
    acc = account(dovecot)
    channels.update_account(acc.id, actor=SYSTEM, secrets={"imap_password": "wrong"})
    with pytest.raises(Exception, match="failed"):
        poll(acc)
    assert "LOGIN" in channels.get_account(acc.id, actor=SYSTEM).last_error.upper()


def test_poll_command(mail_app: Flask, dovecot: Dovecot) -> None:
    account(dovecot)
    append(dovecot, mail("From the command"))
    runner = mail_app.test_cli_runner()
    result = runner.invoke(args=["helpdesk", "email", "poll", "support"])
    assert result.exit_code == 0, result.output
    assert "support: fetched=1 ingested=1 quarantined=0" in result.output
    assert [t.subject for t in all_tickets()] == ["From the command"]
    assert "fetched=0" in runner.invoke(args=["helpdesk", "email", "poll"]).output


def test_enabled_accounts_are_polled_periodically(mail_app_factory: t.Any,
                                                  dovecot: Dovecot) -> None:
    import time

    from flask_helpdesk import get_state

    app = mail_app_factory(HELPDESK_BROKER_URL="embedded", HELPDESK_EMAIL_POLL_INTERVAL=0.2,
                           HELPDESK_RULES_TICK_INTERVAL=0, HELPDESK_SWEEP_INTERVAL=0)
    with app.app_context():
        account(dovecot)
        channels.create_account(actor=SYSTEM, channel="email", name="paused", enabled=False,
                                settings=dovecot.settings(),
                                secrets={"imap_password": dovecot.password})
        append(dovecot, mail("Nobody ran a poll command"))
        jobs = get_state().jobs
        jobs.start()
        try:
            deadline = time.monotonic() + 15
            while not all_tickets() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.6)  # a few more periods: the disabled account must stay idle
        finally:
            jobs.stop()
        tickets = all_tickets()
        assert [t.subject for t in tickets] == ["Nobody ran a poll command"]
        assert tickets[0].account == "support"


def test_a_lost_acknowledgement_is_made_again(mail_app: Flask, dovecot: Dovecot,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from flask_helpdesk_email import client

    acc = account(dovecot)
    append(dovecot, mail("Moved late"))
    real_ack = client._ack

    def connection_lost(*args: t.Any) -> None:
        raise OSError("connection reset by peer")

    monkeypatch.setattr(client, "_ack", connection_lost)
    with pytest.raises(Exception, match="connection reset"):
        poll(acc, ack_mode="move", ack_folder="Done")
    assert len(flags(dovecot)) == 1  # ingested, still in the inbox
    monkeypatch.setattr(client, "_ack", real_ack)
    stats = poll(acc, ack_mode="move", ack_folder="Done")
    assert (stats.fetched, stats.ingested) == (0, 0)  # not ingested twice...
    assert flags(dovecot) == [] and len(flags(dovecot, "Done")) == 1  # ...but moved now
    assert len(all_tickets()) == 1
