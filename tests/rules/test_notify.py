"""The rules' notify action tells agents: a notification each, live in their tabs, by email."""

from __future__ import annotations

import typing as t

import pytest
from flask import request
from flask_socketio import SocketIO
from flask_socketio import join_room
from sqlalchemy import func
from sqlalchemy import select

from flask_helpdesk import ValidationError
from flask_helpdesk import hookimpl
from flask_helpdesk.extension import get_state
from flask_helpdesk.models import AgentNotification
from flask_helpdesk.realtime import NAMESPACE
from flask_helpdesk.realtime import agent_room
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import automation
from flask_helpdesk.services import bulk
from flask_helpdesk.services import notifications
from flask_helpdesk.services import tickets
from tests.rules.helpers import age
from tests.rules.helpers import rule
from tests.rules.helpers import ticket
from tests.tasks.helpers import Workers


@pytest.fixture
def socketio() -> SocketIO:
    return SocketIO(async_mode="threading")


@pytest.fixture
def app(app_factory, socketio, recorder):
    """The app of ``team`` with the host's SocketIO; test clients join the room they name."""
    app = app_factory(socketio=socketio, plugins=[recorder])
    socketio.init_app(app)

    @socketio.on("connect", namespace=NAMESPACE)
    def connect(auth=None) -> None:
        join_room(request.args["room"], namespace=NAMESPACE)

    with app.app_context():
        yield app


def _tab(app, socketio, agent) -> t.Any:
    """An open workspace tab of ``agent`` (in the room ``agent:<id>``)."""
    return socketio.test_client(app, namespace=NAMESPACE,
                                query_string=f"room={agent_room(agent.id)}")


def _notified(ticket_id: int) -> list[t.Any]:
    return [e for e in tickets.list_events(ticket_id, actor=SYSTEM) if e.type == "rule.notified"]


def _mine(agent) -> list[tuple[int, str]]:
    return [(n.ticket_id, n.message) for n in notifications.list_notifications(actor=agent)]


def _on_created(**action: t.Any) -> t.Any:
    return rule(name="tell", enabled=True, when={"type": "event", "on": "ticket.created"},
                actions=[{"type": "notify", **action}])


def test_event_rule_notifies_the_assignee_in_their_tabs(app, socketio, team) -> None:
    _on_created(message="{{ customer.name }} wrote #{{ ticket.id }} for {{ agent.name }}")
    anna_tab, boris_tab = _tab(app, socketio, team.anna), _tab(app, socketio, team.boris)
    tk = ticket(team, group_id=team.support.id, assignee_id=team.anna.id)
    text = f"Carla Customer wrote #{tk.id} for Anna Agent"
    assert _mine(team.anna) == [(tk.id, text)]
    assert _mine(team.manager) == []  # in the group, but the ticket has an assignee
    [event] = _notified(tk.id)
    [row] = notifications.list_notifications(actor=team.anna)
    assert event.actor_name == "Rule: tell"
    assert event.data == {"message": text, "to": "assignee", "email": True,
                          "recipients": [team.anna.id], "notification_ids": [row.id]}
    assert row.actor_name == "Rule: tell" and row.email_state == "queued"
    told = [m for m in anna_tab.get_received(NAMESPACE) if m["name"] == "notification"]
    assert [m["args"][0] for m in told] == [
        {"unread": 1, "count": 1, "ticket_id": tk.id, "message": text}]
    assert boris_tab.get_received(NAMESPACE) == []
    assert notifications.unread_count(actor=team.anna) == 1


def test_unassigned_ticket_notifies_its_group(team) -> None:
    _on_created(message="New in support")
    tk = ticket(team, group_id=team.support.id)
    [event] = _notified(tk.id)
    assert event.data["recipients"] == sorted([team.manager.id, team.anna.id])
    assert _mine(team.anna) == _mine(team.manager) == [(tk.id, "New in support")]
    assert _mine(team.boris) == _mine(team.admin) == []
    lonely = ticket(team)  # no group, nobody assigned: nobody to tell
    assert _notified(lonely.id)[0].data["recipients"] == []


def test_agents_who_cannot_see_the_ticket_are_skipped(team) -> None:
    _on_created(message="Look", to="agents",
                agent_ids=[team.anna.id, team.boris.id, team.admin.id])
    tk = ticket(team, group_id=team.support.id)
    # Boris works in billing: he cannot open a support ticket, so he is not told.
    assert _notified(tk.id)[0].data["recipients"] == sorted([team.admin.id, team.anna.id])
    assert _mine(team.boris) == []
    rule(name="group", enabled=True, when={"type": "event", "on": "ticket.created"},
         actions=[{"type": "notify", "message": "Billing!", "to": "group", "email": False}])
    billing = ticket(team, group_id=team.billing.id, assignee_id=team.boris.id)
    [row] = [n for n in notifications.list_notifications(actor=team.boris)
             if n.ticket_id == billing.id and n.message == "Billing!"]
    assert row.email_state is None  # the rule asked for no email


