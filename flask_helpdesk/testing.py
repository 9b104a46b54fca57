"""Helpers for hosts and plugin authors testing against a real helpdesk.

.. code-block:: python

    from flask_helpdesk.testing import make_app, create_tables

    app = make_app(database_uri="sqlite:///" + str(tmp_path / "hd.db"))
    with app.app_context():
        create_tables(app)
"""

from __future__ import annotations

import typing as t

from flask import Flask
from flask_login import FlaskLoginClient
from flask_login import LoginManager
from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy

from .events import Event
from .extension import Helpdesk
from .extension import get_state
from .plugins import hookimpl


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
