"""Delivery of replies by real dramatiq workers: retries, failures, the sweeper."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import typing as t

import pytest
from flask import Flask
from sqlalchemy import update

from flask_helpdesk import DeliveryError
from flask_helpdesk import Identity
from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Message
from flask_helpdesk.models import utcnow
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import customers
from flask_helpdesk.services import messages
from flask_helpdesk.services import outbox
from flask_helpdesk.services import tickets
from flask_helpdesk.testing import EventRecorder
from tests.tasks.helpers import BROKERS
from tests.tasks.helpers import JOB_CONFIG
from tests.tasks.helpers import ChannelPlugin
from tests.tasks.helpers import Workers


def _reply(team: t.Any, text: str = "It ships tomorrow.") -> Message:
    ticket = tickets.create_ticket(
        actor=team.anna, customer_id=team.customer.id, subject="Where is my order?",
        text="It has been a week.", channel="test", group_id=team.support.id)
    return messages.reply(ticket.id, actor=team.anna, text=text)


def _row(message_id: int) -> Message:
    s = get_state().db.session
    s.rollback()
    row = s.get(Message, message_id, populate_existing=True)
    assert row is not None
    return row


def _state_is(message_id: int, state: str) -> t.Callable[[], bool]:
    return lambda: _row(message_id).delivery_state == state


def _failures(recorder: EventRecorder, message_id: int) -> list[t.Mapping[str, t.Any]]:
    return [e.data for e in recorder.events
            if e.type == "message.delivery_failed" and e.data["message_id"] == message_id]


@pytest.mark.parametrize("broker_url", BROKERS, indirect=True)
def test_reply_is_delivered_by_a_worker(
    team: t.Any, channel: ChannelPlugin, recorder: EventRecorder, workers: Workers,
) -> None:
    workers.start()
    message = _reply(team)
    workers.drain(_state_is(message.id, "sent"))
    row = _row(message.id)
    assert (row.attempts, row.last_error, row.next_attempt_at) == (1, None, None)
    assert row.sent_at is not None and row.external_id == f"<out-{message.id}@test>"
    [sent] = channel.sent
    assert (sent.id, sent.text, sent.attempt) == (message.id, "It ships tomorrow.", 1)
    assert sent.recipient == Identity("email", "carla@example.org")
    assert sent.idempotency_key == f"helpdesk-message-{message.id}"
    delivered = [e for e in recorder.events if e.type == "message.delivered"]
    assert [e.data["message_id"] for e in delivered] == [message.id]


@pytest.mark.parametrize("broker_url", BROKERS, indirect=True)
def test_transient_failures_retry_with_backoff_then_succeed(
    team: t.Any, channel: ChannelPlugin, recorder: EventRecorder, workers: Workers,
) -> None:
    channel.failures = [DeliveryError("mailbox busy"), ConnectionResetError("peer reset")]
    workers.start()
    message = _reply(team)
    workers.drain(_state_is(message.id, "sent"))
    row = _row(message.id)
    assert (row.attempts, row.last_error) == (3, None)
    assert [attempt for _, attempt in channel.calls] == [1, 2, 3]
    # Backoff 0.05 s doubled per attempt: the second retry waits at least 0.1 s.
    times = [at for at, _ in channel.calls]
    assert times[1] - times[0] >= 0.05 and times[2] - times[1] >= 0.1
    failures = _failures(recorder, message.id)
    assert [(f["attempts"], f["final"]) for f in failures] == [(1, False), (2, False)]
    assert failures[0]["error"] == "mailbox busy"
    assert failures[1]["error"] == "ConnectionResetError: peer reset"


@pytest.mark.parametrize("job_config", [{"HELPDESK_DELIVERY_BACKOFF": 3600}], indirect=True)
def test_failed_attempt_is_visible_with_its_next_attempt(
    team: t.Any, channel: ChannelPlugin, workers: Workers,
) -> None:
    channel.failures = [DeliveryError("mailbox busy")]
    workers.start()
    before = utcnow()
    message = _reply(team)
    workers.wait_for(lambda: _row(message.id).attempts == 1
                     and _row(message.id).delivery_state == "queued")
    row = _row(message.id)
    assert (row.delivery_state, row.attempts, row.last_error) == ("queued", 1, "mailbox busy")
    assert row.next_attempt_at is not None
    wait = row.next_attempt_at - before
    assert dt.timedelta(minutes=59) < wait <= dt.timedelta(hours=1, seconds=5)
    assert outbox.sweep() == []  # not due yet


@pytest.mark.parametrize("broker_url", BROKERS, indirect=True)
def test_permanent_failure_is_not_retried(
    team: t.Any, channel: ChannelPlugin, recorder: EventRecorder, workers: Workers,
) -> None:
    channel.failures = [DeliveryError("no such user", permanent=True)]
    workers.start()
    message = _reply(team)
    workers.drain(_state_is(message.id, "failed"))
    row = _row(message.id)
    assert (row.attempts, row.last_error, row.next_attempt_at) == (1, "no such user", None)
    assert channel.sent == [] and len(channel.calls) == 1
    assert [(f["attempts"], f["final"]) for f in _failures(recorder, message.id)] == [(1, True)]


@pytest.mark.parametrize("broker_url", BROKERS, indirect=True)
def test_max_attempts_marks_failed_and_an_agent_can_retry(
    team: t.Any, channel: ChannelPlugin, recorder: EventRecorder, workers: Workers,
) -> None:
    channel.always_fail = DeliveryError("server down")
    workers.start()
    message = _reply(team)
    workers.drain(_state_is(message.id, "failed"))
    row = _row(message.id)
    assert (row.attempts, row.last_error) == (3, "server down")
    assert [(f["attempts"], f["final"]) for f in _failures(recorder, message.id)] == [
        (1, False), (2, False), (3, True)]
    assert len(channel.calls) == 3

    channel.always_fail = None
    outbox.retry(message.id, actor=team.anna)
    workers.drain(_state_is(message.id, "sent"))
    assert [m.id for m in channel.sent] == [message.id]
    assert _row(message.id).attempts == 1


@pytest.mark.parametrize("broker_url", BROKERS, indirect=True)
def test_sweeper_delivers_a_reply_whose_broker_message_was_lost(
    team: t.Any, channel: ChannelPlugin, workers: Workers,
) -> None:
    jobs = get_state().jobs
    message = _reply(team)  # no worker yet: its job waits in the broker
    jobs.broker.flush_all()  # ... and the broker loses it
    workers.start()
    workers.join()
    assert _row(message.id).delivery_state == "queued" and channel.sent == []

    jobs.send("sweep_outbox")
    workers.drain(_state_is(message.id, "sent"))
    assert [m.id for m in channel.sent] == [message.id]


def test_a_broker_that_is_down_leaves_the_reply_queued_and_the_log_says_until_when(
    app_factory: t.Callable[..., Flask], channel: ChannelPlugin,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on port 1: every send to this Redis is refused.
    app = app_factory(config={**JOB_CONFIG, "HELPDESK_BROKER_URL": "redis://127.0.0.1:1/0",
                              "HELPDESK_SWEEP_INTERVAL": 45}, plugins=[channel])
    with app.app_context(), caplog.at_level(logging.WARNING, "flask_helpdesk.outbox"):
        customer = customers.create_customer(
            actor=SYSTEM, name="Carla", identities=[("email", "carla@example.org")])
        ticket = tickets.create_ticket(actor=SYSTEM, customer_id=customer.id, channel="test",
                                       subject="Where is my order?", text="A week late.")
        reply = messages.reply(ticket.id, actor=SYSTEM, text="It ships tomorrow.")
        assert _row(reply.id).delivery_state == "queued"
    [record] = [r for r in caplog.records if r.name == "flask_helpdesk.outbox"]
    said = record.getMessage()
    assert said.startswith(f"could not enqueue the delivery of messages [{reply.id}] (")
    assert said.endswith("; they stay queued and the sweeper sends them within 45 seconds of"
                         " the job queue being reachable again (HELPDESK_SWEEP_INTERVAL)")
    assert record.exc_info is None  # one line, no traceback


def test_sweeper_takes_over_a_reply_whose_worker_died_mid_delivery(
    team: t.Any, channel: ChannelPlugin, workers: Workers,
) -> None:
    state = get_state()
    message = _reply(team)
    state.jobs.broker.flush_all()
    # What a worker killed during the channel call leaves behind: a claimed row.
    lease_end = utcnow() + dt.timedelta(seconds=state.config.delivery_lease)
    s = state.db.session
    s.execute(update(Message).where(Message.id == message.id)
              .values(delivery_state="sending", attempts=1, next_attempt_at=lease_end))
    s.commit()
    workers.start()
    state.jobs.send("sweep_outbox")
    workers.join()
    assert _row(message.id).delivery_state == "sending" and channel.sent == []  # lease holds

    s.execute(update(Message).where(Message.id == message.id)
              .values(next_attempt_at=utcnow() - dt.timedelta(seconds=1)))  # lease ran out
    s.commit()
    state.jobs.send("sweep_outbox")
    workers.drain(_state_is(message.id, "sent"))
    assert _row(message.id).attempts == 2 and len(channel.sent) == 1


def test_concurrent_deliveries_of_one_reply_send_it_once(
    team: t.Any, channel: ChannelPlugin,
) -> None:
    """Pure unit test of the job body: two workers race for the same row."""
    message = _reply(team)
    app = get_state().app
    barrier = threading.Barrier(2)
    results: list[str | None] = []

    def run() -> None:
        with app.app_context():
            barrier.wait()
            results.append(outbox.deliver(message.id))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [None, "sent"]
    assert len(channel.sent) == 1
    assert outbox.deliver(message.id) is None  # a sent row is left alone


def _queued_jobs() -> list[tuple[str, tuple[t.Any, ...]]]:
    """(job name, args) of what waits in the stub broker's queue, in order."""
    import dramatiq

    from flask_helpdesk.tasks import QUEUE

    queue = get_state().jobs.broker.queues[QUEUE]
    return [(m.actor_name.removeprefix("helpdesk."), tuple(m.args))
            for m in (dramatiq.Message.decode(raw) for raw in list(queue.queue))]


