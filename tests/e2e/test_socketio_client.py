"""The vendored socket.io-client talks to Flask-SocketIO (python-socketio 5.x).

Socket.IO protocol v5 on both sides: the browser build in
static/helpdesk/vendor/socket.io-client connects to the ``/helpdesk``
namespace, receives a server emit and gets an acknowledgement back.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from flask import Flask
from flask import url_for
from flask_socketio import SocketIO
from flask_socketio import emit
from playwright.sync_api import Browser

import flask_helpdesk
from flask_helpdesk.realtime import NAMESPACE

from .support import Server

pytestmark = pytest.mark.e2e

STATIC = str(Path(flask_helpdesk.__file__).parent / "static" / "helpdesk")

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>io</title>
<script src="{src}"></script></head><body><script>
  window.seen = [];
  const socket = io("{namespace}", {{transports: ["polling", "websocket"]}});
  socket.on("hello", data => window.seen.push(data));
  socket.on("connect", () => socket.emit("ping_me", {{n: 41}}, reply => {{
    window.seen.push(reply);
    window.transport = socket.io.engine.transport.name;
  }}));
</script></body></html>"""


@pytest.fixture
def socketio_server() -> t.Iterator[str]:
    app = Flask(__name__, static_folder=STATIC, static_url_path="/static")
    socketio = SocketIO(app, async_mode="threading")

    @app.get("/")
    def page() -> str:
        src = url_for("static", filename="vendor/socket.io-client/socket.io.min.js")
        return PAGE.format(src=src, namespace=NAMESPACE)

    @socketio.on("connect", namespace=NAMESPACE)
    def connected() -> None:
        emit("hello", {"protocol": "v5"})

    @socketio.on("ping_me", namespace=NAMESPACE)
    def ping_me(data: dict[str, int]) -> dict[str, int]:
        return {"n": data["n"] + 1}

    server = Server(app)
    server.start()
    yield server.url
    server.stop()


def test_vendored_client_connects_and_exchanges_events(chromium: Browser,
                                                       socketio_server: str) -> None:
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(socketio_server + "/")
        page.wait_for_function("window.seen.length === 2", timeout=10_000)
        assert page.evaluate("window.seen") == [{"protocol": "v5"}, {"n": 42}]
        assert page.evaluate("window.transport") in ("polling", "websocket")
    finally:
        context.close()
