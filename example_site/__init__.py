"""An example host application embedding flask-helpdesk.

It has what a real host has: an application factory, its own users table and
login page, its own data (a shop's orders), Flask-SQLAlchemy and Flask-Login.
The helpdesk is added with ``Helpdesk(db=db)`` and told how host users map
to helpdesk agents with :meth:`~flask_helpdesk.Helpdesk.agent_loader`. The site's own plugin
(:mod:`example_site.orders`) shows a customer's orders beside their tickets.

Run it with ``./scripts/run-example.sh`` (or ``python -m example_site``); run it
as production would, with several web processes, a worker and Redis, with
``python -m example_site serve --production`` (:mod:`example_site.production`).
"""

from __future__ import annotations

import os
import secrets
import typing as t

from flask import Flask
from flask_login import LoginManager
from flask_socketio import SocketIO

from flask_helpdesk import Helpdesk
from flask_helpdesk.services import agents

from . import orders
from .models import User
from .models import db

#: The password of every demo user (printed when the site starts).
DEMO_PASSWORD = "helpdesk-demo"

login_manager = LoginManager()
login_manager.login_view = "site.login"

#: Live pages (presence, updates) in threading mode: one process, no Redis.
#: For several processes, set FLASK_HELPDESK_SOCKETIO_MESSAGE_QUEUE and
#: FLASK_HELPDESK_PRESENCE_URL to a redis:// URL (docs/realtime.rst), as the
#: production profile does.
socketio = SocketIO()

#: ``plugins=[orders]``: the site's own hook implementations (the "Orders"
#: block in the customer sidebar), registered on every app it sets up.
helpdesk = Helpdesk(db=db, socketio=socketio, plugins=[orders])


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


@helpdesk.agent_loader
def load_agent(user: User) -> t.Any:
    """Host user -> helpdesk agent.

    The helpdesk calls this with Flask-Login's ``current_user``. Here an agent's
    ``user_id`` is the host user's login name, so renumbering the users table
    never hands someone else's tickets to a person. Return ``None`` for users
    who are not agents: they get 403 on helpdesk pages.
    """
    return agents.get_by_user_id(user.username)


def create_app(
    config: t.Mapping[str, t.Any] | None = None, *, instance_path: str | None = None
) -> Flask:
    """The application factory.

    Configuration comes from the defaults below, then ``FLASK_*`` environment
    variables (``app.config.from_prefixed_env()``: e.g.
    ``FLASK_SQLALCHEMY_DATABASE_URI``, ``FLASK_HELPDESK_BROKER_URL``), then
    ``config``. The SQLite file and the secret key live in the instance folder
    (``instance_path``, else ``$EXAMPLE_SITE_INSTANCE``, else
    ``example_site/instance``), so every process started on one folder shares
    both.
    """
    instance_path = instance_path or os.environ.get("EXAMPLE_SITE_INSTANCE") or None
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(
        SECRET_KEY=_secret_key(app.instance_path),
        SQLALCHEMY_DATABASE_URI="sqlite:///" + os.path.join(app.instance_path, "example.db"),
        # Embedded defaults: in-process worker, no Redis needed.
        HELPDESK_BROKER_URL=None,
        DEMO_PASSWORD=DEMO_PASSWORD,
    )
    app.config.from_prefixed_env()
    app.config.update(config or {})
    db.init_app(app)
    login_manager.init_app(app)
    # Threading mode under werkzeug (one process) and under gunicorn's gthread
    # worker (the production profile); the queue joins several processes.
    socketio.init_app(app, async_mode="threading",
                      message_queue=app.config.get("HELPDESK_SOCKETIO_MESSAGE_QUEUE"),
                      channel=app.config.get("HELPDESK_SOCKETIO_CHANNEL", "flask-socketio"))
    helpdesk.init_app(app)  # also tunes SQLite for the in-process worker
    from . import auth
    from .commands import example_cli

    app.register_blueprint(auth.bp)
    app.register_blueprint(orders.bp)
    app.cli.add_command(example_cli)
    return app


def _secret_key(instance_path: str) -> str:
    """A random key kept in the instance folder, so sessions survive restarts."""
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(secrets.token_hex(32))
    with open(path) as f:
        return f.read().strip()