def test_validation_refuses_bad_agents_and_shapes(team) -> None:
    loose = agents.create_agent(actor=SYSTEM, name="Lou Leaver", email="lou@example.com",
                                user_id="9")
    agents.update_agent(loose.id, actor=SYSTEM, active=False)
    bad = [
        ({"to": "agents", "agent_ids": [999]}, "Agent 999 does not exist"),
        ({"to": "agents", "agent_ids": [loose.id]}, "Lou Leaver is deactivated"),
        ({"to": "agents", "agent_ids": []}, "at least one agent"),
        ({"to": "assignee", "agent_ids": [team.anna.id]}, "only when"),
        ({"to": "everyone"}, "to must be one of"),
        ({"email": "yes"}, "email must be true or false"),
        ({"message": "Hi {nobody}"}, "Unknown placeholder {nobody}"),
        ({"cc": "x"}, "does not take cc"),
    ]
    for extra, error in bad:
        action = {"type": "notify", "message": "Hi", **extra}
        with pytest.raises(ValidationError, match=error) as caught:
            rule(actions=[{"type": "raise_priority"}, action])
        assert caught.value.details["index"] == 1
    # A rule saved before the notify action chose whom keeps working: the assignee.
    old = rule(actions=[{"type": "notify", "message": "a note"}])
    assert old.actions == [{"type": "notify", "message": "a note", "to": "assignee",
                            "email": True}]
    chosen = rule(name="chosen", actions=[{"type": "notify", "message": "x", "to": "agents",
                            "agent_ids": [team.anna.id, team.anna.id, team.admin.id]}])
    assert chosen.actions[0]["agent_ids"] == sorted([team.anna.id, team.admin.id])


def test_time_rule_notifies_a_batch_with_one_insert(app, socketio, team) -> None:
    made = rule(name="stale", enabled=True, when={"type": "time", "since": "updated",
                                                  "minutes": 60},
                actions=[{"type": "raise_priority"},
                         {"type": "notify", "message": "#{{ ticket.id }} waits", "to": "group"}])
    assert bulk.supports(automation.Spec.of(made))
    stale = [ticket(team, subject=f"Old {i}", group_id=team.support.id) for i in range(30)]
    for tk in stale:
        age(tk.id, hours=2)
    anna_tab = _tab(app, socketio, team.anna)
    workers = Workers(app)
    workers.start()
    try:
        assert automation.tick() == 30
        workers.join()
    finally:
        assert workers.worker is not None
        workers.worker.stop()
    s = get_state().db.session
    s.rollback()
    assert s.scalar(select(func.count()).select_from(AgentNotification)) == 60
    assert sorted(_mine(team.anna)) == sorted((tk.id, f"#{tk.id} waits") for tk in stale)
    assert len(_mine(team.manager)) == 30
    for tk in stale:
        [event] = _notified(tk.id)
        assert event.data["recipients"] == sorted([team.manager.id, team.anna.id])
        assert len(event.data["notification_ids"]) == 2
    # One message per agent for the whole batch, with the new unread count.
    told = [m["args"][0] for m in anna_tab.get_received(NAMESPACE)
            if m["name"] == "notification"]
    assert [(m["unread"], m["count"]) for m in told] == [(30, 30)]


class _Mailer:
    """Stands for a plugin that mails agents (the email channel's tests use real SMTP)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, t.Any]] = []

    @hookimpl
    def helpdesk_notify_agent_email(self, agent, notification):
        self.sent.append((agent.email, notification))
        return True


def test_the_email_job_runs_after_commit_and_calls_the_hook(app, team) -> None:
    mailer = _Mailer()
    get_state().pm.register(mailer, name="mailer")
    _on_created(message="For {{ agent.name }}")
    workers = Workers(app)
    workers.start()
    try:
        tk = ticket(team, subject="Printer", group_id=team.support.id,
                    assignee_id=team.anna.id)
        workers.drain(lambda: bool(mailer.sent))
    finally:
        assert workers.worker is not None
        workers.worker.stop()
    [(address, notice)] = mailer.sent
    assert address == "anna@example.com"
    assert (notice.ticket_id, notice.ticket_subject, notice.message, notice.actor_name,
            notice.ticket_url) == (tk.id, "Printer", "For Anna Agent", "Rule: tell", None)
    [row] = notifications.list_notifications(actor=team.anna)
    assert row.email_state == "sent" and row.emailed_at is not None
    assert notifications.send_emails([row.id]) == {}  # a retry mails nothing twice


def test_without_a_mailer_or_an_address_the_notice_stays_in_the_workspace(team) -> None:
    agents.update_agent(team.manager.id, actor=SYSTEM, email=None)
    _on_created(message="Hello")
    tk = ticket(team, group_id=team.support.id)
    ids = _notified(tk.id)[0].data["notification_ids"]
    rows = {n.agent_id: n for n in get_state().db.session.scalars(select(AgentNotification))}
    # Without an address the notice was never queued for mail.
    assert rows[team.manager.id].email_state == "skipped"
    assert notifications.send_emails(ids) == {rows[team.anna.id].id: "skipped"}
    assert rows[team.manager.id].email_error == "The agent has no email address."
    assert rows[team.anna.id].email_error == "No installed plugin sends email to agents."
    assert rows[team.anna.id].emailed_at is None
    assert notifications.send_emails(ids) == {}  # handled once
