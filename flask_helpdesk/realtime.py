"""Realtime broadcast of committed events over Socket.IO.

Services never import Flask-SocketIO: the event pipeline hands events to the
app's :class:`Emitter`. With the host's ``SocketIO`` object the emitter uses
it; in a worker with :data:`HELPDESK_SOCKETIO_MESSAGE_QUEUE` set it uses a
write-only ``SocketIO(message_queue=...)``; otherwise events are not
broadcast. Room names: ``ticket:<id>`` and ``inbox:<group id>`` (``inbox:none``
for tickets without a group), and ``agent:<id>`` (every tab of one agent, for
their notifications), in the ``/helpdesk`` namespace.

One commit with many events (a rule run over thousands of tickets, a bulk
action) is broadcast as a batch: each inbox room gets ``tickets_changed``
messages listing its changed tickets, and ticket rooms get their
``ticket_event`` messages only for the tickets someone has open (by the
presence store, when it is shared with the web processes). Every message
through a message queue costs a publish, so a run over 8,000 tickets sends
tens of messages instead of tens of thousands.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from .events import Event
    from .presence import PresenceStore

#: The Socket.IO namespace of the helpdesk.
NAMESPACE = "/helpdesk"
#: More events than this in one commit are broadcast as a batch.
BATCH_OVER = 20
#: Ticket ids per ``tickets_changed`` message.
CHANGED_IDS_PER_MESSAGE = 1000


def ticket_room(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def inbox_room(group_id: int | None) -> str:
    return f"inbox:{group_id if group_id is not None else 'none'}"


def agent_room(agent_id: int) -> str:
    return f"agent:{agent_id}"


class Emitter:
    """Broadcasts events to Socket.IO rooms.

    :param socketio: A ``flask_socketio.SocketIO`` (the host's, or a write-only
        one on a message queue), or ``None`` to broadcast nothing.
    """

    def __init__(self, socketio: t.Any | None, presence: PresenceStore | None = None) -> None:
        self.socketio = socketio
        #: Who has which ticket open, if this store sees every web process's
        #: sockets (else ``None``: batches go to every ticket room).
        self.presence = presence

    @property
    def enabled(self) -> bool:
        return self.socketio is not None

    def emit_events(self, events: t.Sequence[Event]) -> None:
        """Send each event to its ticket room and its group's inbox room."""
        if self.socketio is None:
            return
        if len(events) > BATCH_OVER:
            self._emit_batch(events)
            return
        for event in events:
            payload = event.to_dict()
            rooms = [ticket_room(event.ticket_id), inbox_room(event.group_id)]
            self.socketio.emit("ticket_event", payload, to=rooms, namespace=NAMESPACE)

    def _emit_batch(self, events: t.Sequence[Event]) -> None:
        """``tickets_changed`` per inbox room; ``ticket_event`` where a ticket is open."""
        assert self.socketio is not None
        by_group: dict[int | None, dict[int, None]] = {}
        for event in events:
            by_group.setdefault(event.group_id, {})[event.ticket_id] = None
        for group_id, ticket_ids in by_group.items():
            ids = list(ticket_ids)
            for start in range(0, len(ids), CHANGED_IDS_PER_MESSAGE):
                self.socketio.emit("tickets_changed", {
                    "group_id": group_id,
                    "ticket_ids": ids[start:start + CHANGED_IDS_PER_MESSAGE]},
                    to=inbox_room(group_id), namespace=NAMESPACE)
        open_ = None
        if self.presence is not None:
            open_ = set(self.presence.on_tickets({e.ticket_id for e in events}))
        for event in events:
            if open_ is None or event.ticket_id in open_:
                self.socketio.emit("ticket_event", event.to_dict(),
                                   to=ticket_room(event.ticket_id), namespace=NAMESPACE)

    def emit_to_agent(self, agent_id: int, event: str, payload: dict[str, t.Any]) -> None:
        """Send ``event`` to every open tab of one agent (the room ``agent:<id>``)."""
        if self.socketio is not None:
            self.socketio.emit(event, payload, to=agent_room(agent_id), namespace=NAMESPACE)


