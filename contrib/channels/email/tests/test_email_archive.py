"""Archive import: .eml files, Maildir folders and mbox files keep their dates."""

from __future__ import annotations

import datetime as dt
import mailbox
import multiprocessing
import os
import typing as t
from email.utils import format_datetime
from pathlib import Path

import pytest
from flask import Flask
from flask_helpdesk_email import archive
from flask_helpdesk_email.archive import import_paths
from flask_helpdesk_email.parse import content_hash
from test_email_fetch import account
from test_email_fetch import all_messages
from test_email_fetch import all_tickets
from test_email_fetch import append
from test_email_fetch import mail
from test_email_fetch import poll
from test_email_limits import with_files
from test_email_retry import BrokenClassifier

from flask_helpdesk import get_state
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels
from flask_helpdesk.services import outbox
from flask_helpdesk.services import quarantine
from flask_helpdesk.services import rules
from flask_helpdesk.services import tickets


def dated(subject: str, when: dt.datetime, **kwargs: str) -> bytes:
    raw = mail(subject, **kwargs)
    head, _, body = raw.partition(b"\n\n")
    lines = [ln for ln in head.split(b"\n") if not ln.startswith(b"Date:")]
    return b"\n".join([*lines, b"Date: " + format_datetime(when).encode()]) + b"\n\n" + body


