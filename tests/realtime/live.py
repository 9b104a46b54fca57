"""A helpdesk app served on 127.0.0.1 with Flask-SocketIO, and real socket clients."""

from __future__ import annotations

import threading
import time
import typing as t

import socketio as socketio_client
from flask import Flask

from flask_helpdesk.realtime import NAMESPACE
from flask_helpdesk.testing import LiveServer
from flask_helpdesk.testing import User


class Served:
    """The app on a free loopback port, in a thread (werkzeug, threaded)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.server = LiveServer(app).start()
        self.url = self.server.url

    def stop(self) -> None:
        self.server.stop()


def session_cookie(app: Flask, user_id: str) -> str:
    """The session cookie of a logged-in host user."""
    client = app.test_client(user=User(user_id))
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    assert cookie is not None
    return f"{cookie.key}={cookie.value}"


class Agent:
    """A real Socket.IO client over a websocket, recording what it receives."""

    def __init__(self, url: str, cookie: str | None) -> None:
        self.client = socketio_client.Client(reconnection=False)
        self.received: list[tuple[str, t.Any]] = []
        self._lock = threading.Lock()
        for event in ("presence", "ticket_event"):
            self.client.on(event, self._recorder(event), namespace=NAMESPACE)
        headers = {"Cookie": cookie} if cookie else {}
        self.client.connect(url, namespaces=[NAMESPACE], transports=["websocket"],
                            headers=headers, wait_timeout=30)

    def _recorder(self, event: str) -> t.Callable[[t.Any], None]:
        def record(data: t.Any) -> None:
            with self._lock:
                self.received.append((event, data))
        return record

    def call(self, event: str, data: t.Any = None) -> t.Any:
        return self.client.call(event, data if data is not None else {}, namespace=NAMESPACE,
                                timeout=30)

    def wait_for(self, test: t.Callable[[str, t.Any], bool], timeout: float = 30.0) -> t.Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for event, data in self.received:
                    if test(event, data):
                        return data
            time.sleep(0.02)
        raise AssertionError(f"nothing matched within {timeout} s; got {self.received}")

    def presence_of(self, ticket_id: int) -> list[t.Any]:
        with self._lock:
            found = [d["agents"] for e, d in self.received
                     if e == "presence" and d["ticket_id"] == ticket_id]
        return found[-1] if found else []

    def close(self) -> None:
        """Disconnect: the server has the close packet at once.

        The client library then waits up to 3 s for a websocket close frame
        that its own read loop already consumed; that wait runs in a thread
        nobody joins for longer than it takes to send the packet.
        """
        def disconnect() -> None:
            try:
                self.client.disconnect()
            except Exception:  # the server may be gone by then
                pass

        thread = threading.Thread(target=disconnect, daemon=True)
        thread.start()
        deadline = time.monotonic() + 3.5
        while self.client.eio.state == "connected" and time.monotonic() < deadline:
            time.sleep(0.01)