def make_emitter(socketio: t.Any | None, message_queue: str | None, *,
                 channel: str = "flask-socketio") -> Emitter:
    """The emitter for an app: the host's SocketIO, or a write-only one.

    :param channel: The message queue's channel
        (:data:`HELPDESK_SOCKETIO_CHANNEL`), the same as the web processes'.
    """
    if socketio is None and message_queue:
        from flask_socketio import SocketIO

        socketio = SocketIO(message_queue=message_queue, channel=channel)
    return Emitter(socketio)


# ---------------------------------------------------------------- namespace
#
# Everything below runs inside Flask-SocketIO's handlers (a request context
# built from the socket's handshake, so Flask-Login's session is there). It
# is an adapter like a blueprint: parse, call services, emit.

logger = logging.getLogger("flask_helpdesk.realtime")

#: Seconds between two sweeps for presence that stopped beating.
SWEEP_EVERY = 2.0
#: Seconds a tab's heartbeats only refresh its presence in the store. After
#: that, the next heartbeat checks the agent and their permissions on each
#: ticket again (the database); in between, a heartbeat touches no database.
RECHECK_EVERY = 30.0


def register_namespace(socketio: t.Any) -> None:
    """Serve the ``/helpdesk`` namespace on the host's ``SocketIO`` (once)."""
    from flask_socketio import Namespace

    handlers = getattr(socketio, "namespace_handlers", [])
    if any(getattr(h, "namespace", None) == NAMESPACE for h in handlers):
        return

    class HelpdeskNamespace(_Handlers, Namespace):  # type: ignore[misc]
        pass

    socketio.on_namespace(HelpdeskNamespace(NAMESPACE))