def test_import_keeps_dates_and_is_idempotent(mail_app: Flask, tmp_path: Path) -> None:
    when = dt.datetime(2019, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    (tmp_path / "one.eml").write_bytes(dated("From an eml", when, message_id="<e1@x.org>"))
    box = mailbox.Maildir(tmp_path / "maildir", create=True)
    box.add(dated("From a maildir", when + dt.timedelta(days=1), message_id="<m1@x.org>"))
    mbox = mailbox.mbox(tmp_path / "archive.mbox", create=True)
    mbox.add(dated("From an mbox", when + dt.timedelta(days=2), message_id="<b1@x.org>"))
    mbox.add(dated("Re: From an mbox", when + dt.timedelta(days=3), message_id="<b2@x.org>",
                   body="Ответ").replace(b"Message-ID:", b"In-Reply-To: <b1@x.org>\nMessage-ID:"))
    mbox.close()
    paths = [str(tmp_path / n) for n in ("one.eml", "maildir", "archive.mbox")]

    runner = mail_app.test_cli_runner()
    result = runner.invoke(args=["helpdesk", "email", "import", *paths])
    assert result.exit_code == 0, result.output
    assert "imported=4 duplicates=0 quarantined=0 tickets=3" in result.output
    tickets = all_tickets()
    assert [(t.subject, t.created_at) for t in tickets] == [
        ("From an eml", dt.datetime(2019, 3, 4, 5, 6, 7)),
        ("From a maildir", dt.datetime(2019, 3, 5, 5, 6, 7)),
        ("From an mbox", dt.datetime(2019, 3, 6, 5, 6, 7))]
    texts = [m.text for m in all_messages(tickets[2].id)]
    assert len(texts) == 2 and "Ответ" in texts[1]

    again = runner.invoke(args=["helpdesk", "email", "import", *paths])
    assert "imported=0 duplicates=4" in again.output


def test_a_bad_message_is_quarantined_and_its_batch_still_lands(mail_app: Flask,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "eml"
    folder.mkdir()
    for i in range(5):
        (folder / f"m{i}.eml").write_bytes(mail(f"Mail {i}", message_id=f"<m{i}@x.org>"))
    (folder / "m2.eml").write_bytes(mail("Bad", message_id="<" + "y" * 600 + "@x.org>"))
    stats = import_paths([str(folder)], batch=3)
    assert (stats.imported, stats.quarantined) == (4, 1)
    assert [t.subject for t in all_tickets()] == ["Mail 0", "Mail 1", "Mail 3", "Mail 4"]
    [item] = quarantine.list_quarantine(actor=SYSTEM)
    assert item.source.endswith("m2.eml")


def test_import_applies_the_accounts_filters(mail_app_factory, tmp_path: Path) -> None:
    app = mail_app_factory(HELPDESK_EMAIL_INTERNAL_DOMAINS=["our.example"])
    with app.app_context():
        channels.create_account(
            actor=SYSTEM, channel="email", name="support",
            settings={"imap_host": "127.0.0.1", "imap_port": 1, "imap_username": "x",
                      "allow_senders": ["vip@partner.test"], "block_senders": ["pest.test"]},
            secrets={"imap_password": "x"})
        folder = tmp_path / "eml"
        folder.mkdir()
        spam = b"X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=9.1 required=5.0\r\n"
        for name, raw in {"hello": mail("Hello"),
                          "blocked": mail("Blocked", sender="x@pest.test"),
                          "internal": mail("Internal", sender="cfo@our.example"),
                          "header": spam + mail("Spam header"),
                          "vip": spam + mail("VIP", sender="vip@partner.test")}.items():
            (folder / f"{name}.eml").write_bytes(raw)
        result = app.test_cli_runner().invoke(args=[
            "helpdesk", "email", "import", "--account", "support", str(folder)])
        assert "imported=5 duplicates=0 quarantined=0 tickets=5" in result.output
        found = {t.subject: (t.status, {g.name for g in t.tags}) for t in all_tickets()}
        assert found == {
            "Hello": ("open", set()), "Blocked": ("spam", {"email:blocked"}),
            "Internal": ("spam", {"email:internal"}),
            "Spam header": ("spam", {"email:spam-header"}), "VIP": ("open", set())}


def test_import_leaves_out_oversized_files_and_answers_nobody(
        mail_app_factory, tmp_path: Path) -> None:
    app = mail_app_factory(HELPDESK_EMAIL_MAX_ATTACHMENT_SIZE=100_000)
    with app.app_context():
        (tmp_path / "logs.eml").write_bytes(
            with_files("Logs", ("small.log", 2_000), ("huge.bin", 300_000)))
        stats = import_paths([str(tmp_path / "logs.eml")], workers=0)
        assert (stats.imported, stats.quarantined) == (1, 0)
        [ticket] = all_tickets()
        assert {g.name for g in ticket.tags} == {"email:attachments-dropped"}
        inbound, note = all_messages(ticket.id)  # no automatic answer queued
        assert [a.filename for a in inbound.attachments] == ["small.log"]
        assert note.kind == "note" and "huge.bin (293 KB)" in note.text
        assert outbox.sweep() == [] and outbox.stats().get("queued", 0) == 0


def test_a_small_import_starts_no_parsing_pool(mail_app: Flask, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*args: t.Any) -> t.NoReturn:
        raise AssertionError("a pool was started for one chunk")

    monkeypatch.setattr(multiprocessing, "get_context", no_pool)
    folder = tmp_path / "eml"
    folder.mkdir()
    for i in range(8):
        (folder / f"m{i}.eml").write_bytes(mail(f"Mail {i}", message_id=f"<s{i}@x.org>"))
    stats = import_paths([str(folder)], batch=10, workers=2)
    assert (stats.imported, stats.tickets, stats.quarantined) == (8, 8, 0)


def test_the_importer_parses_a_small_first_chunk_then_full_ones() -> None:
    items = [(f"m{i}", b"") for i in range(23)]
    sizes = [len(c) for c in archive._chunked(items, 5, first=2)]
    assert sizes == [2, 5, 5, 5, 5, 1]
    assert [len(c) for c in archive._chunked(items, 10)] == [10, 10, 3]


def test_import_with_a_parsing_pool_gives_the_same_tickets(
        mail_app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stored: list[list[str]] = []
    real = archive._import_batch

    def record(intake: t.Any, items: list[tuple[str, bytes]], *args: t.Any) -> None:
        stored.append([Path(source).name for source, _raw in items])
        real(intake, items, *args)

    monkeypatch.setattr(archive, "_import_batch", record)
    folder = tmp_path / "eml"
    folder.mkdir()
    for i in range(30):
        raw = mail(f"Mail {i}", message_id=f"<p{i}@x.org>", body=f"Привет {i}")
        if i % 3:
            raw = raw.replace(b"Message-ID:", f"In-Reply-To: <p{i - i % 3}@x.org>\n"
                              "Message-ID:".encode())
        (folder / f"m{i:02}.eml").write_bytes(raw)
    stats = import_paths([str(folder)], batch=4, chunk=2, workers=2)
    assert (stats.imported, stats.tickets, stats.quarantined) == (30, 10, 0)
    # in order, chunks of two grouped into commits of at most four
    assert [name for names in stored for name in names] == [f"m{i:02}.eml" for i in range(30)]
    assert max(map(len, stored)) <= 4
    tickets = all_tickets()
    assert [t.subject for t in tickets] == [f"Mail {i}" for i in range(0, 30, 3)]
    texts = [m.text for m in all_messages(tickets[1].id)]
    assert texts == ["Привет 3", "Привет 4", "Привет 5"]


def test_a_parsing_process_that_dies_loses_nothing(
        mail_app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    importer, real = os.getpid(), archive.parse_message

    def parse(raw: bytes, **kwargs: t.Any) -> t.Any:
        if os.getpid() != importer:
            os._exit(9)  # a worker of the pool is killed in the middle of a chunk
        return real(raw, **kwargs)

    monkeypatch.setattr(archive, "parse_message", parse)
    folder = tmp_path / "eml"
    folder.mkdir()
    for i in range(12):
        (folder / f"m{i:02}.eml").write_bytes(mail(f"Mail {i}", message_id=f"<k{i}@x.org>"))
    stats = import_paths([str(folder)], batch=4, chunk=2, workers=1)
    assert (stats.imported, stats.tickets, stats.quarantined) == (12, 12, 0)
    assert [t.subject for t in all_tickets()] == [f"Mail {i}" for i in range(12)]
    assert "A parsing process of the import died" in caplog.text


def _ack_rule() -> None:
    rules.create_rule(actor=SYSTEM, name="Ack", enabled=True,
                      when={"type": "event", "on": "message.received"},
                      actions=[{"type": "reply", "text": "We got it"}])


def test_an_imported_archive_gets_no_reply_from_event_rules(mail_app: Flask,
                                                            tmp_path: Path) -> None:
    _ack_rule()
    folder = tmp_path / "eml"
    folder.mkdir()
    for i in range(3):
        (folder / f"m{i}.eml").write_bytes(mail(f"Old {i}", sender=f"c{i}@example.org"))
    result = mail_app.test_cli_runner().invoke(args=["helpdesk", "email", "import", str(folder)])
    assert "imported=3 duplicates=0 quarantined=0 tickets=3" in result.output
    assert [[m.kind for m in all_messages(tk.id)] for tk in all_tickets()] == [["inbound"]] * 3
    assert outbox.sweep() == [] and outbox.stats().get("queued", 0) == 0
    # no rule acted (its changes would be events by "Rule: Ack"), every event is flagged
    assert all(e.data.get("imported") and e.actor_kind != "rule"
               for tk in all_tickets() for e in tickets.list_events(tk.id, actor=SYSTEM))


def test_an_imported_mail_retried_from_the_quarantine_gets_no_reply(
        mail_app: Flask, tmp_path: Path) -> None:
    _ack_rule()
    admin = agents.create_agent(actor=SYSTEM, name="Ada", email="ada@example.com",
                                user_id="1", role="admin")
    folder = tmp_path / "eml"
    folder.mkdir()
    (folder / "a.eml").write_bytes(mail("Invoice 2019-7", sender="old@example.org"))
    (folder / "b.eml").write_bytes(mail("Old question", sender="older@example.org"))
    pm = get_state().pm
    pm.register(BrokenClassifier(), name="broken")
    try:
        stats = import_paths([str(folder)])
    finally:
        pm.unregister(name="broken")  # the cause is fixed
    assert (stats.imported, stats.quarantined) == (1, 1)
    [item] = quarantine.list_quarantine(actor=admin)
    assert item.imported and item.source.endswith("a.eml")
    result = quarantine.retry_quarantined(item.id, actor=admin)
    assert result.created
    assert [m.kind for m in all_messages(result.ticket_id)] == ["inbound"]
    assert outbox.sweep() == [] and outbox.stats().get("queued", 0) == 0
    assert all(e.data.get("imported") and e.actor_kind != "rule"
               for e in tickets.list_events(result.ticket_id, actor=SYSTEM))


def test_fetched_mail_still_gets_the_rules_reply(mail_app: Flask, dovecot: t.Any) -> None:
    _ack_rule()
    append(dovecot, mail("Live"))
    assert poll(account(dovecot)).ingested == 1
    [ticket] = all_tickets()
    assert [m.kind for m in all_messages(ticket.id)] == ["inbound", "reply"]
    assert outbox.stats().get("queued", 0) + outbox.stats().get("sent", 0) == 1


def test_a_different_mail_reusing_a_message_id_is_imported_with_a_record(
        mail_app: Flask, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = mail("First", sender="a@x.test", body="first body", message_id="<same@x.test>")
    second = mail("Second", sender="b@y.test", body="other body", message_id="<same@x.test>")
    for name, raw in {"a": first, "a-copy": first, "b": second}.items():
        (tmp_path / f"{name}.eml").write_bytes(raw)
    box = mailbox.mbox(tmp_path / "again.mbox", create=True)  # the same mails, as an mbox
    box.add(first)
    box.add(second)
    box.close()
    stats = import_paths([str(tmp_path / n) for n in ("a.eml", "a-copy.eml", "b.eml")],
                         workers=0)
    assert (stats.imported, stats.duplicates, stats.tickets) == (2, 1, 2)
    one, two = all_tickets()
    assert (one.subject, two.subject) == ("First", "Second")
    assert {g.name for g in one.tags} == set()
    assert {g.name for g in two.tags} == {"email:duplicate-message-id"}
    [reused] = [e for e in tickets.list_events(two.id, actor=SYSTEM)
                if e.type == "message.external_id_reused"]
    assert reused.data["first_message_id"] == all_messages(one.id)[0].id
    assert any("reuses external id 'same@x.test'" in r.getMessage() for r in caplog.records)
    again = import_paths([str(tmp_path / n) for n in ("a.eml", "b.eml", "again.mbox")],
                         workers=0)
    assert (again.imported, again.duplicates) == (0, 4)
    assert len(all_messages()) == 2


def test_the_content_hash_ignores_what_transports_change() -> None:
    raw = mail("Hello", body="From here on\nline two")
    assert content_hash(raw) == content_hash(
        b"Status: RO\r\n" + raw.replace(b"\n", b"\r\n").replace(b"\r\nFrom here",
                                                                b"\r\n>From here") + b"\r\n")
    assert content_hash(raw) != content_hash(raw.replace(b"line two", b"line 2"))
