"""Imported history runs no event rule; a reused external id with other content is kept."""

from __future__ import annotations

import datetime as dt
import logging
import typing as t

import pytest
from sqlalchemy import func
from sqlalchemy import select

from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk import get_state
from flask_helpdesk.models import Message
from flask_helpdesk.models import RuleFiring
from flask_helpdesk.models import TicketEvent
from flask_helpdesk.models import utcnow
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import IngestResult
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import automation
from flask_helpdesk.services import ingest
from flask_helpdesk.services import ingest_batch
from flask_helpdesk.services import rules
from flask_helpdesk.services import tickets
from tests.plugins.channel import RecordingChannel

Store = t.Callable[[list[InboundMessage]], list[IngestResult]]


def one_by_one(batch: list[InboundMessage]) -> list[IngestResult]:
    return [ingest(m) for m in batch]


def batched(batch: list[InboundMessage]) -> list[IngestResult]:
    results = ingest_batch(batch)
    assert not [r for r in results if isinstance(r, Exception)], results
    return t.cast("list[IngestResult]", results)


PATHS = pytest.mark.parametrize("store", [one_by_one, batched], ids=["ingest", "ingest_batch"])


@pytest.fixture
def app(app_factory, recorder):
    app = app_factory(plugins=[recorder, RecordingChannel()])
    with app.app_context():
        yield app


def msg(n: int, *, imported: bool = False, content: str | None = None, **kw) -> InboundMessage:
    kw.setdefault("received_at", dt.datetime(2019, 3, 4, 5, 6) + dt.timedelta(hours=n))
    return InboundMessage(channel="test", external_id=kw.pop("external_id", f"<{n}@mail>"),
                          sender=kw.pop("sender", Identity("email", f"c{n}@example.org")),
                          subject=f"Old {n}",
                          text=content or f"text {n}", imported=imported,
                          content_hash=content and f"sha256:{content}", **kw)


def count(model, *where) -> int:
    return get_state().db.session.scalar(select(func.count()).select_from(model).where(*where))


def ack_rule() -> None:
    rules.create_rule(actor=SYSTEM, name="Ack", enabled=True,
                      when={"type": "event", "on": "message.received"},
                      actions=[{"type": "reply", "text": "We got it"},
                               {"type": "add_tags", "tags": ["acked"]}])


@PATHS
def test_an_import_of_three_mails_runs_no_event_rule(app, recorder, store: Store) -> None:
    ack_rule()
    results = store([msg(n, imported=True) for n in range(3)])
    assert [r.created for r in results] == [True, True, True]
    assert count(Message, Message.kind != "inbound") == 0  # no reply queued or sent
    assert count(Message, Message.delivery_state.is_not(None)) == 0  # nothing in the outbox
    assert count(RuleFiring) == 0
    assert count(TicketEvent, TicketEvent.actor_kind == "rule") == 0
    assert all(tickets.get_ticket(r.ticket_id, actor=SYSTEM).tags == [] for r in results)
    # Plugins still see every event, flagged.
    received = [e for e in recorder.events if e.type == "message.received"]
    assert len(received) == 3 and all(e.data["imported"] is True for e in received)
    assert all(e.data.get("imported") for e in recorder.events)


@PATHS
def test_a_live_message_still_fires_the_rule(app, store: Store) -> None:
    ack_rule()
    [imported, live] = store([msg(1, imported=True), msg(2)])
    assert count(Message, Message.ticket_id == imported.ticket_id, Message.kind != "inbound") == 0
    replies = get_state().db.session.scalars(select(Message).where(
        Message.ticket_id == live.ticket_id, Message.kind != "inbound")).all()
    assert [m.text for m in replies] == ["We got it"]
    assert [tg.name for tg in tickets.get_ticket(live.ticket_id, actor=SYSTEM).tags] == ["acked"]


@PATHS
def test_old_imported_mail_does_not_make_time_rules_fire_at_once(app, store: Store) -> None:
    rules.create_rule(actor=SYSTEM, name="Waiting", enabled=True,
                      when={"type": "time", "since": "last_customer_message", "minutes": 60},
                      conditions={"all": [{"field": "status", "op": "is", "value": "open"}]},
                      actions=[{"type": "add_tags", "tags": ["late"]}])
    [imported] = store([msg(1, imported=True)])
    [live] = store([msg(2)])  # the same old date, but live: due at once
    assert automation.tick() == 1
    assert count(RuleFiring, RuleFiring.ticket_id == live.ticket_id) == 1
    # The customer writes again: a new episode, counted like on any ticket.
    [again] = store([msg(3, ticket_hint=imported.ticket_id,
                         sender=Identity("email", "c1@example.org"), received_at=utcnow())])
    assert again.ticket_id == imported.ticket_id
    assert automation.tick() == 0
    assert automation.tick(now=utcnow() + dt.timedelta(minutes=61)) == 1