class _Handlers:
    """The event handlers of ``/helpdesk``.

    Client events: ``view`` ``{"ticket_id"}``, ``activity`` ``{"ticket_id",
    "activity"}`` (viewing, replying, noting), ``leave`` ``{"ticket_id"}``,
    ``heartbeat`` (no data), ``presence`` ``{"ticket_ids": [...]}`` (answered
    through the acknowledgement). Server events: ``presence``
    ``{"ticket_id", "agents"}`` to the ticket's room and its group's inbox room,
    and ``ticket_event`` (see :class:`Emitter`).
    """

    socketio: t.Any

    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)  # type: ignore[call-arg]
        self._lock = threading.Lock()
        self._tabs: dict[str, dict[str, t.Any]] = {}  # sid -> agent, tickets, rate window
        self._sweeper: t.Any = None

    # -- connection

    def on_connect(self, auth: t.Any = None) -> None:
        from flask import current_app
        from flask import request
        from flask_socketio import ConnectionRefusedError
        from flask_socketio import join_room

        from .extension import current_agent_or_none
        from .services import agents

        agent = current_agent_or_none()
        if agent is None or not agent.active:
            logger.info("refused a socket without a helpdesk agent session")
            raise ConnectionRefusedError("unauthorized")
        sid = request.sid  # type: ignore[attr-defined]
        with self._lock:
            # tickets: ticket id -> what the tab does there
            self._tabs[sid] = {"agent_id": agent.id, "name": agent.name, "tickets": {},
                               "window": [], "checked": time.monotonic()}
        groups = [g.id for g in agents.list_groups()] if agent.sees_all else sorted(
            agent.group_ids)
        try:
            for room in [inbox_room(g) for g in groups] + [inbox_room(None),
                                                           agent_room(agent.id)]:
                join_room(room)
        except ValueError:  # gone before the handshake finished
            self._tabs_pop(sid)
            return
        self._start_sweeper(current_app._get_current_object())  # type: ignore[attr-defined]

    def on_disconnect(self, reason: t.Any = None) -> None:
        from flask import request

        tab = self._tabs_pop(request.sid)  # type: ignore[attr-defined]
        for ticket_id in sorted(tab.get("tickets", ())):
            try:
                self._leave(ticket_id, request.sid)  # type: ignore[attr-defined]
            except Exception:
                logger.exception("presence cleanup of ticket %s failed", ticket_id)

    # -- client events

    def on_view(self, data: t.Any) -> dict[str, t.Any]:
        return self._guarded(data, self._view)

    def on_activity(self, data: t.Any) -> dict[str, t.Any]:
        return self._guarded(data, self._activity)

    def on_leave(self, data: t.Any) -> dict[str, t.Any]:
        return self._guarded(data, self._leave_event)

    def on_heartbeat(self, data: t.Any = None) -> dict[str, t.Any]:
        from flask import request

        sid = request.sid  # type: ignore[attr-defined]
        tab = self._tabs.get(sid)
        if tab is not None and time.monotonic() - tab["checked"] < RECHECK_EVERY:
            return self._refresh(sid, tab)
        return self._guarded({}, self._heartbeat)

    def on_presence(self, data: t.Any) -> dict[str, t.Any]:
        return self._guarded(data, self._query)

    # -- implementation

    def _guarded(self, data: t.Any, handler: t.Callable[[str, t.Any, t.Any], dict[str, t.Any]]
                 ) -> dict[str, t.Any]:
        """Check the session, the rate and the payload's shape; never raise."""
        from flask import request

        from .errors import HelpdeskError
        from .extension import current_agent_or_none

        sid = request.sid  # type: ignore[attr-defined]
        agent = current_agent_or_none()
        if agent is None or sid not in self._tabs:
            return {"ok": False, "error": "unauthorized"}
        if not self._within_rate(sid):
            return {"ok": False, "error": "rate_limited"}
        if not isinstance(data, dict) or len(data) > 5:
            logger.warning("refused a malformed %s payload from agent %s", handler.__name__,
                           agent.id)
            return {"ok": False, "error": "invalid"}
        try:
            return handler(sid, agent, data)
        except HelpdeskError as exc:
            logger.warning("refused %s from agent %s: %s", handler.__name__, agent.id, exc)
            return {"ok": False, "error": exc.code, "message": exc.message}
        except Exception:  # one bad event never takes the connection or the server down
            logger.exception("%s from agent %s failed", handler.__name__, agent.id)
            return {"ok": False, "error": "server_error"}

    def _within_rate(self, sid: str) -> bool:
        from .extension import get_state

        limit = get_state().config.realtime_rate_limit
        now = time.monotonic()
        with self._lock:
            window = [x for x in self._tabs[sid]["window"] if x > now - 1.0]
            allowed = len(window) < limit
            if allowed:
                window.append(now)
            self._tabs[sid]["window"] = window
        if not allowed:
            logger.warning("rate-limited socket %s (more than %d events a second)", sid, limit)
        return allowed

    def _view(self, sid: str, agent: t.Any, data: t.Any) -> dict[str, t.Any]:
        return self._enter(sid, agent, _ticket_id(data), "viewing")

    def _activity(self, sid: str, agent: t.Any, data: t.Any) -> dict[str, t.Any]:
        ticket_id = _ticket_id(data)
        if ticket_id not in self._tabs[sid]["tickets"]:
            return {"ok": False, "error": "not_viewing"}
        return self._enter(sid, agent, ticket_id, str(data.get("activity", "")))

    def _enter(self, sid: str, agent: t.Any, ticket_id: int, activity: str) -> dict[str, t.Any]:
        from flask_socketio import join_room

        from .services import presence

        ticket, changed = presence.enter(ticket_id, actor=agent, sid=sid, activity=activity)
        try:
            join_room(ticket_room(ticket.id))
        except ValueError:  # the tab disconnected while this event waited
            presence.leave(ticket.id, sid=sid)
            return {"ok": False, "error": "disconnected"}
        with self._lock:
            self._tabs[sid]["tickets"][ticket.id] = activity
        agents_now = presence.on_ticket(ticket.id)
        if changed:
            self._broadcast(ticket.id, ticket.group_id, agents_now)
        return {"ok": True, "agents": agents_now}

    def _leave_event(self, sid: str, agent: t.Any, data: t.Any) -> dict[str, t.Any]:
        from flask_socketio import leave_room

        ticket_id = _ticket_id(data)
        with self._lock:
            self._tabs[sid]["tickets"].pop(ticket_id, None)
        try:
            leave_room(ticket_room(ticket_id))
        except ValueError:  # already disconnected: on_disconnect cleans up
            pass
        self._leave(ticket_id, sid)
        return {"ok": True}

    def _leave(self, ticket_id: int, sid: str) -> None:
        from .services import presence

        if presence.leave(ticket_id, sid=sid):
            self._broadcast(ticket_id, presence.group_of(ticket_id), presence.on_ticket(ticket_id))

    def _refresh(self, sid: str, tab: dict[str, t.Any]) -> dict[str, t.Any]:
        """A heartbeat between two checks: push the tab's expiry, no database."""
        from .extension import get_state
        from .presence import Presence

        if not self._within_rate(sid):
            return {"ok": False, "error": "rate_limited"}
        state = get_state()
        expires = time.time() + state.config.presence_ttl
        with self._lock:
            doing = sorted(tab["tickets"].items())
        try:
            for ticket_id, activity in doing:
                state.presence.put(Presence(ticket_id=ticket_id, sid=sid,
                                            agent_id=tab["agent_id"], name=tab["name"],
                                            activity=activity, expires=expires))
        except Exception:  # the store is down: the tab stays, presence may lapse
            logger.exception("presence refresh of socket %s failed", sid)
            return {"ok": False, "error": "server_error"}
        return {"ok": True}

    def _heartbeat(self, sid: str, agent: t.Any, data: t.Any) -> dict[str, t.Any]:
        """A heartbeat that checks again: the agent (in ``_guarded``) and each ticket."""
        from .errors import PermissionDenied
        from .services import presence

        with self._lock:
            self._tabs[sid]["checked"] = time.monotonic()
            self._tabs[sid]["name"] = agent.name
            doing = sorted(self._tabs[sid]["tickets"].items())
        for ticket_id, activity in doing:
            try:
                presence.enter(ticket_id, actor=agent, sid=sid, activity=activity)
            except PermissionDenied:  # moved to a group the agent cannot see
                with self._lock:
                    self._tabs[sid]["tickets"].pop(ticket_id, None)
                self._leave(ticket_id, sid)
        return {"ok": True}

    def _query(self, sid: str, agent: t.Any, data: t.Any) -> dict[str, t.Any]:
        from .errors import ValidationError
        from .services import presence

        ids = data.get("ticket_ids")
        if not isinstance(ids, list):
            raise ValidationError("ticket_ids must be a list", field="ticket_ids")
        found = presence.on_tickets(ids, actor=agent)
        return {"ok": True, "presence": {str(k): v for k, v in found.items()}}

    def _broadcast(self, ticket_id: int, group_id: int | None,
                   agents_now: list[dict[str, t.Any]]) -> None:
        self.socketio.emit("presence", {"ticket_id": ticket_id, "agents": agents_now},
                           to=[ticket_room(ticket_id), inbox_room(group_id)],
                           namespace=NAMESPACE)

    def _tabs_pop(self, sid: str) -> dict[str, t.Any]:
        with self._lock:
            return self._tabs.pop(sid, {})

    # -- the sweeper: presence whose tab stopped beating

    def _start_sweeper(self, app: t.Any) -> None:
        with self._lock:
            if self._sweeper is not None:
                return
            self._sweeper = self.socketio.start_background_task(self._sweep_forever, app)

    def _sweep_forever(self, app: t.Any) -> None:
        while True:
            self.socketio.sleep(SWEEP_EVERY)
            try:
                with app.app_context():
                    self.sweep()
            except Exception:  # keep sweeping whatever one sweep hit
                logger.exception("presence sweep failed")

    def sweep(self) -> None:
        """Broadcast the tickets whose presence expired (inside an app context)."""
        from .extension import get_state
        from .services import presence

        for ticket_id in sorted(presence.expire()):
            self._broadcast(ticket_id, presence.group_of(ticket_id),
                            presence.on_ticket(ticket_id))
        get_state().db.session.remove()


def _ticket_id(data: t.Mapping[str, t.Any]) -> int:
    from .errors import ValidationError

    value = data.get("ticket_id")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise ValidationError("ticket_id must be a ticket number", field="ticket_id")
    return value
