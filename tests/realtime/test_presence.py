"""Presence over real websockets: who views and who writes, permissions, floods."""

from __future__ import annotations

import time
import typing as t

import pytest
import socketio as socketio_client
from flask_socketio import SocketIO

from flask_helpdesk.extension import get_state
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import tickets
from tests.realtime.live import Agent
from tests.realtime.live import Served
from tests.realtime.live import session_cookie


@pytest.fixture
def app(app_factory: t.Any) -> t.Iterator[t.Any]:
    """The app of ``team``, with the host's SocketIO (threading mode)."""
    socketio = SocketIO(async_mode="threading")
    app = app_factory(socketio=socketio, config={"HELPDESK_PRESENCE_TTL": 2,
                                                  "HELPDESK_REALTIME_RATE_LIMIT": 20})
    socketio.init_app(app)
    with app.app_context():
        yield app


@pytest.fixture
def live(app: t.Any) -> t.Iterator[t.Any]:
    """``(app, connect)``: the app served on loopback; ``connect(agent)`` -> a client."""
    served = Served(app)
    app._served = [served]  # type: ignore[attr-defined]
    clients: list[Agent] = []

    def connect(agent: t.Any) -> Agent:
        client = Agent(served.url, session_cookie(app, agent.user_id))
        clients.append(client)
        return client

    yield app, connect
    for client in clients:
        try:
            client.close()
        except Exception:
            pass
    served.stop()


def _ticket(team: t.Any, group: t.Any) -> t.Any:
    return tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id, subject="Refund",
                                 text="Where is my money?", group_id=group.id)


def test_two_agents_see_each_other_viewing_and_replying(live: t.Any, team: t.Any) -> None:
    app, connect = live
    ticket = _ticket(team, team.support)
    anna, max_ = connect(team.anna), connect(team.manager)
    assert anna.call("view", {"ticket_id": ticket.id})["agents"] == [
        {"agent_id": team.anna.id, "name": "Anna Agent", "activity": "viewing"}]
    answer = max_.call("view", {"ticket_id": ticket.id})
    assert {a["name"] for a in answer["agents"]} == {"Anna Agent", "Max Manager"}
    anna.wait_for(lambda e, d: e == "presence" and len(d["agents"]) == 2)
    max_.call("activity", {"ticket_id": ticket.id, "activity": "replying"})
    seen = anna.wait_for(lambda e, d: e == "presence" and any(
        a["activity"] == "replying" for a in d["agents"]))
    assert seen["agents"][0] == {"agent_id": team.manager.id, "name": "Max Manager",
                                 "activity": "replying"}


def test_closed_tab_disappears_and_a_silent_one_expires(live: t.Any, team: t.Any) -> None:
    app, connect = live
    ticket = _ticket(team, team.support)
    anna, max_ = connect(team.anna), connect(team.manager)
    anna.call("view", {"ticket_id": ticket.id})
    max_.call("view", {"ticket_id": ticket.id})
    anna.wait_for(lambda e, d: e == "presence" and len(d["agents"]) == 2)
    max_.close()  # the tab closes
    anna.wait_for(lambda e, d: e == "presence" and [a["name"] for a in d["agents"]] == [
        "Anna Agent"], timeout=30)
    boris_like = connect(team.admin)
    boris_like.call("view", {"ticket_id": ticket.id})
    anna.wait_for(lambda e, d: e == "presence" and len(d["agents"]) == 2)
    started = time.monotonic()
    # Keep Anna beating, the admin's tab goes silent (as after a network drop).
    deadline = started + 6
    while time.monotonic() < deadline:
        anna.call("heartbeat")
        if [a["name"] for a in anna.presence_of(ticket.id)] == ["Anna Agent"]:
            break
        time.sleep(0.5)
    assert [a["name"] for a in anna.presence_of(ticket.id)] == ["Anna Agent"]
    assert time.monotonic() - started < 10


def test_presence_survives_a_reconnect(live: t.Any, team: t.Any) -> None:
    app, connect = live
    ticket = _ticket(team, team.support)
    anna = connect(team.anna)
    anna.call("view", {"ticket_id": ticket.id})
    anna.close()
    again = connect(team.anna)
    assert again.call("view", {"ticket_id": ticket.id})["agents"] == [
        {"agent_id": team.anna.id, "name": "Anna Agent", "activity": "viewing"}]


