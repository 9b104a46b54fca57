"""Helpers for hosts and plugin authors testing against a real helpdesk.

.. code-block:: python

    from flask_helpdesk.testing import make_app, create_tables

    app = make_app(database_uri="sqlite:///" + str(tmp_path / "hd.db"))
    with app.app_context():
        create_tables(app)
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import typing as t

from flask import Flask
from flask_login import FlaskLoginClient
from flask_login import LoginManager
from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

from .events import Event
from .extension import Helpdesk
from .extension import get_state
from .plugins import hookimpl

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


class User(UserMixin):  # type: ignore[misc]
    """A host user for tests: just an id."""

    def __init__(self, user_id: str) -> None:
        self.id = user_id


def make_app(
    *, database_uri: str, config: t.Mapping[str, t.Any] | None = None,
    plugins: t.Iterable[object] = (), socketio: t.Any | None = None,
) -> Flask:
    """A minimal host app: Flask-SQLAlchemy, Flask-Login, the helpdesk.

    Users are created on the fly: any user id logs in. Log in with
    ``app.test_client(user=User("7"))`` (Flask-Login's test client). Jobs go
    to a stub broker (drive them with ``get_state(app).jobs``) and entry-point
    plugins are not loaded, unless ``config`` says otherwise.
    """
    app = Flask("helpdesk_test")
    app.config.update(
        TESTING=True,
        SECRET_KEY="test",
        SQLALCHEMY_DATABASE_URI=database_uri,
        HELPDESK_LOAD_ENTRY_POINTS=False,
        HELPDESK_BROKER_URL="stub",
        HELPDESK_SWEEP_INTERVAL=0,
        HELPDESK_COUNT_CACHE_SECONDS=0,
    )
    app.config.update(config or {})
    db = SQLAlchemy(app)
    login = LoginManager(app)
    login.user_loader(User)
    app.test_client_class = FlaskLoginClient
    Helpdesk(app, db=db, plugins=plugins, socketio=socketio)
    return app


def create_tables(app: Flask) -> None:
    """Create the helpdesk tables directly from the models (tests only).

    The head revision is recorded as ``flask helpdesk db upgrade`` would, so
    the helpdesk serves these tables. Real deployments run ``flask helpdesk
    db upgrade``.
    """
    from .migrations import stamp_head
    from .models import metadata
    from .schema import create_search_index

    state = get_state(app)
    engine = state.db.engines[state.config.database_bind_key]
    metadata.create_all(engine)
    create_search_index(engine)
    stamp_head(engine)


class EventRecorder:
    """A plugin that records every committed event (register it for a test)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def helpdesk_ticket_event(self, event: Event) -> None:
        self.events.append(event)

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]

    def clear(self) -> None:
        self.events.clear()


#: Where :class:`LiveServer` keeps a request's response iterator in its environ.
_APP_ITER = "flask_helpdesk.testing.app_iter"


class _CloseOnce:
    """A response iterator whose ``close()`` runs once, however often it is called."""

    def __init__(self, app_iter: t.Iterable[bytes]) -> None:
        self._app_iter = app_iter
        self._closed = False

    def __iter__(self) -> t.Iterator[bytes]:
        return iter(self._app_iter)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            close = getattr(self._app_iter, "close", None)
            if close is not None:
                close()


class _ClosingRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, closing the response even when the client went away.

    Werkzeug's development server (3.1) reads what is left of the request
    after writing the response, and only then closes the response. A client
    that resets the connection in between (a browser closing its tab while
    the machine is busy) makes that read raise, and the response, with the
    static file it holds open, is never closed: a ``ResourceWarning`` later,
    in whatever test runs then. Each connection is also noted on the server,
    so :meth:`LiveServer.stop` can wait for it.
    """

    server: t.Any

    def handle(self) -> None:
        with self.server.helpdesk_lock:
            self.server.helpdesk_active.add(self)
        try:
            super().handle()
        finally:
            with self.server.helpdesk_lock:
                self.server.helpdesk_active.discard(self)

    def make_environ(self) -> WSGIEnvironment:
        self._environ = environ = super().make_environ()
        return environ

    def run_wsgi(self) -> None:
        try:
            super().run_wsgi()
        finally:
            app_iter = getattr(self, "_environ", {}).get(_APP_ITER)
            if app_iter is not None:
                app_iter.close()


class LiveServer:
    """A WSGI app on a free port of 127.0.0.1, served by a threaded werkzeug server.

    For browser and socket tests. Every response is closed, even when the
    client resets the connection while the server drains the request, which
    Werkzeug's development server alone does not guarantee.

    .. code-block:: python

        server = LiveServer(app).start()
        try:
            requests.get(server.url + "/helpdesk/")
        finally:
            server.stop()

    :ivar url: The base URL, e.g. ``http://127.0.0.1:40123`` (no trailing slash).

    .. versionadded:: 0.1
    """

    def __init__(self, app: t.Any) -> None:
        def closing_app(environ: WSGIEnvironment, start_response: t.Any) -> t.Iterable[bytes]:
            app_iter = app(environ, start_response)
            if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
                return t.cast("t.Iterable[bytes]", app_iter)  # the websocket owns the socket
            environ[_APP_ITER] = app_iter = _CloseOnce(app_iter)
            return app_iter

        server: t.Any = make_server("127.0.0.1", 0, closing_app, threaded=True,
                                    request_handler=_ClosingRequestHandler)
        server.helpdesk_lock = threading.Lock()
        server.helpdesk_active = set()
        self._server = server
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},  # quick stop
                                        name="helpdesk-live-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        """Stop serving; return when every request has ended.

        Websockets still open are shut down (a client would keep them for
        ever); other requests under way are left to finish. So nothing a
        request holds, a database connection say, outlives the test that made it.
        """
        self._server.shutdown()
        self._thread.join(timeout=timeout)
        with self._server.helpdesk_lock:
            handlers = list(self._server.helpdesk_active)
        for handler in handlers:
            headers = getattr(handler, "headers", None)
            if headers is not None and headers.get("Upgrade", "").lower() == "websocket":
                with contextlib.suppress(OSError):
                    handler.connection.shutdown(socket.SHUT_RDWR)
        self._wait_for_requests(timeout)
        self._server.server_close()

    def _wait_for_requests(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._server.helpdesk_active and time.monotonic() < deadline:
            time.sleep(0.01)