@PATHS
def test_the_same_bytes_twice_are_one_message(app, store: Store) -> None:
    first, second = store([msg(1, content="aaa"), msg(1, content="aaa")])
    assert second.duplicate and second.message_id == first.message_id
    assert count(Message) == 1


@PATHS
def test_another_mail_reusing_an_id_is_kept_with_a_record(app, store: Store, caplog) -> None:
    caplog.set_level(logging.WARNING, "flask_helpdesk.inbound")
    first, second = store([msg(1, content="aaa"),
                           msg(2, content="bbb", external_id="<1@mail>")])
    assert not second.duplicate and second.message_id != first.message_id
    assert second.reused_id_of == first.message_id
    stored = get_state().db.session.get(Message, second.message_id)
    assert stored.external_id == "<1@mail>#sha256:bbb" and stored.meta["content_hash"] == \
        "sha256:bbb"
    [event] = [e for e in tickets.list_events(second.ticket_id, actor=SYSTEM)
               if e.type == "message.external_id_reused"]
    assert event.data == {"message_id": second.message_id, "external_id": "<1@mail>#sha256:bbb",
                          "first_message_id": first.message_id}
    [warning] = [r.getMessage() for r in caplog.records if "reuses external id" in r.getMessage()]
    assert f"message {second.message_id} " in warning and f"message {first.message_id} " in \
        warning and "'<1@mail>'" in warning
    # Both fetched again (and the second one twice more): nothing new.
    again = store([msg(1, content="aaa"), msg(2, content="bbb", external_id="<1@mail>"),
                   msg(2, content="bbb", external_id="<1@mail>")])
    assert [r.duplicate for r in again] == [True, True, True]
    assert [r.message_id for r in again] == [first.message_id, second.message_id,
                                             second.message_id]
    assert count(Message) == 2


@PATHS
def test_without_hashes_a_known_id_stays_a_duplicate(app, store: Store) -> None:
    first, second = store([msg(1), msg(2, external_id="<1@mail>", content="bbb")])
    assert second.duplicate and second.message_id == first.message_id


# ------------------------------------- imported history and the ticket's status


def _resolve(ticket_id: int, *, group: str | None = None) -> None:
    group_id = agents.create_group(actor=SYSTEM, name=group, resolved_reply="follow_up").id \
        if group else None
    changes = TicketChanges(status="resolved", **({"group_id": group_id} if group else {}))
    tickets.update_ticket(ticket_id, actor=SYSTEM, changes=changes)


def _status_events(ticket_id: int) -> list[tuple[str, str]]:
    return [(e.data["old"], e.data["new"]) for e in tickets.list_events(ticket_id, actor=SYSTEM)
            if e.type == "ticket.status_changed"]


@PATHS
@pytest.mark.parametrize("status", ["resolved", "pending"])
def test_old_imported_mail_leaves_a_newer_status_alone(app, store: Store, status) -> None:
    [live] = store([msg(1, received_at=utcnow())])
    if status == "resolved":
        _resolve(live.ticket_id)
    else:
        tickets.update_ticket(live.ticket_id, actor=SYSTEM,
                              changes=TicketChanges(status="pending"))
    # An archive brings an older mail of that customer about that ticket.
    [old] = store([msg(2, imported=True, ticket_hint=live.ticket_id,
                       sender=Identity("email", "c1@example.org"))])
    assert old.ticket_id == live.ticket_id and not old.created
    assert tickets.get_ticket(live.ticket_id, actor=SYSTEM).status == status
    assert _status_events(live.ticket_id) == [("open", status)]
    assert count(Message, Message.ticket_id == live.ticket_id) == 2


@PATHS
def test_old_imported_mail_joins_a_resolved_ticket_of_a_follow_up_group(app, store: Store
                                                                        ) -> None:
    [live] = store([msg(1, received_at=utcnow())])
    _resolve(live.ticket_id, group="Sales")
    [old] = store([msg(2, imported=True, ticket_hint=live.ticket_id,
                       sender=Identity("email", "c1@example.org"))])
    assert old.ticket_id == live.ticket_id and old.follow_up_of is None
    assert tickets.get_ticket(live.ticket_id, actor=SYSTEM).status == "resolved"


@PATHS
@pytest.mark.parametrize("imported", [True, False], ids=["imported-newer", "live-old-date"])
def test_newer_imported_mail_and_live_mail_reopen(app, store: Store, imported: bool) -> None:
    [live] = store([msg(1, received_at=utcnow() - dt.timedelta(days=2))])
    _resolve(live.ticket_id)
    # Imported mail written after the resolution, or live mail whatever its date.
    when = utcnow() + dt.timedelta(minutes=1) if imported else dt.datetime(2019, 1, 1)
    [again] = store([msg(2, imported=imported, ticket_hint=live.ticket_id, received_at=when,
                         sender=Identity("email", "c1@example.org"))])
    assert again.ticket_id == live.ticket_id
    assert tickets.get_ticket(live.ticket_id, actor=SYSTEM).status == "open"
    assert _status_events(live.ticket_id) == [("open", "resolved"), ("resolved", "open")]
