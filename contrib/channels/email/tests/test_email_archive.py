"""Archive import: .eml files, Maildir folders and mbox files keep their dates."""

from __future__ import annotations

import datetime as dt
import mailbox
from email.utils import format_datetime
from pathlib import Path

from flask import Flask
from flask_helpdesk_email.archive import import_paths
from test_email_fetch import all_messages
from test_email_fetch import all_tickets
from test_email_fetch import mail

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import quarantine


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
