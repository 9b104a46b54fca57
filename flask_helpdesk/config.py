"""Configuration keys of the helpdesk and their defaults.

Every key starts with ``HELPDESK_``. :meth:`Helpdesk.init_app` applies
:data:`DEFAULTS` with ``app.config.setdefault`` (so ``app.config`` shows the
effective values), adds the defaults that plugins declare through
``helpdesk_config_defaults``, and freezes the result into a
:class:`HelpdeskConfig`. The helpdesk never reads ``app.config`` again.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing as t
from types import MappingProxyType

if t.TYPE_CHECKING:
    from flask import Flask

#: Allowed values of :data:`HELPDESK_SQLITE_SYNCHRONOUS` (``OFF`` is not: an
#: operating system crash could corrupt the file).
SQLITE_SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")

#: Defaults of the core keys, in documentation order. Each key has a
#: ``.. data::`` entry in ``docs/config.rst``.
DEFAULTS: dict[str, t.Any] = {
    #: URL prefix of every helpdesk page and of the REST API.
    "HELPDESK_URL_PREFIX": "/helpdesk",
    #: Flask-SQLAlchemy bind key for the helpdesk tables; ``None`` uses the
    #: host's default engine.
    "HELPDESK_DATABASE_BIND_KEY": None,
    #: Where background jobs go: ``None`` or ``"embedded"`` for an in-memory
    #: broker with an in-process worker, ``"stub"`` for an in-memory broker
    #: with no worker (tests drive it), ``redis://...`` or ``amqp://...``.
    "HELPDESK_BROKER_URL": None,
    #: Worker threads of the embedded in-process worker.
    "HELPDESK_EMBEDDED_WORKER_THREADS": 2,
    #: Directory of the default local attachment storage; ``None`` means
    #: ``<instance_path>/helpdesk-attachments``.
    "HELPDESK_ATTACHMENT_DIR": None,
    #: Largest accepted attachment, in bytes.
    "HELPDESK_MAX_ATTACHMENT_SIZE": 25 * 1024 * 1024,
    #: Most attachments accepted on one message.
    "HELPDESK_MAX_ATTACHMENTS_PER_MESSAGE": 20,
    #: Plugin names never loaded (entry-point names or registered names).
    "HELPDESK_DISABLED_PLUGINS": (),
    #: Load plugins from the ``flask_helpdesk`` entry-point group.
    "HELPDESK_LOAD_ENTRY_POINTS": True,
    #: Log every hook call to the ``flask_helpdesk.plugins`` logger.
    "HELPDESK_TRACE_HOOKS": False,
    #: Languages of the full-text search (PostgreSQL configuration names).
    "HELPDESK_SEARCH_LANGUAGES": ("english", "russian", "portuguese"),
    #: Default page size of ticket lists.
    "HELPDESK_PAGE_SIZE": 25,
    #: Seconds the inbox sidebar's counts (views, groups, tags) are reused for
    #: agents who see the same tickets; 0 counts on every page.
    "HELPDESK_COUNT_CACHE_SECONDS": 10,
    #: Saved-view counts in the inbox sidebar stop at this many tickets and
    #: show "N+" (a count never reads more rows than this); 0 counts exactly.
    "HELPDESK_VIEW_COUNT_LIMIT": 1000,
    #: Largest page size a client may ask for.
    "HELPDESK_MAX_PAGE_SIZE": 100,
    #: Delivery attempts of one outbound message before it is marked failed.
    "HELPDESK_DELIVERY_MAX_ATTEMPTS": 8,
    #: Base delay in seconds of the delivery backoff (doubled per attempt).
    "HELPDESK_DELIVERY_BACKOFF": 30,
    #: Seconds after which a message stuck in ``sending`` is retried.
    "HELPDESK_DELIVERY_LEASE": 300,
    #: Replies delivered one after another by one ``deliver_messages`` job
    #: when many are queued at once (a rule's mass notice, the sweeper).
    "HELPDESK_DELIVERY_BATCH_SIZE": 50,
    #: Seconds between two runs of the outbox sweeper.
    "HELPDESK_SWEEP_INTERVAL": 60,
    #: Socket.IO message queue URL used by workers to emit (``None``: none).
    "HELPDESK_SOCKETIO_MESSAGE_QUEUE": None,
    #: Channel of that message queue; give the host's ``SocketIO`` the same
    #: ``channel=``. Several helpdesks sharing one Redis need one each.
    "HELPDESK_SOCKETIO_CHANNEL": "flask-socketio",
    #: Where presence (who views or writes on a ticket) lives: ``None`` or
    #: ``"memory"`` for one web process, a ``redis://`` URL for several.
    "HELPDESK_PRESENCE_URL": None,
    #: Seconds a tab's presence outlives its last heartbeat (browsers beat
    #: every third of it), so a closed tab or a lost network drops out.
    "HELPDESK_PRESENCE_TTL": 10,
    #: Most Socket.IO events one connection may send per second; more are
    #: dropped and logged.
    "HELPDESK_REALTIME_RATE_LIMIT": 10,
    #: Longest draft of a reply or note kept on the server, in characters of
    #: its text and its HTML together; a longer one is refused.
    "HELPDESK_DRAFT_MAX_CHARS": 500_000,
    #: Language used when an agent has none set.
    "HELPDESK_DEFAULT_LANGUAGE": "en",
    #: Languages offered to agents.
    "HELPDESK_LANGUAGES": ("en", "ru", "pt_BR"),
    #: Spam score (0 to 1) at or above which a new inbound ticket is ``spam``.
    "HELPDESK_SPAM_THRESHOLD": 0.8,
    #: Turn on WAL and a busy timeout on the helpdesk's SQLite engine and start
    #: service writes with ``BEGIN IMMEDIATE``, so web requests and the
    #: in-process worker never fail with "database is locked".
    "HELPDESK_SQLITE_TUNING": True,
    #: SQLite's ``synchronous`` setting under that tuning: ``NORMAL`` (WAL
    #: stays consistent; a power cut may undo the last commits), ``FULL`` or
    #: ``EXTRA`` (every commit waits for the disk).
    "HELPDESK_SQLITE_SYNCHRONOUS": "NORMAL",
    #: Mount the JSON REST API under ``<prefix>/api/v1``.
    "HELPDESK_API_ENABLED": True,
    #: Largest REST API request body, in bytes; larger requests get a 413.
    "HELPDESK_API_MAX_REQUEST_SIZE": 64 * 1024 * 1024,
    #: Key that encrypts channel account secrets (mailbox passwords, tokens)
    #: at rest; any string, or ``None`` to use the app's ``SECRET_KEY``.
    "HELPDESK_SECRET_KEY": None,
    #: Seconds between two evaluations of the time rules: by the embedded
    #: worker's ticker, or by ``flask helpdesk scheduler``; 0 turns the
    #: embedded ticker off.
    "HELPDESK_RULES_TICK_INTERVAL": 60,
    #: Tickets per ``rules_run_batch`` job of a manual rule run: workers
    #: share a large run batch by batch.
    "HELPDESK_RULE_RUN_BATCH_SIZE": 500,
    #: Key of the HMAC-SHA256 signature of rule webhooks (``None``: unsigned).
    "HELPDESK_WEBHOOK_SECRET": None,
    #: Seconds a rule webhook may take before it is retried.
    "HELPDESK_WEBHOOK_TIMEOUT": 10,
}


@dataclasses.dataclass(frozen=True)
class HelpdeskConfig:
    """The effective configuration of one app, read once by ``init_app``.

    Attributes mirror the core keys without the ``HELPDESK_`` prefix, in
    lower case. :attr:`values` holds every ``HELPDESK_*`` key, including the
    keys that plugins declare.
    """

    url_prefix: str
    database_bind_key: str | None
    broker_url: str | None
    embedded_worker_threads: int
    attachment_dir: str | None
    max_attachment_size: int
    max_attachments_per_message: int
    disabled_plugins: tuple[str, ...]
    load_entry_points: bool
    trace_hooks: bool
    search_languages: tuple[str, ...]
    page_size: int
    count_cache_seconds: float
    view_count_limit: int
    max_page_size: int
    delivery_max_attempts: int
    delivery_backoff: float
    delivery_lease: int
    delivery_batch_size: int
    sweep_interval: float
    socketio_message_queue: str | None
    socketio_channel: str
    presence_url: str | None
    presence_ttl: float
    realtime_rate_limit: int
    draft_max_chars: int
    default_language: str
    languages: tuple[str, ...]
    spam_threshold: float
    sqlite_tuning: bool
    sqlite_synchronous: str
    api_enabled: bool
    api_max_request_size: int
    secret_key: str | None
    values: t.Mapping[str, t.Any]

    def __getitem__(self, key: str) -> t.Any:
        return self.values[key]


def apply_defaults(app: Flask, extra: t.Mapping[str, t.Any] = MappingProxyType({})) -> None:
    """Set every default not already in ``app.config``.

    :param app: The host application.
    :param extra: Plugin defaults; keys must start with ``HELPDESK_``.
    :raises RuntimeError: A plugin declared a key without the prefix.
    """
    for key, value in {**DEFAULTS, **extra}.items():
        if not key.startswith("HELPDESK_"):
            raise RuntimeError(
                f"Plugin config key {key!r} must start with 'HELPDESK_<PLUGIN>_'."
            )
        app.config.setdefault(key, value)


def unknown_keys(
    config: t.Mapping[str, t.Any], known: t.Iterable[str],
) -> list[tuple[str, str | None]]:
    """The ``HELPDESK_*`` keys of ``config`` that nothing reads, with the closest known key.

    :param config: The app's configuration.
    :param known: The core's keys and the keys plugins declared through
        ``helpdesk_config_defaults``.
    :return: ``(key, closest or None)`` pairs, sorted by key.
    """
    known = set(known)
    prefix = len("HELPDESK_")
    # Compared without the prefix every key shares, which would make any key "close".
    names = {key[prefix:]: key for key in known}
    out = []
    for key in sorted(k for k in config if k.startswith("HELPDESK_") and k not in known):
        close = difflib.get_close_matches(key[prefix:], sorted(names), n=1, cutoff=0.6)
        out.append((key, names[close[0]] if close else None))
    return out


def read_config(app: Flask) -> HelpdeskConfig:
    """Freeze the ``HELPDESK_*`` keys of ``app.config``.

    :raises RuntimeError: A core key has a value of the wrong kind.
    """
    values = {k: v for k, v in app.config.items() if k.startswith("HELPDESK_")}
    kwargs: dict[str, t.Any] = {}
    for field in dataclasses.fields(HelpdeskConfig):
        if field.name == "values":
            continue
        value = values[f"HELPDESK_{field.name.upper()}"]
        if isinstance(value, list | set):
            value = tuple(value)
        kwargs[field.name] = value
    for key in ("page_size", "max_page_size", "max_attachment_size", "delivery_max_attempts",
                "delivery_batch_size", "api_max_request_size", "draft_max_chars"):
        if not isinstance(kwargs[key], int) or kwargs[key] < 1:
            raise RuntimeError(f"HELPDESK_{key.upper()} must be a positive integer.")
    if not isinstance(kwargs["view_count_limit"], int) or kwargs["view_count_limit"] < 0:
        raise RuntimeError("HELPDESK_VIEW_COUNT_LIMIT must be an integer, 0 or more.")
    if str(kwargs["sqlite_synchronous"]).upper() not in SQLITE_SYNCHRONOUS:
        raise RuntimeError("HELPDESK_SQLITE_SYNCHRONOUS must be one of "
                           + ", ".join(SQLITE_SYNCHRONOUS) + ".")
    kwargs["sqlite_synchronous"] = str(kwargs["sqlite_synchronous"]).upper()
    if kwargs["secret_key"] is None and app.config.get("SECRET_KEY"):
        kwargs["secret_key"] = str(app.config["SECRET_KEY"])
    kwargs["url_prefix"] = "/" + kwargs["url_prefix"].strip("/")
    return HelpdeskConfig(**kwargs, values=MappingProxyType(dict(values)))
