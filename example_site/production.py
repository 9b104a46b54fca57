"""The example site run as production runs it: ``python -m example_site serve --production``.

The profile starts, in this order:

1. ``flask example init``: tables (``flask helpdesk db upgrade``), demo users and,
   once, the demo data;
2. ``--web`` web processes, each a gunicorn with one threaded worker
   (``example_site/gunicorn.conf.py``) on its own port, ``--port`` upwards;
3. one ``flask helpdesk worker`` (dramatiq on Redis: deliveries, sweeps) and one
   ``flask helpdesk scheduler`` (the single owner of the rules tick).

Every process gets the same configuration through ``FLASK_*`` variables:
the database (``FLASK_SQLALCHEMY_DATABASE_URI``, PostgreSQL or SQLite; the
instance folder's SQLite file when unset) and one Redis (``--redis``) as the
dramatiq broker, the Socket.IO message queue and the presence store. A
variable already set wins over the profile's default. Browsers connect to any
of the ports (a load balancer in front of them in a real deployment); the
helpdesk's pages use the websocket transport only, so no sticky sessions are
needed. Ctrl-C (or SIGTERM) stops every process; if one dies, the others are
stopped and the profile exits with an error.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import typing as t

from flask_helpdesk import demo

from . import DEMO_PASSWORD

#: The gunicorn settings every web process uses.
GUNICORN_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gunicorn.conf.py")
#: Where the profile's processes find Redis unless told otherwise.
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def environment(redis_url: str = DEFAULT_REDIS,
                base: t.Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every process of the profile.

    :param redis_url: Broker, Socket.IO message queue and presence store.
    :param base: The environment to start from (default ``os.environ``); its
        ``FLASK_HELPDESK_*`` values win over the profile's.
    """
    env = dict(os.environ if base is None else base)
    for key in ("BROKER_URL", "SOCKETIO_MESSAGE_QUEUE", "PRESENCE_URL"):
        env.setdefault(f"FLASK_HELPDESK_{key}", redis_url)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def web_command(port: int, *, threads: int = 100, host: str = "127.0.0.1") -> list[str]:
    """One web process: gunicorn with the profile's settings on ``host:port``."""
    return [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONF, "--bind", f"{host}:{port}",
            "--threads", str(threads), "--worker-connections", str(2 * threads),
            "example_site:create_app()"]


def flask_command(*args: str) -> list[str]:
    """``flask --app example_site ARGS`` with this interpreter."""
    return [sys.executable, "-m", "flask", "--app", "example_site", *args]


class Profile:
    """The processes of the profile, started and stopped together.

    :param env: From :func:`environment`.
    :param port: The first web process's port; the others follow it.
    :param web: How many web processes.
    :param threads: Threads per web process (each open websocket holds one).
    :param worker: Also run ``flask helpdesk worker`` and the scheduler.
    """

    def __init__(self, env: t.Mapping[str, str], *, port: int = 8000, web: int = 2,
                 threads: int = 100, worker: bool = True, host: str = "127.0.0.1") -> None:
        self.env, self.host, self.threads, self.worker = dict(env), host, threads, worker
        self.ports = [port + n for n in range(web)]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def urls(self) -> list[str]:
        return [f"http://{self.host}:{port}" for port in self.ports]

    def prepare(self) -> None:
        """``flask example init`` (tables, demo users, demo data once)."""
        subprocess.run(flask_command("example", "init"), env=self.env, check=True)

    def start(self, *, timeout: float = 60.0) -> None:
        """Start every process; return once every web port accepts connections.

        :raises RuntimeError: A process exited, or a port did not open in time.
        """
        for port in self.ports:
            self._spawn(f"web:{port}", web_command(port, threads=self.threads, host=self.host))
        if self.worker:
            self._spawn("worker", flask_command("helpdesk", "worker", "--threads", "4"))
            self._spawn("scheduler", flask_command("helpdesk", "scheduler"))
        deadline = time.monotonic() + timeout
        for port in self.ports:
            while not _port_open(self.host, port):
                self.check()
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the web process on port {port} did not start")
                time.sleep(0.1)

    def _spawn(self, name: str, command: list[str]) -> None:
        self.processes[name] = subprocess.Popen(command, env=self.env)

    def check(self) -> None:
        """:raises RuntimeError: A process of the profile has exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{name} exited with status {process.returncode}")

    def web_pids(self) -> list[int]:
        """The gunicorn arbiters' process ids, one per port (their workers are children)."""
        return [self.processes[f"web:{port}"].pid for port in self.ports]

    def stop(self, name: str | None = None, *, timeout: float = 15.0) -> None:
        """Stop one process (``"web:8001"``, ``"worker"``...) or all, gracefully."""
        chosen = [name] if name else list(self.processes)
        for key in chosen:
            if self.processes[key].poll() is None:
                self.processes[key].send_signal(signal.SIGTERM)
        for key in chosen:
            try:
                self.processes[key].wait(timeout)
            except subprocess.TimeoutExpired:
                self.processes[key].kill()
                self.processes[key].wait()


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def serve(*, port: int, web: int, threads: int, redis_url: str) -> int:
    """Run the profile until Ctrl-C or SIGTERM; the exit status."""
    profile = Profile(environment(redis_url), port=port, web=web, threads=threads)
    profile.prepare()
    stopping = False

    def _stop(*_args: t.Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    profile.start()
    print("\n  Example site (production profile): " + ", ".join(profile.urls))
    print("  Redis: broker, Socket.IO message queue, presence; a worker and a scheduler run.")
    print(f"  Log in as {', '.join(t[0] for t in demo.TEAM)} (agents) or boss (not an agent)")
    print(f"  Password for every demo user: {DEMO_PASSWORD}\n")
    try:
        while not stopping:
            profile.check()
            time.sleep(0.5)
    except RuntimeError as exc:
        print(f"example site: {exc}; stopped everything", file=sys.stderr)
        return 1
    finally:
        profile.stop()
    return 0
