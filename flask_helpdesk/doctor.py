"""The checks of ``flask helpdesk doctor``: is this deployment set up, and if not, what to do.

Each check returns :data:`Finding` values, ``(level, text)``: the level is
``"ok"``, ``"warn"`` or ``"fail"``, the text says what was found and, unless
all is well, what to do (translated). Checks never raise: a check that cannot
run is itself a finding. Plugins add their own through the
``helpdesk_doctor`` hook.
"""

from __future__ import annotations

import typing as t

from .cli import mask_url
from .i18n import _
from .i18n import ngettext

if t.TYPE_CHECKING:
    from .state import HelpdeskState

#: One line of the report: ``(level, text)``, level ``ok``, ``warn`` or ``fail``.
Finding = tuple[str, str]

#: Levels in the order of their weight.
LEVELS = ("ok", "warn", "fail")

#: A shorter ``SECRET_KEY`` is reported as weak.
MIN_SECRET_KEY_LENGTH = 16


def run_checks(state: HelpdeskState) -> list[Finding]:
    """Every check of the core, then the plugins' (when the database is ready)."""
    findings = database(state)
    ready = findings[0][0] == "ok"
    findings += broker(state)
    findings += redis(state)
    findings += plugins(state)
    if ready:
        findings += plugin_checks(state)
    else:
        findings.append(("warn", _("plugins: their own checks were skipped until the"
                                   " database is ready.")))
    findings += secrets(state, database_ready=ready)
    return findings


def database(state: HelpdeskState) -> list[Finding]:
    """The revision of the helpdesk tables against this code's newest."""
    from sqlalchemy.exc import SQLAlchemyError

    from . import migrations

    try:
        status = migrations.status(state.db.engines[state.config.database_bind_key])
    except SQLAlchemyError as exc:
        error = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        return [("fail", _("database: cannot be reached (%(error)s): check"
                           " SQLALCHEMY_DATABASE_URI and that the server runs.", error=error))]
    current, head = ", ".join(status.current), ", ".join(status.heads)
    if status.state == "ready":
        return [("ok", _("database: at revision %(rev)s (head).", rev=current))]
    if status.state == "missing":
        return [("fail", _("database: the helpdesk tables are not set up: run `flask helpdesk"
                           " db upgrade`."))]
    if status.state == "outdated":
        return [("fail", _("database: at revision %(rev)s, this version needs %(head)s: run"
                           " `flask helpdesk db upgrade`.", rev=current, head=head))]
    return [("warn", _("database: at revision %(rev)s, which this flask-helpdesk does not"
                       " know (newest: %(head)s): upgrade flask-helpdesk here.",
                       rev=current, head=head))]


def broker(state: HelpdeskState) -> list[Finding]:
    """The job broker: embedded, stub, or a shared one that answers."""
    jobs = state.jobs
    if jobs.embedded:
        return [("ok", _("broker: embedded (jobs run inside the web process; for one"
                         " process only)."))]
    if state.config.broker_url == "stub":
        return [("warn", _("broker: stub, no worker runs the jobs (for tests): set"
                           " HELPDESK_BROKER_URL to embedded, a redis:// or an amqp:// URL."))]
    url = mask_url(str(jobs.url))
    try:
        jobs.check_broker()
    except Exception as exc:
        return [("fail", _("broker: cannot reach %(url)s (%(error)s): start it, or fix"
                           " HELPDESK_BROKER_URL.", url=url, error=_error(exc)))]
    return [("ok", _("broker: %(url)s answers; run `flask helpdesk worker` and one"
                     " `flask helpdesk scheduler`.", url=url))]


def redis(state: HelpdeskState) -> list[Finding]:
    """The Redis servers of Socket.IO's message queue and of presence, when configured."""
    from .presence import RedisPresence

    found: list[Finding] = []
    queue = state.config.socketio_message_queue
    if queue and queue.startswith(("redis://", "rediss://", "unix://")):
        found.append(_ping("HELPDESK_SOCKETIO_MESSAGE_QUEUE", queue, None))
    elif queue:
        found.append(("ok", _("HELPDESK_SOCKETIO_MESSAGE_QUEUE: %(url)s (not checked: not"
                              " Redis).", url=mask_url(queue))))
    if isinstance(state.presence, RedisPresence):
        found.append(_ping("HELPDESK_PRESENCE_URL", str(state.config.presence_url),
                           state.presence.redis))
    if not found:
        found.append(("ok", _("realtime: no Redis configured (Socket.IO and presence for one"
                              " web process).")))
    return found


