"""The parts of the end-to-end suite that are not fixtures.

:class:`LiveSite` is the example site served over real HTTP on a copy of the
demo database; :class:`OutboxRecorder` sees every reply the helpdesk hands to
a channel (what the customer would receive); the ``e2e`` blueprint serves
test-only pages (the rich-text editor demo). The fixtures in ``conftest.py``
put them together.
"""

from __future__ import annotations

import os
import threading
import time
import typing as t
from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint
from flask import Flask
from flask import render_template
from flask import request

from example_site import create_app
from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk import hookimpl
from flask_helpdesk.extension import get_state
from flask_helpdesk.models import Agent
from flask_helpdesk.models import Group
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import inbound
from flask_helpdesk.testing import LiveServer

if t.TYPE_CHECKING:
    from flask_helpdesk.channels import OutboundMessage

#: Debian's Chromium (Playwright's own browser download does not work here).
CHROMIUM = os.environ.get("HELPDESK_TEST_CHROMIUM", "/usr/bin/chromium")

#: Command-line switches for a quiet headless Chromium in a container.
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)

#: The window of every test: also the size of the documentation screenshots.
VIEWPORT = {"width": 1280, "height": 800}

#: Where :func:`screenshot` saves when asked to update the docs.
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "_static" / "screenshots"

#: Small demo sizes: enough for a full first page of tickets, made in seconds.
DEMO_SIZES = {"customers": 12, "tickets": 30, "days": 20}


def site_config(tmp_path: Path, db_file: Path, *, broker: str | None) -> dict[str, t.Any]:
    """Configuration of the example site for a test (``broker=None``: embedded worker)."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
        "HELPDESK_BROKER_URL": broker,
        "HELPDESK_LOAD_ENTRY_POINTS": False,
        "HELPDESK_SWEEP_INTERVAL": 0,
        "HELPDESK_RULES_TICK_INTERVAL": 0,
        "HELPDESK_ATTACHMENT_DIR": str(tmp_path / "attachments"),
    }


def close_app(app: Flask) -> None:
    """Stop the app's worker threads and close its database connections."""
    state = get_state(app)
    state.jobs.stop()
    with app.app_context():
        state.db.session.remove()
        state.db.engine.dispose()


class OutboxRecorder:
    """A channel-side plugin that records each reply handed over for delivery.

    It runs before the real channel plugin and lets it deliver, so
    :attr:`messages` is exactly what a customer would receive: the strongest
    check that something (an internal note) never leaves the helpdesk.
    """

    def __init__(self) -> None:
        self.messages: list[OutboundMessage] = []
        self._lock = threading.Lock()

    @hookimpl(tryfirst=True)
    def helpdesk_deliver_message(self, message: OutboundMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def wait_for(self, text: str, timeout: float = 15) -> OutboundMessage:
        """The first recorded message containing ``text``, waiting for the worker.

        :raises AssertionError: Nothing with ``text`` was delivered in time.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for message in self.messages:
                    if text in message.text:
                        return message
            time.sleep(0.05)
        raise AssertionError(f"no outbound message contains {text!r} after {timeout}s")


#: Test-only pages, registered on the e2e app only (never in the package).
fixtures_bp = Blueprint("e2e", __name__, url_prefix="/_e2e", template_folder="templates")


@fixtures_bp.route("/editor", methods=["GET", "POST"])
def editor_demo() -> str:
    """A reply form with ``<textarea data-hd-rich>``; a POST shows what was submitted."""
    return render_template("e2e/editor.html", text=request.values.get("text", ""),
                           html=request.values.get("html", ""),
                           submitted=request.form if request.method == "POST" else None)


class Server(LiveServer):
    """A WSGI app served on a free port of 127.0.0.1 (see :class:`LiveServer`).

    :ivar url: Base URL, e.g. ``http://127.0.0.1:40123`` (no trailing slash).
    """


class LiveSite:
    """The example site served over HTTP by a werkzeug server in a thread.

    :ivar app: The Flask app (open ``app.app_context()`` to call services).
    :ivar url: Base URL, e.g. ``http://127.0.0.1:40123`` (no trailing slash).
    :ivar outbox: Every reply handed to a channel since the site started.
    """

    def __init__(self, tmp_path: Path, db_file: Path) -> None:
        self.outbox = OutboxRecorder()
        self.app = create_app(site_config(tmp_path, db_file, broker=None),
                              instance_path=str(tmp_path / "instance"))
        self.app.register_blueprint(fixtures_bp)
        get_state(self.app).pm.register(self.outbox, name="e2e-outbox-recorder")
        self._server = Server(self.app)
        self.url = self._server.url

    def start(self) -> LiveSite:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        close_app(self.app)

    # ----------------------------------------------------------- data helpers

    def scalar(self, query: t.Any) -> t.Any:
        """Run ``query`` against the site's database and return one value."""
        with self.app.app_context():
            return get_state().db.session.scalar(query)

    def agent_id(self, login: str) -> int:
        """The id of the demo agent whose login (``user_id``) is ``login``."""
        return t.cast(int, self.scalar(sa.select(Agent.id).where(Agent.user_id == login)))

    def group_id(self, name: str) -> int:
        """The id of the group called ``name`` (e.g. ``Billing``)."""
        return t.cast(int, self.scalar(sa.select(Group.id).where(Group.name == name)))

    def set_language(self, login: str, language: str | None) -> None:
        """Set a demo agent's language (``en``, ``ru``, ``pt_BR``; ``None``: the browser's)."""
        with self.app.app_context():
            agents.update_agent(self.agent_id(login), actor=SYSTEM, language=language)

    def write_in(self, subject: str, text: str = "Hello, I need help.", *,
                 group: str = "First line support", name: str = "Zoe Quill",
                 email: str = "zoe.quill@example.org") -> int:
        """A customer writes in on the ``web`` channel; returns the new ticket's id."""
        with self.app.app_context():
            result = inbound.ingest(InboundMessage(
                channel="web", external_id=f"e2e-{subject}-{time.monotonic_ns()}",
                sender=Identity("email", email, name), subject=subject, text=text,
                group=group))
            return result.ticket_id
