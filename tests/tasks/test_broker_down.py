"""A broker that is down in the web process: the reply is kept, the delay is shown,
one warning line is logged, and the sweeper delivers it once jobs run again."""

from __future__ import annotations

import logging
import typing as t

import pytest
from flask import Flask

from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Message
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import outbox
from flask_helpdesk.services import tickets
from flask_helpdesk.testing import make_app
from tests.tasks.helpers import JOB_CONFIG
from tests.tasks.helpers import ChannelPlugin
from tests.tasks.helpers import Workers

#: A real Redis URL on a loopback port where nothing listens.
CLOSED_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def app(
    app_factory: t.Callable[..., Flask], recorder: t.Any, channel: ChannelPlugin,
) -> t.Iterator[Flask]:
    app = app_factory(config={**JOB_CONFIG, "HELPDESK_BROKER_URL": CLOSED_REDIS},
                      plugins=[channel, recorder])
    with app.app_context():
        yield app


def test_reply_while_redis_is_down_is_kept_shown_as_delayed_and_swept_later(
    app: Flask, team: t.Any, channel: ChannelPlugin, database_uri: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticket = tickets.create_ticket(actor=team.anna, customer_id=team.customer.id,
                                   subject="Where is my order?", text="A week now.",
                                   channel="test", group_id=team.support.id)
    _token, secret = agents.create_token(actor=SYSTEM, agent_id=team.anna.id, name="t")
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        response = client.post(f"/helpdesk/api/v1/tickets/{ticket.id}/reply",
                               json={"text": "It ships tomorrow."},
                               headers={"Authorization": f"Bearer {secret}",
                                        "Accept-Language": "en"})
    assert response.status_code == 201, response.json
    delivery = response.json["delivery"]
    assert delivery["state"] == "queued"
    assert delivery["last_error"] == ("The job queue cannot be reached: the reply is kept and"
                                      " goes out when it is back.")
    [record] = [r for r in caplog.records if r.name.startswith("flask_helpdesk")]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert f"could not enqueue the delivery of messages [{response.json['id']}]" in \
        record.getMessage()
    assert "the sweeper sends them within" in record.getMessage()
    assert "ConnectionError" in record.getMessage()

    # The broker is back (here: another process of the same site with a broker
    # that works): its sweeper finds the reply due and delivers it.
    get_state(app).db.session.remove()
    worker_app = make_app(database_uri=database_uri, plugins=[channel],
                          config={**JOB_CONFIG, "HELPDESK_BROKER_URL": "stub"})
    workers = Workers(worker_app)
    try:
        with worker_app.app_context():
            workers.start()
            assert outbox.sweep() == [response.json["id"]]
            workers.join()
            row = get_state(worker_app).db.session.get(Message, response.json["id"])
            assert row is not None
            assert (row.delivery_state, row.last_error) == ("sent", None)
    finally:
        workers.stop()
        get_state(worker_app).jobs.stop()
        with worker_app.app_context():
            get_state(worker_app).db.session.remove()
            for engine in get_state(worker_app).db.engines.values():
                engine.dispose()
    assert [m.text for m in channel.sent] == ["It ships tomorrow."]
