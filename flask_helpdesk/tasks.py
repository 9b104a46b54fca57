"""Background jobs on dramatiq, bound to each app's own broker.

Job bodies are plain functions that take ids and call services. Nothing is an
``@dramatiq.actor`` at import time (that would create dramatiq's implicit
global broker); :class:`Jobs` declares them on the app's broker in
``init_app``, named ``helpdesk.<job>`` on the queue ``helpdesk``, and
:class:`AppContextMiddleware` runs each in an app context.

Brokers (:data:`HELPDESK_BROKER_URL`):

- ``None`` / ``"embedded"``: an in-memory broker with an in-process worker,
  started on first use (the first job sent or the first request). Not
  durable: the database outbox and the sweeper make up for lost messages
  after a restart.
- ``"stub"``: an in-memory broker with no worker; tests drive it.
- ``redis://...``: Redis; ``amqp://...``: RabbitMQ. Run ``flask helpdesk worker``.

Correctness never depends on the broker: a job's state lives in the database
(the outbox rows), jobs are idempotent, and :class:`Sweeper` re-sends whatever
is due or stuck.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import threading
import typing as t

import dramatiq
from dramatiq.brokers.stub import StubBroker

if t.TYPE_CHECKING:
    from dramatiq.broker import MessageProxy
    from flask import Flask
    from flask.ctx import AppContext

log = logging.getLogger("flask_helpdesk.tasks")

#: The queue every helpdesk job goes to.
QUEUE = "helpdesk"

#: Prefix of every actor name.
ACTOR_PREFIX = "helpdesk."

#: How long the embedded worker's threads wait for a message before looking
#: again (ms); bounds how long stopping it takes.
EMBEDDED_WORKER_TIMEOUT = 250


class AppContextMiddleware(dramatiq.Middleware):
    """Push the app context around each message a worker thread processes.

    The context is popped after the message was processed, failed or was
    skipped, which also removes the thread's database session.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._local = threading.local()

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        ctx = self.app.app_context()
        ctx.push()
        self._local.ctx = ctx

    def _pop(self) -> None:
        ctx: AppContext | None = getattr(self._local, "ctx", None)
        if ctx is not None:
            self._local.ctx = None
            ctx.pop()

    def after_process_message(
        self, broker: dramatiq.Broker, message: MessageProxy, *,
        result: t.Any = None, exception: BaseException | None = None,
    ) -> None:
        self._pop()

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self._pop()


# ---------------------------------------------------------------- job bodies


def deliver_message(message_id: int) -> None:
    """Deliver one outbound reply.

    Idempotent: a row that is sent, failed, not yet due or claimed by another
    worker is left alone (see :func:`flask_helpdesk.services.outbox.deliver`).
    """
    from .services import outbox

    outbox.deliver(message_id)


def deliver_messages(message_ids: list[int]) -> None:
    """Deliver queued replies one after another, each as :func:`deliver_message` does.

    Sent for many replies queued at once (see
    :func:`flask_helpdesk.services.outbox.enqueue`); one failing reply does
    not stop the others.
    """
    from .services import outbox

    outbox.deliver_many(message_ids)


def sweep_outbox() -> None:
    """Re-send every reply that is due or stuck (lost broker messages, crashes)."""
    from .services import outbox

    outbox.sweep()


def rules_tick() -> None:
    """Fire the time rules on every due ticket (sent periodically by the scheduler)."""
    from .services import automation

    automation.tick()


def rules_apply(rule_id: int, ticket_ids: list[int]) -> None:
    """Apply a time rule to a batch of tickets it fired on (ledger rows already committed)."""
    from .services import automation

    automation.apply_batch(rule_id, ticket_ids)


def rules_run(run_id: int) -> None:
    """Start a manual "run rule" request: find its tickets, send a batch job per share."""
    from .services import automation

    automation.execute_run(run_id, fan_out=True)


def rules_run_batch(run_id: int, ticket_ids: list[int]) -> None:
    """Apply a manual run's rule to one batch of its tickets, counting progress."""
    from .services import automation

    automation.run_batch(run_id, ticket_ids)


def rules_webhook(event_id: int) -> None:
    """POST a rule's webhook (signed with HMAC-SHA256); an error makes dramatiq retry."""
    from .services import automation

    automation.call_webhook(event_id)


