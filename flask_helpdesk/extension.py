"""The :class:`Helpdesk` Flask extension and the accessors of its per-app state."""

from __future__ import annotations

import logging
import typing as t

from flask import Flask
from flask import current_app
from flask import g
from flask import has_app_context
from werkzeug.local import LocalProxy

from . import config as _config
from .plugins import manager as _manager
from .presence import MemoryPresence
from .presence import make_presence_store
from .realtime import make_emitter
from .state import HelpdeskState
from .state import default_attachment_dir
from .storage import LocalStorage
from .tasks import Jobs

if t.TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

    from .models import Agent

log = logging.getLogger("flask_helpdesk")

#: Key of the state in ``app.extensions``.
EXTENSION_KEY = "helpdesk"

AgentLoader = t.Callable[[t.Any], "Agent | None"]


class Helpdesk:
    """Embed the helpdesk into a Flask application.

    .. code-block:: python

        db = SQLAlchemy(app)
        helpdesk = Helpdesk(app, db=db)

    or, with an application factory, ``helpdesk = Helpdesk(db=db)`` at import
    time and ``helpdesk.init_app(app)`` in the factory.

    :param app: The application to set up now, if any.
    :param db: The host's ``flask_sqlalchemy.SQLAlchemy`` object (required).
    :param socketio: The host's ``flask_socketio.SocketIO`` object, if it has
        one; live updates are broadcast through it.
    :param plugins: Plugin objects (modules or instances with hook
        implementations) to register on every app, after installed ones.

    .. versionadded:: 0.1
    """

    def __init__(
        self, app: Flask | None = None, *, db: SQLAlchemy | None = None,
        socketio: t.Any | None = None, plugins: t.Iterable[object] = (),
    ) -> None:
        self.db = db
        self.socketio = socketio
        self.plugins = tuple(plugins)
        self._agent_loader: AgentLoader | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the helpdesk on ``app``.

        :raises RuntimeError: The helpdesk is already registered on ``app``,
            or no ``db`` was given.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "A 'Helpdesk' instance has already been registered on this Flask app."
                " Import and use that instance instead."
            )
        if self.db is None:
            raise RuntimeError(
                "Helpdesk needs the host's Flask-SQLAlchemy object: Helpdesk(app, db=db)."
            )
        if "sqlalchemy" not in app.extensions:
            raise RuntimeError(
                "Flask-SQLAlchemy is not registered on this app: call db.init_app(app)"
                " before helpdesk.init_app(app)."
            )
        _config.apply_defaults(app)
        pm = _manager.make_plugin_manager(
            disabled=app.config["HELPDESK_DISABLED_PLUGINS"],
            load_entry_points=app.config["HELPDESK_LOAD_ENTRY_POINTS"],
            trace=app.config["HELPDESK_TRACE_HOOKS"],
            extra=self.plugins,
        )
        known = set(_config.DEFAULTS)
        for defaults in pm.hook.helpdesk_config_defaults():
            _config.apply_defaults(app, defaults)
            known.update(defaults)
        _warn_setup(app, known)
        config = _config.read_config(app)
        _check_bind_key(app, self.db, config.database_bind_key)
        _bind_metadata(config.database_bind_key)
        if config.sqlite_tuning:
            from .sqlite import tune_engine

            with app.app_context():
                tune_engine(self.db.engines[config.database_bind_key],
                            synchronous=config.sqlite_synchronous)
        state = HelpdeskState(
            app=app,
            extension=self,
            db=self.db,
            config=config,
            pm=pm,
            storage=LocalStorage(default_attachment_dir(app, config.attachment_dir)),
            emitter=make_emitter(self.socketio, config.socketio_message_queue,
                                 channel=config.socketio_channel),
            jobs=Jobs(
                app, config.broker_url, worker_threads=config.embedded_worker_threads,
                sweep_interval=config.sweep_interval,
            ),
            channels=_collect_channels(pm),
            presence=make_presence_store(config.presence_url),
        )
        # In-process sockets, or a store every web process writes: the
        # emitter may skip batch events for tickets nobody has open.
        if self.socketio is not None or not isinstance(state.presence, MemoryPresence):
            state.emitter.presence = state.presence
        app.extensions[EXTENSION_KEY] = state
        if self.socketio is not None and hasattr(self.socketio, "on_namespace"):
            from .realtime import register_namespace

            register_namespace(self.socketio)
        _setup_babel(app)
        from .blueprints import register_blueprints
        from .cli import make_cli

        register_blueprints(app, state)
        cli = make_cli()
        pm.hook.helpdesk_register_commands(cli=cli)
        app.cli.add_command(cli)
        app.context_processor(lambda: {"current_helpdesk": current_helpdesk})
        with app.app_context():
            pm.hook.helpdesk_startup(helpdesk=state)

    def agent_loader(self, fn: AgentLoader) -> AgentLoader:
        """Register how a host user becomes an :class:`~flask_helpdesk.models.Agent`.

        The function receives Flask-Login's ``current_user`` (authenticated)
        and returns the agent, or ``None`` when that user is not an agent.
        Without a loader, the agent whose ``user_id`` equals
        ``str(current_user.get_id())`` is used.
        """
        self._agent_loader = fn
        return fn


