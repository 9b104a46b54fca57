"""``flask helpdesk email backfill-participants``: the participants of mail stored before 0008."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from flask import Flask
from flask_helpdesk_email import plugin
from flask_helpdesk_email.accounts import account_config
from flask_helpdesk_email.backfill import backfill_participants
from flask_helpdesk_email.intake import Intake
from test_email_threading import mail

from flask_helpdesk import InboundMessage
from flask_helpdesk import get_state
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import IngestResult
from flask_helpdesk.services import channels
from flask_helpdesk.services import ingest
from flask_helpdesk.services import ingest_batch
from flask_helpdesk.services import participants as participants_service
from flask_helpdesk.testing import make_app

Store = t.Callable[[bytes], IngestResult]


@pytest.fixture
def mail_app(tmp_path: Path) -> t.Iterator[Flask]:
    """An app whose database is migrated (``db upgrade``), so it can go down and up again."""
    app = make_app(database_uri=f"sqlite:///{tmp_path / 'site.db'}", plugins=[plugin],
                   config={"HELPDESK_ATTACHMENT_DIR": str(tmp_path / "files")})
    with app.app_context():
        cli(app, "db", "upgrade")
        yield app
        for engine in get_state(app).db.engines.values():
            engine.dispose()


@pytest.fixture
def intake(mail_app: Flask) -> Intake:
    account = channels.create_account(
        actor=SYSTEM, channel="email", name="support",
        settings={"imap_host": "127.0.0.1", "imap_username": "box@example.test",
                  "from_address": "Help@Example.test"},
        secrets={"imap_password": "unused"})
    return Intake(account, account_config(account))


def _batch_of_one(message: InboundMessage) -> IngestResult:
    result = ingest_batch([message])[0]
    assert isinstance(result, IngestResult), result
    return result


@pytest.fixture(params=["ingest", "ingest_batch"])
def store(request: pytest.FixtureRequest, intake: Intake) -> Store:
    """Parse and shape raw mail as the fetcher does, and ingest it through either path."""
    path = ingest if request.param == "ingest" else _batch_of_one
    return lambda raw: path(intake.prepare(raw).message)


def cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["helpdesk", *args])
    assert result.exit_code == 0, result.output
    return result.output


def participants(*ticket_ids: int) -> dict[int, list[str]]:
    return {tk: [v for _k, v in participants_service.ticket_participants(tk, actor=SYSTEM)]
            for tk in ticket_ids}


def upgraded_from_0007(app: Flask) -> None:
    """The database as an install upgraded to 0008 has it: the mail, no participants yet."""
    cli(app, "db", "downgrade", "0007_agent_notifications", "--yes")
    cli(app, "db", "upgrade")


def backfill(mail_app: Flask, *args: str) -> str:
    return cli(mail_app, "email", "backfill-participants", *args)


def old_mail(store: Store) -> tuple[int, int]:
    """Mail of every kind the participants rules tell apart; the two tickets."""
    many = ", ".join(f"p{n}@big.example" for n in range(60))
    carla = store(mail("Carla <carla@z.example>", "c1@z.example", "Printer broken",
                       to="help@example.test, Dave <Dave@Z.example>",
                       headers="Cc: erin@z.example, carla@z.example, box@example.test\r\n"))
    store(mail("carla@z.example", "c2@z.example", "Re: Printer broken",
               to="help@example.test", headers="In-Reply-To: <c1@z.example>\r\n"
                                               "Cc: dave@z.example, not an address\r\n"))
    listed = "List-Id: <news.list.example>\r\n"
    store(mail("news@list.example", "n1@list.example", "News",
               headers=f"{listed}Cc: a@x.example\r\n"))
    fred = store(mail("fred@y.example", "f1@y.example", "Big list", to="help@example.test",
                      headers=f"Cc: box@example.test, {many}\r\n"))
    return carla.ticket_id, fred.ticket_id


def test_backfill_gives_the_participants_ingest_gave_and_a_colleague_threads(
        mail_app: Flask, store: Store) -> None:
    carla, fred = old_mail(store)
    ingested = participants(carla, fred)
    assert sorted(ingested[carla]) == ["dave@z.example", "erin@z.example"]
    assert len(ingested[fred]) == 50  # 50 a message, not ours
    upgraded_from_0007(mail_app)
    assert participants(carla, fred) == {carla: [], fred: []}

    dry = backfill(mail_app, "--dry-run")
    assert dry.strip() == ("Dry run, nothing was changed. Messages read: 4. Tickets that would"
                           " get participants: 2. Participants to add: 52.")
    assert participants(carla, fred) == {carla: [], fred: []}
    assert backfill(mail_app).strip() == (
        "Messages read: 4. Tickets that got participants: 2. Participants added: 52.")
    assert {tk: sorted(v) for tk, v in participants(carla, fred).items()} == {
        tk: sorted(v) for tk, v in ingested.items()}
    assert "Participants added: 0." in backfill(mail_app)  # a second run adds nothing

    dave = store(mail("dave@z.example", "d1@z.example", f"Re: [#{carla}] Printer broken"))
    erin = store(mail("erin@z.example", "e1@z.example", "Re: Printer broken",
                      headers="In-Reply-To: <c1@z.example>\r\n"))
    assert (dave.ticket_id, erin.ticket_id) == (carla, carla)
    assert store(mail("eve@evil.example", "v1@evil.example", f"[#{carla}] hi")).created


def test_without_the_backfill_the_colleague_opens_a_new_ticket(mail_app: Flask,
                                                               store: Store) -> None:
    carla, _fred = old_mail(store)
    upgraded_from_0007(mail_app)
    dave = store(mail("dave@z.example", "d1@z.example", f"Re: [#{carla}] Printer broken"))
    assert dave.created and dave.ticket_id != carla


def test_small_pages_count_each_participant_once(mail_app: Flask, store: Store) -> None:
    carla, fred = old_mail(store)
    ingested = participants(carla, fred)
    upgraded_from_0007(mail_app)
    # Dave is in Cc of both of Carla's messages, read on two pages.
    dry = backfill_participants(dry_run=True, page=1)
    assert (dry.messages, dry.tickets, dry.participants) == (4, 2, 52)
    done = backfill_participants(page=1)
    assert (done.messages, done.tickets, done.participants) == (4, 2, 52)
    assert {tk: sorted(v) for tk, v in participants(carla, fred).items()} == {
        tk: sorted(v) for tk, v in ingested.items()}
