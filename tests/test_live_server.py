"""flask_helpdesk.testing.LiveServer closes every response, whatever the client does."""

from __future__ import annotations

import socket
import struct
import threading
import time
import typing as t

from flask_helpdesk.testing import LiveServer


class _Body:
    """A response that notes when it is closed, and lingers after its last byte.

    The pause stands for a busy machine: the client is gone by the time the
    server reads what is left of the request.
    """

    def __init__(self, closed: threading.Event) -> None:
        self.closed = closed

    def __iter__(self) -> t.Iterator[bytes]:
        yield b"x" * 3000
        time.sleep(0.3)

    def close(self) -> None:
        self.closed.set()


def test_a_response_is_closed_when_the_client_resets_the_connection() -> None:
    closed = threading.Event()

    def app(environ: t.Any, start_response: t.Any) -> _Body:
        start_response("200 OK", [("Content-Type", "application/javascript"),
                                  ("Content-Length", "3000")])
        return _Body(closed)

    server = LiveServer(app).start()
    try:
        client = socket.create_connection(("127.0.0.1", server.port))
        client.sendall(b"GET /static/picker.js HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.1)  # the response is written; the server lingers
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # a reset, as from a browser tab closed mid-load
        assert closed.wait(10), "the response was never closed"
    finally:
        server.stop()


def test_a_normal_response_is_closed_once() -> None:
    closes: list[int] = []

    class Body(list[bytes]):
        def close(self) -> None:
            closes.append(1)

    def app(environ: t.Any, start_response: t.Any) -> Body:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body([b"hello"])

    server = LiveServer(app).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := client.recv(1000):
                data += chunk
        assert b"\r\nhello\r\n" in data
        deadline = time.monotonic() + 10
        while not closes and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        assert closes == [1]
    finally:
        server.stop()
