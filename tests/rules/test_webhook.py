"""The webhook action: a signed POST sent by a job after commit, retried on failure."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
import typing as t

import pytest

from flask_helpdesk import ValidationError
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import customers
from flask_helpdesk.services import tickets
from tests.rules.helpers import rule
from tests.tasks.helpers import Workers


class Receiver:
    """An HTTP server on 127.0.0.1 that records POSTs; the first ``slow`` calls hang."""

    def __init__(self, slow: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.slow = slow
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.slow:
                    receiver.slow -= 1
                    time.sleep(1.0)  # longer than HELPDESK_WEBHOOK_TIMEOUT
                else:
                    receiver.requests.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: t.Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> t.Iterator[Receiver]:
    r = Receiver(slow=1)
    yield r
    r.close()


def test_webhook_is_signed_and_retried_after_a_hang(app_factory, receiver) -> None:
    app = app_factory(config={"HELPDESK_WEBHOOK_SECRET": "s3cret",
                              "HELPDESK_WEBHOOK_TIMEOUT": 0.3})
    workers = Workers(app)
    workers.start()
    try:
        with app.app_context():
            customer = customers.create_customer(actor=SYSTEM, name="C",
                                                 identities=[("email", "c@example.org")])
            rule(name="hook", enabled=True, when={"type": "event", "on": "ticket.created"},
                 actions=[{"type": "webhook", "url": receiver.url}])
            ticket = tickets.create_ticket(actor=SYSTEM, customer_id=customer.id,
                                           subject="Printer", text="Broken")
            deadline = time.monotonic() + 15
            while not receiver.requests and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        assert workers.worker is not None
        workers.worker.stop()
    assert len(receiver.requests) == 1  # the hung call timed out, the retry arrived
    headers, body = receiver.requests[0]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Helpdesk-Signature"] == expected
    payload = json.loads(body)
    assert payload["rule"] == "hook"
    assert payload["ticket"]["id"] == ticket.id and payload["ticket"]["subject"] == "Printer"


def test_webhook_url_is_checked_at_save_time(team) -> None:
    with pytest.raises(ValidationError, match="http:// or https://"):
        rule(actions=[{"type": "webhook", "url": "file:///etc/passwd"}])