def notify_agents_email(notification_ids: list[int]) -> None:
    """Mail rule notifications to their agents (``helpdesk_notify_agent_email``).

    Idempotent: one already mailed is not mailed again. A temporary failure
    raises, and dramatiq retries the ones still queued.
    """
    from .services import notifications

    notifications.send_emails(notification_ids, link=_ticket_url)


def _ticket_url(ticket_id: int) -> str | None:
    """The absolute address of a ticket page, when the app knows its own name.

    The helpdesk has no base-URL setting of its own: Flask's ``SERVER_NAME``
    (with ``PREFERRED_URL_SCHEME`` and ``APPLICATION_ROOT``) builds it.
    """
    from flask import current_app
    from flask import url_for

    if not current_app.config.get("SERVER_NAME"):
        return None
    return url_for("helpdesk.agent.ticket", ticket_id=ticket_id, _external=True)


#: Core jobs: name -> (body, dramatiq actor options). Delivery errors are
#: retried by the outbox itself (backoff recorded in the database); dramatiq's
#: own retries only cover unexpected errors such as a lost database.
JOBS: dict[str, tuple[t.Callable[..., None], dict[str, t.Any]]] = {
    "deliver_message": (deliver_message, {"max_retries": 3, "min_backoff": 1000}),
    "deliver_messages": (deliver_messages, {"max_retries": 0}),
    "sweep_outbox": (sweep_outbox, {"max_retries": 0}),
    "rules_tick": (rules_tick, {"max_retries": 0}),
    "rules_apply": (rules_apply, {"max_retries": 3, "min_backoff": 1000}),
    "rules_run": (rules_run, {"max_retries": 0}),
    "rules_run_batch": (rules_run_batch, {"max_retries": 0}),
    "rules_webhook": (rules_webhook, {"max_retries": 5, "min_backoff": 1000,
                                      "max_backoff": 300_000}),
    "notify_agents_email": (notify_agents_email, {"max_retries": 5, "min_backoff": 5000,
                                                  "max_backoff": 600_000}),
}


def make_broker(url: str | None) -> tuple[dramatiq.Broker, bool]:
    """Build the broker for ``url``; the flag says whether to run a worker in-process.

    :raises RuntimeError: The URL names no supported broker, or the client
        library of its kind is not installed (the message names the extra).
    """
    if url in (None, "", "embedded"):
        return StubBroker(), True
    if url == "stub":
        return StubBroker(), False
    assert url is not None
    if url.startswith(("redis://", "rediss://", "unix://")):
        with needs_extra("redis", "HELPDESK_BROKER_URL", url):
            from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url), False  # type: ignore[no-untyped-call]
    if url.startswith(("amqp://", "amqps://")):
        with needs_extra("rabbitmq", "HELPDESK_BROKER_URL", url):
            from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url), False
    raise RuntimeError(
        f"HELPDESK_BROKER_URL={_scheme(url)!r} is not supported: use 'embedded', 'stub',"
        " a redis:// URL or an amqp:// URL."
    )


def _scheme(url: str) -> str:
    return url.split("://", 1)[0] + "://..." if "://" in url else url


@contextlib.contextmanager
def needs_extra(extra: str, key: str, url: str) -> t.Iterator[None]:
    """Turn a missing client library into a RuntimeError naming the extra to install."""
    try:
        yield
    except ImportError as exc:
        raise RuntimeError(
            f"{key}={_scheme(url)!r} needs the {extra!r} extra, which is not installed"
            f" ({exc}): pip install \"flask-helpdesk[{extra}]\"."
        ) from exc


