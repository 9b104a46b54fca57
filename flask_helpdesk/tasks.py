"""Background jobs on dramatiq, bound to each app's own broker.

Job bodies are plain functions that take ids and call services. Nothing is an
``@dramatiq.actor`` at import time (that would create dramatiq's implicit
global broker); :class:`Jobs` declares them on the app's broker in
``init_app``, named ``helpdesk.<job>`` on the queue ``helpdesk``, and
:class:`AppContextMiddleware` runs each in an app context.

Brokers (:data:`HELPDESK_BROKER_URL`):

- ``None`` / ``"embedded"``: an in-memory broker with an in-process worker,
  started on first use. Not durable: the database outbox and the sweeper make
  up for lost messages after a restart.
- ``"stub"``: an in-memory broker with no worker; tests drive it.
- ``redis://...``: Redis; ``amqp://...``: RabbitMQ. Run ``flask helpdesk worker``.
"""

from __future__ import annotations

import logging
import threading
import typing as t

import dramatiq
from dramatiq.brokers.stub import StubBroker

if t.TYPE_CHECKING:
    from flask import Flask
    from flask.ctx import AppContext

log = logging.getLogger("flask_helpdesk.tasks")

#: The queue every helpdesk job goes to.
QUEUE = "helpdesk"


class AppContextMiddleware(dramatiq.Middleware):
    """Push the app context around each message a worker thread processes."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._local = threading.local()

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        ctx = self.app.app_context()
        ctx.push()
        self._local.ctx = ctx

    def _pop(self) -> None:
        ctx: AppContext | None = getattr(self._local, "ctx", None)
        if ctx is not None:
            self._local.ctx = None
            ctx.pop()

    def after_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.Message, *,
        result: t.Any = None, exception: BaseException | None = None,
    ) -> None:
        self._pop()

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        self._pop()


# ---------------------------------------------------------------- job bodies


def deliver_message(message_id: int) -> None:
    """Deliver one outbound reply (idempotent: a claimed or sent row is left alone)."""
    from .services import outbox

    outbox.deliver(message_id)


def sweep_outbox() -> None:
    """Re-send every reply that is due or stuck (lost broker messages, crashes)."""
    from .services import outbox

    outbox.sweep()


#: Job name -> (body, dramatiq actor options).
JOBS: dict[str, tuple[t.Callable[..., None], dict[str, t.Any]]] = {
    "deliver_message": (deliver_message, {"max_retries": 5, "min_backoff": 1000}),
    "sweep_outbox": (sweep_outbox, {"max_retries": 0}),
}


def make_broker(url: str | None) -> tuple[dramatiq.Broker, bool]:
    """Build the broker for ``url``; the flag says whether to run a worker in-process."""
    if url in (None, "", "embedded"):
        return StubBroker(), True
    if url == "stub":
        return StubBroker(), False
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url), False
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url), False
    raise RuntimeError(
        f"HELPDESK_BROKER_URL={url!r} is not supported: use 'embedded', 'stub',"
        " a redis:// URL or an amqp:// URL."
    )


class Jobs:
    """The background jobs of one app.

    :param app: The host application.
    :param url: :data:`HELPDESK_BROKER_URL`.
    :param worker_threads: Threads of the embedded worker.
    :param extra_jobs: More jobs, name -> (body, actor options), from plugins.
    """

    def __init__(
        self, app: Flask, url: str | None, *, worker_threads: int = 2,
        sweep_interval: int = 60,
    ) -> None:
        self.broker, self.embedded = make_broker(url)
        self.broker.add_middleware(AppContextMiddleware(app))
        self.worker_threads = worker_threads
        self.sweep_interval = sweep_interval
        self.actors: dict[str, dramatiq.Actor[t.Any, t.Any]] = {}
        self.worker: dramatiq.Worker | None = None
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        for name, (fn, options) in JOBS.items():
            self.declare(name, fn, **options)

    def declare(self, name: str, fn: t.Callable[..., t.Any], **options: t.Any) -> None:
        """Declare a job on this app's broker as ``helpdesk.<name>``."""
        self.actors[name] = dramatiq.actor(
            fn, actor_name=f"helpdesk.{name}", queue_name=QUEUE, broker=self.broker, **options
        )

    def send(self, name: str, *args: t.Any, delay_ms: int | None = None) -> None:
        """Enqueue job ``name``; starts the embedded worker on first use."""
        if self.embedded:
            self.start()
        actor = self.actors[name]
        if delay_ms:
            actor.send_with_options(args=args, delay=delay_ms)
        else:
            actor.send(*args)

    def start(self, *, sweep: bool = True) -> None:
        """Start the in-process worker (and the sweeper thread) if not running."""
        with self._lock:
            if self.worker is not None:
                return
            self.worker = dramatiq.Worker(self.broker, worker_threads=self.worker_threads)
            self.worker.start()
            if sweep and self.sweep_interval > 0:
                self._stop.clear()
                self._sweeper = threading.Thread(
                    target=self._sweep_loop, name="helpdesk-sweeper", daemon=True
                )
                self._sweeper.start()

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.sweep_interval):
            try:
                self.actors["sweep_outbox"].send()
            except Exception:
                log.exception("could not enqueue the outbox sweep")

    def join(self, timeout_ms: int = 30_000) -> None:
        """Wait until the queue is empty and the worker idle (embedded and stub)."""
        self.broker.join(QUEUE, timeout=timeout_ms)
        if self.worker is not None:
            self.worker.join()

    def stop(self) -> None:
        """Stop the worker and sweeper and close the broker."""
        self._stop.set()
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.broker.close()
