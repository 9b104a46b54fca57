"""Realtime broadcast of committed events over Socket.IO.

Services never import Flask-SocketIO: the event pipeline hands events to the
app's :class:`Emitter`. With the host's ``SocketIO`` object the emitter uses
it; in a worker with :data:`HELPDESK_SOCKETIO_MESSAGE_QUEUE` set it uses a
write-only ``SocketIO(message_queue=...)``; otherwise events are not
broadcast. Room names: ``ticket:<id>`` and ``inbox:<group id>`` (``inbox:none``
for tickets without a group), in the ``/helpdesk`` namespace.
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from .events import Event

#: The Socket.IO namespace of the helpdesk.
NAMESPACE = "/helpdesk"


def ticket_room(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def inbox_room(group_id: int | None) -> str:
    return f"inbox:{group_id if group_id is not None else 'none'}"


class Emitter:
    """Broadcasts events to Socket.IO rooms.

    :param socketio: A ``flask_socketio.SocketIO`` (the host's, or a write-only
        one on a message queue), or ``None`` to broadcast nothing.
    """

    def __init__(self, socketio: t.Any | None) -> None:
        self.socketio = socketio

    @property
    def enabled(self) -> bool:
        return self.socketio is not None

    def emit_events(self, events: t.Sequence[Event]) -> None:
        """Send each event to its ticket room and its group's inbox room."""
        if self.socketio is None:
            return
        for event in events:
            payload = event.to_dict()
            rooms = [ticket_room(event.ticket_id), inbox_room(event.group_id)]
            self.socketio.emit("ticket_event", payload, to=rooms, namespace=NAMESPACE)


def make_emitter(socketio: t.Any | None, message_queue: str | None) -> Emitter:
    """The emitter for an app: the host's SocketIO, or a write-only one."""
    if socketio is None and message_queue:
        from flask_socketio import SocketIO

        socketio = SocketIO(message_queue=message_queue)
    return Emitter(socketio)