def test_inbox_rows_get_presence_of_visible_tickets_only(live: t.Any, team: t.Any) -> None:
    app, connect = live
    mine, theirs = _ticket(team, team.support), _ticket(team, team.billing)
    boris, anna = connect(team.boris), connect(team.anna)
    boris.call("view", {"ticket_id": theirs.id})
    manager = connect(team.manager)
    manager.call("view", {"ticket_id": mine.id})
    anna.wait_for(lambda e, d: e == "presence" and d["ticket_id"] == mine.id)
    answer = anna.call("presence", {"ticket_ids": [mine.id, theirs.id]})
    assert list(answer["presence"]) == [str(mine.id)]
    time.sleep(0.2)
    assert all(d["ticket_id"] != theirs.id for e, d in anna.received if e == "presence")


def test_a_socket_without_a_session_is_refused(live: t.Any, team: t.Any) -> None:
    app, connect = live
    with pytest.raises(socketio_client.exceptions.ConnectionError):
        Agent(_url(app), None)
    with pytest.raises(socketio_client.exceptions.ConnectionError):
        Agent(_url(app), session_cookie(app, "999"))  # a host user who is not an agent


def _url(app: t.Any) -> str:
    for served in [obj for obj in getattr(app, "_served", [])]:
        return served.url
    raise AssertionError("unreachable")


def test_forged_events_are_refused_and_floods_limited(live: t.Any, team: t.Any) -> None:
    app, connect = live
    theirs = _ticket(team, team.billing)
    anna = connect(team.anna)
    refused = anna.call("view", {"ticket_id": theirs.id})
    assert refused["ok"] is False and refused["error"] == "permission_denied"
    assert anna.call("activity", {"ticket_id": theirs.id, "activity": "replying"})["error"] == (
        "not_viewing")
    assert anna.call("view", {"ticket_id": "1; DROP TABLE"})["error"] == "validation_error"
    assert anna.call("view", ["x"] * 10_000)["error"] == "invalid"
    assert anna.call("presence", {"ticket_ids": list(range(1000))})["error"] == (
        "validation_error")
    assert get_state(app).presence.on_ticket(theirs.id) == []
    answers = [anna.call("heartbeat") for _ in range(40)]
    assert {"ok": False, "error": "rate_limited"} in answers
    time.sleep(1.1)
    assert anna.call("heartbeat") == {"ok": True}  # the connection survived


def test_a_new_customer_message_reaches_the_open_ticket(
        live: t.Any, team: t.Any) -> None:
    from flask_helpdesk.channels import Identity
    from flask_helpdesk.channels import InboundMessage
    from flask_helpdesk.services.inbound import ingest

    app, connect = live
    ticket = _ticket(team, team.support)
    anna = connect(team.anna)
    anna.call("view", {"ticket_id": ticket.id})
    ingest(InboundMessage(channel="web", external_id="later-1", ticket_hint=ticket.id,
                          sender=Identity("email", "carla@example.org"), text="Any news?"))
    # How fast: benchmarks/presence.py (inbound p95); here only that it arrives.
    event = anna.wait_for(lambda e, d: e == "ticket_event" and d["type"] == "message.received",
                          timeout=30.0)
    assert event["ticket_id"] == ticket.id


def test_heartbeats_between_checks_touch_no_database(live: t.Any, team: t.Any) -> None:
    import sqlalchemy as sa

    app, connect = live
    ticket = _ticket(team, team.support)
    anna = connect(team.anna)
    anna.call("view", {"ticket_id": ticket.id})
    statements: list[str] = []
    engine = get_state(app).db.engines[None]
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        for _ in range(5):
            assert anna.call("heartbeat") == {"ok": True}
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    assert statements == []  # 500 tabs beat 150 times a second: Redis only
    entry = get_state(app).presence.on_ticket(ticket.id)[0]
    assert entry.expires > time.time() + 1  # the heartbeat pushed the expiry (TTL 2 s)


def test_a_heartbeat_after_the_recheck_time_drops_a_ticket_no_longer_visible(
        live: t.Any, team: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from flask_helpdesk import realtime
    from flask_helpdesk.services import TicketChanges

    app, connect = live
    monkeypatch.setattr(realtime, "RECHECK_EVERY", 0.3)
    ticket = _ticket(team, team.support)
    anna, max_ = connect(team.anna), connect(team.manager)
    anna.call("view", {"ticket_id": ticket.id})
    max_.call("view", {"ticket_id": ticket.id})
    tickets.update_ticket(ticket.id, actor=SYSTEM, changes=TicketChanges(
        group_id=team.billing.id))  # Anna is not in Billing; Max is
    time.sleep(0.4)
    # Max beats too: on a busy machine the 2 s TTL would otherwise end his
    # presence as well, and the list would be empty rather than his alone.
    assert max_.call("heartbeat") == {"ok": True}
    assert anna.call("heartbeat") == {"ok": True}
    max_.wait_for(lambda e, d: e == "presence" and [a["name"] for a in d["agents"]] == [
        "Max Manager"], timeout=30)
