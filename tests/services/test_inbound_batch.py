"""``ingest_batch`` gives each message what ``ingest`` one after another would."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func
from sqlalchemy import select

from flask_helpdesk import Identity
from flask_helpdesk import InboundAttachment
from flask_helpdesk import InboundMessage
from flask_helpdesk import ValidationError
from flask_helpdesk import get_state
from flask_helpdesk.models import Attachment
from flask_helpdesk.models import Customer
from flask_helpdesk.models import Message
from flask_helpdesk.models import Ticket
from flask_helpdesk.models import TicketEvent
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import ingest
from flask_helpdesk.services import ingest_batch
from flask_helpdesk.services import search
from flask_helpdesk.services import tickets
from flask_helpdesk.services import transaction
from tests.plugins.channel import RecordingChannel

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture
def app(app_factory, recorder):
    app = app_factory(plugins=[recorder, RecordingChannel()])
    with app.app_context():
        yield app


def db():
    return get_state().db.session


def msg(run: str, key: str, sender: str, **kw) -> InboundMessage:
    """Message ``key`` of a run; runs differ in account and sender addresses only."""
    local, domain = sender.split("@")
    kw.setdefault("subject", f"About {key}")
    kw.setdefault("text", f"text of {key}")
    return InboundMessage(channel="test", account=run, external_id=f"<{key}@mail>",
                          sender=Identity("email", f"{local}+{run}@{domain}",
                                          kw.pop("name", local.title())),
                          own_keys=(key,), **kw)


def scenario(run: str, store) -> tuple[dict, list, list]:
    """Tickets in every state, then one batch of every kind of message through ``store``."""
    a = ingest(msg(run, "a1", "carla@example.org"))
    b = ingest(msg(run, "b1", "dan@example.org"))
    c = ingest(msg(run, "c1", "erin@example.org"))
    d = ingest(msg(run, "d1", "fay@example.org"))
    e = ingest(msg(run, "e1", "carla@example.org"))
    tickets.update_ticket(c.ticket_id, actor=SYSTEM, changes=TicketChanges(status="closed"))
    tickets.update_ticket(d.ticket_id, actor=SYSTEM, changes=TicketChanges(status="resolved"))
    tickets.merge_tickets(e.ticket_id, a.ticket_id, actor=SYSTEM)
    ingest(msg(run, "q1", "quiet@example.org", name=""))
    when = dt.datetime(2024, 5, 1, 9, 30)
    batch = [
        msg(run, "a2", "carla@example.org", thread_keys=("nope", "a1")),
        msg(run, "n1", "gus@example.org", received_at=when, html="<p>Hi<script>x</script></p>",
            text="", attachments=(InboundAttachment("dot.png", "image/png", PNG),)),
        msg(run, "n2", "gus@example.org", thread_keys=("n1",)),
        msg(run, "c2", "erin@example.org", thread_keys=("c1",)),
        msg(run, "c3", "erin@example.org", thread_keys=("c1",)),
        msg(run, "d2", "fay@example.org", thread_keys=("d1",)),
        msg(run, "e2", "carla@example.org", thread_keys=("e1",)),
        msg(run, "h1", "dan@example.org", ticket_hint=b.ticket_id),
        msg(run, "h2", "mallory@example.org", ticket_hint=b.ticket_id),
        msg(run, "a2", "carla@example.org", thread_keys=("a1",)),
        msg(run, "a1", "carla@example.org"),
        InboundMessage(channel="test", account=run, external_id="<bad@mail>",
                       sender=Identity("email", "not an address")),
        msg(run, "q2", "quiet@example.org", name="Quinn Quiet"),
        msg(run, "s1", "spam@example.org", spam_score=1.0),
    ]
    results = store(batch)
    return snapshot(run, batch, results)


def snapshot(run: str, batch, results) -> tuple[dict, list, list]:
    s = db()
    label = {}
    for ext, ticket_id in s.execute(select(Message.external_id, Message.ticket_id).where(
            Message.account == run).order_by(Message.id)):
        label.setdefault(ticket_id, ext)
    names = {v: k for k, v in label.items()}
    by_message = {}
    for m, r in zip(batch, results, strict=True):
        if isinstance(r, Exception):
            by_message[m.external_id + "#"] = type(r).__name__
            continue
        by_message[m.external_id + ("#dup" if r.duplicate else "")] = (
            label[r.ticket_id], r.created, label.get(r.follow_up_of),
            s.get(Message, r.message_id).external_id)
    rows = []
    for tk in s.scalars(select(Ticket).where(Ticket.id.in_(names.values())).order_by(Ticket.id)):
        customer = s.get(Customer, tk.customer_id)
        rows.append((label[tk.id], tk.status, tk.subject, customer.name,
                     label.get(tk.follow_up_of_id), label.get(tk.merged_into_id),
                     tk.created_at.year, tk.last_customer_message_at is not None,
                     tk.updated_at >= tk.created_at))
    events = []
    for ev in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id.in_(names.values()))
                        .order_by(TicketEvent.id)):
        data = {k: v for k, v in ev.data.items() if k not in ("message_id", "follow_up_id",
                                                                 "follow_up_of", "into",
                                                                 "source")}
        events.append((ev.type, label[ev.ticket_id], ev.actor_kind, ev.actor_name.split("+")[0],
                       sorted(data.items(), key=str)))
    return by_message, rows, events


def one_by_one(batch):
    out = []
    for m in batch:
        try:
            out.append(ingest(m))
        except Exception as exc:  # noqa: BLE001 - compared with the batch's errors
            out.append(exc)
    return out


def test_batch_gives_the_results_of_one_by_one_ingest(app, recorder) -> None:
    expected = scenario("one", one_by_one)
    recorder.clear()
    got = scenario("batch", ingest_batch)
    assert got[0] == expected[0]
    assert got[1] == expected[1]
    assert got[2] == expected[2]
    by_message = got[0]
    assert by_message["<a2@mail>"][0] == "<a1@mail>"
    assert by_message["<n2@mail>"][0] == "<n1@mail>"  # threaded within the batch
    assert by_message["<c2@mail>"][1] and by_message["<c2@mail>"][2] == "<c1@mail>"
    assert by_message["<e2@mail>"][0] == "<a1@mail>"  # merged ticket forwards
    assert by_message["<h1@mail>"][0] == "<b1@mail>"
    assert by_message["<h2@mail>"][0] == "<h2@mail>"  # a stranger's hint opens a ticket
    assert by_message["<a2@mail>#dup"][3] == "<a2@mail>"
    assert by_message["<bad@mail>#"] == "ValidationError"


def test_batch_events_are_dispatched_after_commit_in_order(app, recorder) -> None:
    batch = [msg("x", "m1", "carla@example.org"),
             msg("x", "m2", "carla@example.org", thread_keys=("m1",))]
    results = ingest_batch(batch)
    assert recorder.types == ["ticket.created", "message.received", "message.received"]
    assert [e.data["message_id"] for e in recorder.events[1:]] == [r.message_id for r in results]
    assert all(e.id for e in recorder.events)
    assert [m.id for m in search_hits("m2")] == [results[0].ticket_id]


def search_hits(word: str):
    return list(db().scalars(select(Ticket).where(search.matching(f"text of {word}"))))


def test_hint_to_a_ticket_opened_in_the_same_batch(app) -> None:
    next_id = (db().scalar(select(func.max(Ticket.id))) or 0) + 1
    results = ingest_batch([
        msg("x", "m1", "carla@example.org"),
        msg("x", "m2", "carla@example.org", ticket_hint=next_id),
    ])
    assert results[0].ticket_id == next_id and results[1].ticket_id == next_id


def test_failing_batch_is_redone_one_by_one_and_finish_is_atomic(app, recorder) -> None:
    seen = []

    def finish(pairs):
        seen.append([i for i, _r in pairs])
        if 1 in [i for i, _r in pairs]:
            raise RuntimeError("cursor store is down")

    results = ingest_batch([msg("x", f"m{n}", "carla@example.org") for n in range(3)],
                           finish=finish)
    assert seen == [[0, 1, 2], [0], [1], [2]]
    assert isinstance(results[1], RuntimeError)
    assert not isinstance(results[0], Exception) and not isinstance(results[2], Exception)
    assert db().scalar(select(func.count()).select_from(Message)) == 2
    assert recorder.types.count("message.received") == 2


def test_stale_session_objects_are_refreshed(app) -> None:
    first = ingest(msg("x", "m1", "carla@example.org"))
    tickets.update_ticket(first.ticket_id, actor=SYSTEM, changes=TicketChanges(
        status="pending"))
    with transaction():
        ticket = db().get(Ticket, first.ticket_id)
        assert ticket.status == "pending"
        ingest_batch([msg("x", "m2", "carla@example.org", thread_keys=("m1",))])
        assert ticket.status == "open"
    assert db().scalar(select(func.count()).select_from(Attachment)) == 0


def test_refused_message_stores_nothing(app) -> None:
    results = ingest_batch([msg("x", "m1", "carla@example.org", text="", html=None)])
    assert isinstance(results[0], ValidationError)
    assert db().scalar(select(func.count()).select_from(Message)) == 0


def _files() -> set[str]:
    import os

    root = get_state().storage.root
    return {os.path.relpath(os.path.join(d, f), root)
            for d, _dirs, names in os.walk(root) for f in names}


def test_files_of_a_rolled_back_batch_are_removed(app) -> None:
    def finish(pairs):
        if len(pairs) > 1:  # the batch fails; each message alone succeeds
            raise RuntimeError("cursor store is down")

    attachment = (InboundAttachment("dot.png", "image/png", PNG),)
    results = ingest_batch([msg("x", f"f{n}", "carla@example.org", attachments=attachment)
                            for n in range(6)], finish=finish)
    assert not any(isinstance(r, Exception) for r in results)
    keys = set(db().scalars(select(Attachment.storage_key)))
    assert len(keys) == 6 and _files() == keys  # the batch's six copies are gone
    assert all(get_state().storage.open(k) == PNG for k in keys)