@pytest.mark.parametrize("job_config", [{"HELPDESK_DELIVERY_BATCH_SIZE": 3}], indirect=True)
def test_many_queued_replies_go_out_in_batches_and_one_failure_stops_none(
    team: t.Any, channel: ChannelPlugin, recorder: EventRecorder, workers: Workers,
) -> None:
    jobs = get_state().jobs
    replies = [_reply(team, f"Answer {i}").id for i in range(7)]
    jobs.broker.flush_all()  # their single jobs are lost: the sweeper finds the seven
    assert outbox.sweep() == replies
    assert _queued_jobs() == [("deliver_messages", (replies[0:3],)),
                              ("deliver_messages", (replies[3:6],)),
                              ("deliver_message", (replies[6],))]

    channel.fail_for = {replies[0]: DeliveryError("no such user", permanent=True)}
    workers.start()
    workers.drain(lambda: all(_row(i).delivery_state in ("sent", "failed") for i in replies))
    assert [_row(i).delivery_state for i in replies] == ["failed"] + ["sent"] * 6
    assert sorted(m.id for m in channel.sent) == replies[1:]
    assert [f["message_id"] for f in _failures(recorder, replies[0])] == [replies[0]]


@pytest.mark.parametrize("job_config", [{"HELPDESK_DELIVERY_LEASE": 1}], indirect=True)
def test_a_slow_batch_hands_the_rest_to_a_new_job_before_its_time_limit(
    team: t.Any, channel: ChannelPlugin, workers: Workers,
) -> None:
    replies = [_reply(team, f"Answer {i}").id for i in range(4)]
    get_state().jobs.broker.flush_all()
    channel.delay = 0.3
    done = outbox.deliver_many(replies)  # lease 1 s: after 0.5 s the rest moves on
    assert list(done) == replies[:2] and set(done.values()) == {"sent"}
    assert _queued_jobs() == [("deliver_messages", (replies[2:],))]
    workers.start()
    workers.drain(lambda: all(_row(i).delivery_state == "sent" for i in replies))
    assert sorted(m.id for m in channel.sent) == replies
