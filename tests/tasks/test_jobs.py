"""The jobs machinery: embedded worker, restarts, plugin jobs, app context, brokers."""

from __future__ import annotations

import threading
import time
import typing as t

import pytest
from flask import current_app

from flask_helpdesk import hookimpl
from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Message
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import messages
from flask_helpdesk.services import tickets
from flask_helpdesk.tasks import make_broker
from flask_helpdesk.testing import make_app
from tests.tasks.helpers import ChannelPlugin
from tests.tasks.helpers import Workers


def _ticket(team: t.Any) -> t.Any:
    return tickets.create_ticket(
        actor=team.anna, customer_id=team.customer.id, subject="Refund", text="Please.",
        channel="test", group_id=team.support.id)


def _wait_state(app: t.Any, message_id: int, state: str, timeout: float = 10) -> None:
    s = get_state(app).db.session
    deadline = time.monotonic() + timeout
    while True:
        s.rollback()
        if s.get(Message, message_id, populate_existing=True).delivery_state == state:
            return
        assert time.monotonic() < deadline, f"message {message_id} never became {state}"
        time.sleep(0.02)


@pytest.mark.parametrize("broker_url", ["embedded"], indirect=True)
@pytest.mark.parametrize("job_config", [{"HELPDESK_SWEEP_INTERVAL": 0.2}], indirect=True)
def test_embedded_worker_starts_on_first_send_and_stops_cleanly(
    app: t.Any, team: t.Any, channel: ChannelPlugin,
) -> None:
    jobs = get_state().jobs
    before = set(threading.enumerate())
    assert jobs.worker is None  # nothing started at init_app
    reply = messages.reply(_ticket(team).id, actor=team.anna, text="Refunded.")
    _wait_state(app, reply.id, "sent")
    assert jobs.worker is not None and jobs.sweeper is not None
    assert [m.id for m in channel.sent] == [reply.id]
    started = set(threading.enumerate()) - before
    assert started and all(th.is_alive() for th in started)

    jobs.stop()
    assert jobs.worker is None and jobs.sweeper is None
    assert not [th for th in started if th.is_alive()]
    jobs.stop()  # idempotent


def test_embedded_restart_delivers_what_the_dead_process_left_queued(
    app: t.Any, team: t.Any, channel: ChannelPlugin, database_uri: str, tmp_path: t.Any,
) -> None:
    """The in-memory broker loses messages on a restart; the database does not."""
    reply_id = messages.reply(_ticket(team).id, actor=team.anna, text="On its way.").id
    get_state().jobs.stop()  # the process dies: its broker message is gone
    restarted = make_app(database_uri=database_uri, plugins=[channel], config={
        "HELPDESK_BROKER_URL": "embedded", "HELPDESK_SWEEP_INTERVAL": 30,
        "HELPDESK_ATTACHMENT_DIR": str(tmp_path / "attachments")})
    try:
        assert get_state(restarted).jobs.worker is None
        restarted.test_client().get("/")  # the first request starts the worker and a sweep
        with restarted.app_context():
            _wait_state(restarted, reply_id, "sent")
        assert [m.id for m in channel.sent] == [reply_id]
    finally:
        get_state(restarted).jobs.stop()
        with restarted.app_context():
            get_state(restarted).db.session.remove()
            get_state(restarted).db.engine.dispose()


class TaggingPlugin:
    """A plugin with its own job, declared from ``helpdesk_startup``."""

    def __init__(self) -> None:
        self.apps: list[t.Any] = []

    @hookimpl
    def helpdesk_startup(self, helpdesk: t.Any) -> None:
        helpdesk.jobs.declare("tagging_tag_ticket", self.tag_ticket, max_retries=0)

    def tag_ticket(self, ticket_id: int, tag: str) -> None:
        self.apps.append(current_app._get_current_object())  # type: ignore[attr-defined]
        ticket = tickets.get_ticket(ticket_id, actor=SYSTEM)
        if tag not in [tg.name for tg in ticket.tags]:  # idempotent
            tickets.update_ticket(ticket_id, actor=SYSTEM, changes=TicketChanges(add_tags=[tag]))


@pytest.fixture
def tagging() -> TaggingPlugin:
    return TaggingPlugin()


@pytest.fixture
def app(
    app_factory: t.Any, recorder: t.Any, channel: ChannelPlugin, tagging: TaggingPlugin,
    broker_url: str, job_config: dict[str, t.Any],
) -> t.Iterator[t.Any]:
    config = {"HELPDESK_BROKER_URL": broker_url, **job_config}
    app = app_factory(config=config, plugins=[channel, recorder, tagging])
    with app.app_context():
        yield app


def test_plugin_job_runs_in_an_app_context_on_a_worker(
    app: t.Any, team: t.Any, tagging: TaggingPlugin, workers: Workers,
) -> None:
    ticket = _ticket(team)
    jobs = get_state().jobs
    assert jobs.actors["tagging_tag_ticket"].actor_name == "helpdesk.tagging_tag_ticket"
    workers.start()
    for _ in range(2):  # the second run finds the tag and changes nothing
        jobs.send("tagging_tag_ticket", ticket.id, "vip")
        workers.join()
    get_state().db.session.rollback()
    assert [tg.name for tg in tickets.get_ticket(ticket.id, actor=SYSTEM).tags] == ["vip"]
    assert tagging.apps == [app, app]


def test_job_names_are_unique_and_share_the_helpdesk_queue(app: t.Any) -> None:
    jobs = get_state().jobs
    with pytest.raises(RuntimeError, match="already declared"):
        jobs.declare("deliver_message", lambda message_id: None)
    with pytest.raises(RuntimeError, match="drop queue_name"):
        jobs.declare("x_other", lambda: None, queue_name="fast")
    with pytest.raises(RuntimeError, match="declare it with"):
        jobs.send("no_such_job")


def test_unknown_broker_url_names_the_choices() -> None:
    with pytest.raises(RuntimeError, match="redis:// URL or an amqp:// URL"):
        make_broker("kafka://localhost")


def test_delivery_is_time_limited_to_its_lease(app: t.Any) -> None:
    # A delivery outliving its lease could be claimed twice; the job stops first.
    lease = get_state().config.delivery_lease
    assert get_state().jobs.actors["deliver_message"].options["time_limit"] == lease * 1000


def test_periodic_jobs_run_in_the_embedded_worker(app_factory: t.Any) -> None:
    import threading

    from flask_helpdesk.extension import get_state

    calls: list[float] = []
    called = threading.Event()

    def heartbeat() -> None:
        calls.append(1)
        if len(calls) >= 3:
            called.set()

    app = app_factory(config={"HELPDESK_BROKER_URL": "embedded",
                              "HELPDESK_RULES_TICK_INTERVAL": 0})
    jobs = get_state(app).jobs
    jobs.declare("heartbeat", heartbeat, max_retries=0)
    jobs.every("heartbeat", 0.05)
    jobs.start()
    assert called.wait(10), f"the periodic job ran {len(calls)} times in 10 s"
    jobs.stop()


def test_periodic_jobs_must_be_declared_and_positive(app: t.Any) -> None:
    from flask_helpdesk.extension import get_state

    jobs = get_state().jobs
    with pytest.raises(RuntimeError, match="jobs.declare"):
        jobs.every("nothing_like_this", 1)
    jobs.declare("tidy", lambda: None)
    with pytest.raises(RuntimeError, match="positive"):
        jobs.every("tidy", 0)