def _warn_setup(app: Flask, known: set[str]) -> None:
    """Log what will not work as the host expects: unknown keys, no ``SECRET_KEY``."""
    for key, close in _config.unknown_keys(app.config, known):
        hint = f"did you mean {close}?" if close else "see `flask helpdesk config`."
        log.warning("%s is not a setting of the helpdesk or of its plugins and is ignored:"
                    " %s", key, hint)
    if not app.secret_key:
        log.warning("the app has no SECRET_KEY: agents cannot log in, and helpdesk pages"
                    " answer 503 until one is set (e.g. FLASK_SECRET_KEY=<a long random"
                    " string>)")


def _check_bind_key(app: Flask, db: SQLAlchemy, bind_key: str | None) -> None:
    with app.app_context():
        if bind_key not in db.engines:
            raise RuntimeError(
                f"HELPDESK_DATABASE_BIND_KEY={bind_key!r} names no database: add it to"
                " SQLALCHEMY_BINDS, or leave the key unset to use the default database."
            )


def _bind_metadata(bind_key: str | None) -> None:
    from .models import metadata

    # Flask-SQLAlchemy's session picks the engine from metadata.info["bind_key"].
    if bind_key:
        metadata.info["bind_key"] = bind_key
    else:
        metadata.info.pop("bind_key", None)


def _collect_channels(pm: t.Any) -> dict[str, str]:
    channels: dict[str, str] = {}
    for declared in pm.hook.helpdesk_register_channels():
        for item in declared:
            if item["name"] in channels:
                raise RuntimeError(
                    f"Two plugins declare the channel {item['name']!r}; disable one with"
                    " HELPDESK_DISABLED_PLUGINS."
                )
            channels[item["name"]] = item.get("label", item["name"])
    return channels


def _setup_babel(app: Flask) -> None:
    if "babel" in app.extensions:
        return
    from flask_babel import Babel

    from .i18n import select_locale

    Babel(app, locale_selector=select_locale)


def get_state(app: Flask | None = None) -> HelpdeskState:
    """The helpdesk state of ``app`` (default: the current app).

    :raises RuntimeError: The helpdesk is not registered on the app.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        return t.cast(HelpdeskState, app.extensions[EXTENSION_KEY])
    except KeyError:
        raise RuntimeError(
            "The helpdesk is not registered on this app. Did you forget to call"
            " 'helpdesk.init_app(app)'?"
        ) from None


#: The :class:`HelpdeskState` of the current app, for templates and plugins.
current_helpdesk: HelpdeskState = t.cast(HelpdeskState, LocalProxy(get_state))


def current_agent_or_none() -> Agent | None:
    """The agent of the current request: API token, or the logged-in host user."""
    if not has_app_context():
        return None
    ns = g.setdefault("_helpdesk", {})
    if "agent" in ns:
        return t.cast("Agent | None", ns["agent"])
    agent = _load_session_agent()
    ns["agent"] = agent
    return agent


def _load_session_agent() -> Agent | None:
    from flask_login import current_user

    if current_user is None or not current_user.is_authenticated:
        return None
    state = get_state()
    loader = state.extension._agent_loader
    if loader is not None:
        agent = loader(current_user)
    else:
        from .services import agents

        agent = agents.get_by_user_id(str(current_user.get_id()))
    if agent is not None and not agent.active:
        return None
    return agent


def set_current_agent(agent: Agent | None) -> None:
    """Set the agent of this request (used by API token authentication)."""
    g.setdefault("_helpdesk", {})["agent"] = agent