def _ping(key: str, url: str, client: t.Any) -> Finding:
    try:
        if client is None:
            import redis as redis_client

            client = redis_client.Redis.from_url(url)
        client.ping()
    except ImportError:
        return ("fail", _("%(key)s: the redis package is missing: pip install"
                          ' "flask-helpdesk[redis]".', key=key))
    except Exception as exc:
        return ("fail", _("%(key)s: cannot reach %(url)s (%(error)s): start Redis, or fix"
                          " %(key)s.", key=key, url=mask_url(url), error=_error(exc)))
    return ("ok", _("%(key)s: %(url)s answers.", key=key, url=mask_url(url)))


def plugins(state: HelpdeskState) -> list[Finding]:
    """The loaded plugins with their distributions, and disabled names that match none."""
    import importlib.metadata

    from .plugins.manager import DEFAULT_PLUGINS
    from .plugins.manager import ENTRY_POINT_GROUP
    from .plugins.manager import list_plugins

    found: list[Finding] = []
    for plugin in list_plugins(state.pm):
        if plugin["default"]:
            continue
        name = plugin["name"]
        if plugin["distribution"]:
            name += f" ({plugin['distribution']} {plugin['version']})"
        found.append(("ok", _("plugin %(name)s: loaded.", name=name)))
    if not found:
        found.append(("ok", _("plugins: only the built-in ones are loaded.")))
    names = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    names |= set(DEFAULT_PLUGINS) | {name for name, plugin in state.pm.list_name_plugin()
                                     if plugin is not None}  # None: blocked
    for name in state.config.disabled_plugins:
        if name not in names:
            found.append(("warn", _("HELPDESK_DISABLED_PLUGINS names %(name)s, which no"
                                    " installed plugin is called: check the spelling"
                                    " (`flask helpdesk plugins`).", name=name)))
    return found


def plugin_checks(state: HelpdeskState) -> list[Finding]:
    """The findings of every ``helpdesk_doctor`` implementation; one failing is a finding."""
    found: list[Finding] = []
    caller = state.pm.hook.helpdesk_doctor
    kwargs = {"helpdesk": state}
    for impl in reversed(caller.get_hookimpls()):
        try:
            result: t.Any = impl.function(*[kwargs[name] for name in impl.argnames])
            for level, text in result or ():
                found.append((level if level in LEVELS else "warn", str(text)))
        except Exception as exc:
            state.db.session.rollback()
            found.append(("fail", _("plugin %(name)s: its check failed (%(error)s).",
                                    name=impl.plugin_name, error=_error(exc))))
    return found


def secrets(state: HelpdeskState, *, database_ready: bool) -> list[Finding]:
    """``SECRET_KEY``, and whether the stored account secrets can be decrypted."""
    key = state.app.secret_key
    if not key:
        return [("fail", _("secrets: the app has no SECRET_KEY, so agents cannot log in: set"
                           " SECRET_KEY (e.g. FLASK_SECRET_KEY) to a long random string."))]
    found: list[Finding] = []
    if len(str(key)) < MIN_SECRET_KEY_LENGTH:
        found.append(("warn", _("secrets: SECRET_KEY is shorter than %(min)d characters: use"
                                " a long random one, e.g. from `python -c 'import secrets;"
                                " print(secrets.token_hex())'`.", min=MIN_SECRET_KEY_LENGTH)))
    else:
        found.append(("ok", _("secrets: SECRET_KEY is set.")))
    if database_ready:
        found += _account_secrets(state)
    return found


def _account_secrets(state: HelpdeskState) -> list[Finding]:
    from sqlalchemy import select

    from .errors import ValidationError
    from .models import ChannelAccount
    from .services import channels

    accounts = list(state.db.session.scalars(
        select(ChannelAccount).where(ChannelAccount.secrets != "")
        .order_by(ChannelAccount.channel, ChannelAccount.name)))
    if not accounts:
        return []
    unreadable = []
    for account in accounts:
        try:
            channels.account_secrets(account)
        except ValidationError:
            unreadable.append(f"{account.channel}:{account.name}")
    state.db.session.rollback()
    if unreadable:
        return [("fail", _("secrets: the stored secrets of %(accounts)s cannot be decrypted:"
                           " set HELPDESK_SECRET_KEY (or SECRET_KEY) back to the key they were"
                           " saved with, or enter them again on the Channels page.",
                           accounts=", ".join(unreadable)))]
    readable = ngettext("secrets: the secrets of %(num)d account are readable.",
                        "secrets: the secrets of %(num)d accounts are readable.", len(accounts))
    if state.config["HELPDESK_SECRET_KEY"] is None:
        readable += " " + _("They are encrypted with SECRET_KEY: set HELPDESK_SECRET_KEY to"
                            " change SECRET_KEY without losing them.")
    return [("ok", readable)]


def _error(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