def _unless_not_set_up(fn: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    """Skip the job while the helpdesk tables are missing or outdated.

    The check logs the problem once (no traceback per job); nothing is lost:
    replies stay queued in the outbox and the sweeper and the tick send their
    jobs again once ``flask helpdesk db upgrade`` has run.
    """

    @functools.wraps(fn)
    def job(*args: t.Any, **kwargs: t.Any) -> t.Any:
        from .extension import get_state

        if get_state().schema.problem() is not None:
            return None
        return fn(*args, **kwargs)

    return job


class Sweeper:
    """A thread that sends a job periodically: the outbox sweep, or the rules tick.

    The first one is sent at once, so replies left behind by a restart go
    out without waiting a whole interval.

    :param jobs: The jobs of the app.
    :param interval: Seconds between two sends.
    :param job: The job to send.
    """

    def __init__(self, jobs: Jobs, interval: float, job: str = "sweep_outbox") -> None:
        self.jobs = jobs
        self.interval = interval
        self.job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="helpdesk-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop sending sweeps and wait for the thread to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            try:
                self.jobs.actors[self.job].send()
            except Exception as exc:
                # A broker outage must not kill the sweeper: try again next time.
                log.warning("could not send the periodic job %s (%s: %s); trying again"
                            " in %s s", self.job, type(exc).__name__, exc, self.interval)
            if self._stop.wait(self.interval):
                return


class Jobs:
    """The background jobs of one app: its broker, actors and embedded worker.

    Reached as ``helpdesk.jobs`` (the :class:`~flask_helpdesk.state.HelpdeskState`).

    :param app: The host application.
    :param url: :data:`HELPDESK_BROKER_URL`.
    :param worker_threads: Threads of the embedded worker.
    :param sweep_interval: Seconds between two sweeps of the embedded worker;
        0 turns its sweeper off.
    """

    def __init__(
        self, app: Flask, url: str | None, *, worker_threads: int = 2,
        sweep_interval: float = 60,
    ) -> None:
        self.url = url
        self.broker, self.embedded = make_broker(url)
        self.broker.add_middleware(AppContextMiddleware(app))
        self.worker_threads = worker_threads
        self.sweep_interval = sweep_interval
        self.actors: dict[str, dramatiq.Actor[t.Any, t.Any]] = {}
        self.worker: dramatiq.Worker | None = None
        self.sweeper: Sweeper | None = None
        self.ticker: Sweeper | None = None
        #: Jobs sent periodically, name -> seconds (see :meth:`every`).
        self.periodic: dict[str, float] = {}
        self._periodic_threads: list[Sweeper] = []
        #: Seconds between two rules ticks of the embedded worker (0: none).
        self.tick_interval = float(app.config.get("HELPDESK_RULES_TICK_INTERVAL", 60))
        self._lock = threading.Lock()
        self._closed = False
        for name, (fn, options) in JOBS.items():
            self.declare(name, fn, **options)
        # A delivery that outlives its lease may be claimed again by another
        # worker; stop it by then (init time: the config is already final).
        lease_ms = int(app.config.get("HELPDESK_DELIVERY_LEASE", 300) * 1000)
        for name in ("deliver_message", "deliver_messages"):
            self.actors[name].options["time_limit"] = max(lease_ms, 1000)
        if self.embedded:
            app.before_request(self._start_on_request)

    # ------------------------------------------------------------ declaring

    def every(self, name: str, interval: float) -> None:
        """Send the declared job ``name`` (it takes no arguments) every ``interval`` seconds.

        The embedded worker sends it from a thread of its own; with a shared
        broker ``flask helpdesk scheduler`` sends it. Plugins call this from
        ``helpdesk_startup``, after :meth:`declare`.

        :raises RuntimeError: The job is not declared or the interval is not positive.
        """
        if name not in self.actors:
            raise RuntimeError(f"Declare the job {name!r} with jobs.declare() before"
                               " scheduling it with jobs.every().")
        if not interval > 0:
            raise RuntimeError(f"The interval of the periodic job {name!r} must be positive.")
        self.periodic[name] = float(interval)

    def declare(self, name: str, fn: t.Callable[..., t.Any], **options: t.Any) -> None:
        """Declare a job on this app's broker as ``helpdesk.<name>``.

        Plugins declare their jobs from their ``helpdesk_startup`` hook, which
        runs in every process (web, worker, CLI), so the worker knows them:

        .. code-block:: python

            @hookimpl
            def helpdesk_startup(helpdesk):
                helpdesk.jobs.declare("jira_sync_issue", sync_issue, max_retries=5)

        :param name: Job name; prefix it with the plugin's name.
        :param fn: The job body: takes ids and small JSON values, calls
            services, is idempotent. It runs in an app context.
        :param options: dramatiq actor options (``max_retries``,
            ``min_backoff``, ``time_limit``, ``priority``...).
        :raises RuntimeError: The name is taken, or a queue was asked for
            (every helpdesk job shares the ``helpdesk`` queue).
        """
        if name in self.actors:
            raise RuntimeError(
                f"A helpdesk job named {name!r} is already declared; prefix your job names"
                " with your plugin's name."
            )
        if "queue_name" in options:
            raise RuntimeError(
                f"Job {name!r}: helpdesk jobs all go to the {QUEUE!r} queue; drop queue_name."
            )
        declare = dramatiq.actor(
            actor_name=ACTOR_PREFIX + name, queue_name=QUEUE, broker=self.broker, **options
        )
        self.actors[name] = declare(_unless_not_set_up(fn))

    # ------------------------------------------------------------- sending

    def send(self, name: str, *args: t.Any, delay_ms: int | None = None) -> dramatiq.Message[t.Any]:
        """Enqueue job ``name`` with ``args``; starts the embedded worker on first use.

        :param delay_ms: Run no sooner than this many milliseconds from now.
        :raises RuntimeError: No job of that name is declared.
        """
        try:
            actor = self.actors[name]
        except KeyError:
            raise RuntimeError(
                f"No helpdesk job named {name!r}: declare it with helpdesk.jobs.declare()."
            ) from None
        if self.embedded:
            self.start()
        if delay_ms:
            return actor.send_with_options(args=args, delay=delay_ms)
        return actor.send(*args)

    # ----------------------------------------------------- embedded worker

    def _start_on_request(self) -> None:
        if self.embedded and self.worker is None and not self._closed:
            self.start()

    def start(self, *, sweep: bool = True) -> None:
        """Start the in-process worker (and the sweeper) unless already running.

        Used by the embedded broker; shared brokers run ``flask helpdesk worker``.
        """
        with self._lock:
            if self.worker is not None or self._closed:
                return
            self.worker = dramatiq.Worker(self.broker, worker_threads=self.worker_threads,
                                          worker_timeout=EMBEDDED_WORKER_TIMEOUT)
            self.worker.start()
            if sweep and self.sweep_interval > 0:
                self.sweeper = Sweeper(self, self.sweep_interval)
                self.sweeper.start()
            if sweep and self.tick_interval > 0:
                self.ticker = Sweeper(self, self.tick_interval, "rules_tick")
                self.ticker.start()
            if sweep:
                self._periodic_threads = [Sweeper(self, interval, name)
                                          for name, interval in self.periodic.items()]
                for thread in self._periodic_threads:
                    thread.start()
            atexit.register(self.stop)
            log.info("embedded helpdesk worker started (%d threads)", self.worker_threads)

    def join(self, timeout_ms: int = 30_000) -> None:
        """Wait until the queue is empty and the worker idle (in-memory brokers)."""
        self.broker.join(QUEUE, timeout=timeout_ms)
        if self.worker is not None:
            self.worker.join()

    def stop(self, timeout_ms: int = 30_000) -> None:
        """Stop the sweeper and the worker, then close the broker. Idempotent.

        Messages still in an in-memory broker are dropped; their outbox rows
        stay ``queued`` and are swept after the next start.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for thread in (self.sweeper, self.ticker, *self._periodic_threads):
                if thread is not None:
                    thread.stop()
            self.sweeper = self.ticker = None
            self._periodic_threads = []
            if self.worker is not None:
                self.worker.stop(timeout=timeout_ms)
                self.worker = None
            atexit.unregister(self.stop)
        self.broker.close()

    # --------------------------------------------------- dedicated workers

    def check_broker(self) -> None:
        """Connect to a shared broker once, so a wrong URL fails early and clearly.

        :raises Exception: The client library's connection error.
        """
        client = getattr(self.broker, "client", None)
        if client is not None:  # Redis
            client.ping()
        elif hasattr(self.broker, "channel"):  # RabbitMQ: opens a connection and channel
            self.broker.channel  # noqa: B018

    def run_worker(
        self, stop: threading.Event, *, threads: int = 8, sweep_interval: float = 0,
        shutdown_timeout_ms: int = 30_000,
    ) -> None:
        """Run a dramatiq worker on this broker until ``stop`` is set.

        Backs ``flask helpdesk worker``. The caller handles signals.

        :param threads: Worker threads.
        :param sweep_interval: Seconds between sweeps; 0 sends none.
        :param shutdown_timeout_ms: How long to let running jobs finish.
        """
        dramatiq.set_broker(self.broker)
        worker = dramatiq.Worker(self.broker, worker_threads=threads)
        worker.start()
        sweeper = Sweeper(self, sweep_interval) if sweep_interval > 0 else None
        if sweeper is not None:
            sweeper.start()
        try:
            stop.wait()
        finally:
            if sweeper is not None:
                sweeper.stop()
            worker.stop(timeout=shutdown_timeout_ms)
            self.broker.close()
            self._closed = True
