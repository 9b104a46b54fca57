"""The ``flask helpdesk`` command group: thin adapters over services.

``init_app`` attaches a fresh group per app (``app.cli.add_command``), and
plugins add their commands through ``helpdesk_register_commands``. Commands
run in the app context Flask's CLI pushes. Bad input ends in a
:class:`click.ClickException` with a message naming the fix, never a
traceback. Every command is documented in ``docs/cli.rst``.
"""

from __future__ import annotations

import atexit
import gc
import re
import signal
import threading
import time
import typing as t

import click
from flask import current_app
from flask.cli import AppGroup
from flask.cli import ScriptInfo
from flask.cli import with_appcontext

from .errors import HelpdeskError
from .extension import get_state
from .i18n import _

if t.TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.engine import Engine

    from .models import Agent
    from .models import Group
    from .state import HelpdeskState

#: Words that make a config key secret: its value is never printed.
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY")
#: Core keys that contain a secret word but hold no secret.
NOT_SECRET = frozenset({"HELPDESK_DATABASE_BIND_KEY"})
#: What a secret is shown as.
MASK = "********"

_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:@/\s]*:)[^@/\s]+@")


def make_cli() -> click.Group:
    """A fresh ``helpdesk`` group for one app (plugins add to it)."""
    cli = AppGroup("helpdesk", help="Manage the helpdesk.", callback=_before_command)
    cli.add_command(db)
    cli.add_command(worker_command)
    cli.add_command(create_agent)
    cli.add_command(create_token)
    cli.add_command(doctor_command)
    cli.add_command(config_command)
    cli.add_command(plugins_command)
    cli.add_command(outbox_group)
    cli.add_command(run_rule_command)
    cli.add_command(scheduler_command)
    from .demo import demo_data_command

    cli.add_command(demo_data_command)
    return cli


# ------------------------------------------------------------------ helpers

_exit_freeze_registered = False

#: Commands that run before ``flask helpdesk db upgrade``; every other one,
#: plugins' included, needs the helpdesk tables at their revision.
WITHOUT_TABLES = frozenset({"db", "doctor", "config", "plugins", "worker", "scheduler"})


@click.pass_context
def _before_command(ctx: click.Context) -> None:
    _settle_startup(ctx)
    if ctx.invoked_subcommand in WITHOUT_TABLES or ctx.invoked_subcommand is None:
        return
    if current_app:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    else:
        app = ctx.ensure_object(ScriptInfo).load_app()
    with app.app_context():
        problem = get_state(app).schema.problem(log_it=False)
    if problem is not None:
        message = problem.message()
        if problem.detail:
            message = _("The helpdesk database cannot be reached: %(error)s",
                        error=problem.detail)
        raise click.ClickException(message)


def _settle_startup(ctx: click.Context) -> None:
    """Keep the cyclic garbage collector off what start-up built, while a command runs.

    Modules, classes and the app live as long as the process, yet each full
    collection walks all of them again: one during an import takes about as
    long as storing a batch, and the interpreter's exit runs several (0.3 s
    with the ORM loaded). ``gc.freeze()`` puts them out of the collector's
    sight for the command, ``gc.unfreeze()`` after it (a test runner calling
    commands keeps collecting its own garbage), and ``gc.freeze()`` once more
    at exit, when the process is about to give all its memory back anyway.
    """
    global _exit_freeze_registered
    gc.freeze()
    ctx.call_on_close(gc.unfreeze)
    if not _exit_freeze_registered:
        atexit.register(gc.freeze)
        _exit_freeze_registered = True


def mask_url(value: str) -> str:
    """Hide the password of a URL: ``redis://:pw@host`` -> ``redis://:***@host``."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + "***@", value)


def mask_value(key: str, value: t.Any) -> t.Any:
    """``value`` as safe to print: secrets masked, URL passwords hidden.

    A key is secret when its name contains one of :data:`SECRET_WORDS`
    (except :data:`NOT_SECRET`); an empty secret is shown as it is, so a
    missing setting is visible. Mappings and sequences are masked item by item.
    """
    upper = key.upper()
    if value in (None, "") or value == () or value == []:
        return value
    if upper not in NOT_SECRET and any(word in upper for word in SECRET_WORDS):
        return MASK
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, t.Mapping):
        return {k: mask_value(f"{key}_{k}", v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_value(key, v) for v in value)
    return value


def _engine(state: HelpdeskState) -> Engine:
    key = state.config.database_bind_key
    try:
        return state.db.engines[key]
    except KeyError:
        raise click.ClickException(
            _("HELPDESK_DATABASE_BIND_KEY=%(key)s names no bind of SQLALCHEMY_BINDS.",
              key=repr(key))) from None


def _fail(exc: BaseException) -> click.ClickException:
    if isinstance(exc, HelpdeskError):
        return click.ClickException(exc.message)
    return click.ClickException(f"{type(exc).__name__}: {exc}")


def _finish_embedded_jobs(state: HelpdeskState) -> None:
    """Let the in-process worker of the embedded broker finish before the CLI exits."""
    if state.jobs.embedded and state.jobs.worker is not None:
        state.jobs.join()
        state.jobs.stop()


# ----------------------------------------------------------------------- db


@click.group("db", cls=AppGroup)
def db() -> None:
    """Create and migrate the helpdesk's own tables (never the host's)."""


def _migrate(action: t.Callable[[], None]) -> None:
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    try:
        action()
    except (CommandError, RuntimeError) as exc:
        # RuntimeError: a setup problem that names its fix (e.g. pg_trgm missing).
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        error = str(getattr(exc, "orig", None) or exc)
        raise click.ClickException(
            _("The database refused the migration: %(error)s", error=error)) from None


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Create or migrate the helpdesk tables up to REVISION (default: head)."""
    from . import migrations

    engine = _engine(get_state())
    _migrate(lambda: migrations.upgrade(engine, revision))
    click.echo(_("Helpdesk tables of %(url)s are at revision %(rev)s.",
                 url=engine.url.render_as_string(hide_password=True),
                 rev=", ".join(migrations.current(engine)) or "base"))


@db.command("downgrade")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do not ask before removing tables.")
def db_downgrade(revision: str, yes: bool) -> None:
    """Migrate the helpdesk tables down to REVISION ("base" removes them all).

    The host's tables are never touched.
    """
    from . import migrations

    engine = _engine(get_state())
    if revision == "base" and not yes:
        click.confirm(_("Remove every helpdesk table and its data from %(url)s?",
                        url=engine.url.render_as_string(hide_password=True)), abort=True)
    _migrate(lambda: migrations.downgrade(engine, revision))
    click.echo(_("Helpdesk tables are at revision %(rev)s.",
                 rev=", ".join(migrations.current(engine)) or "base"))


@db.command("current")
def db_current() -> None:
    """Show the revision of the helpdesk tables and whether it is the newest."""
    from . import migrations

    engine = _engine(get_state())
    current: list[str] = []
    _migrate(lambda: current.extend(migrations.current(engine)))
    heads = migrations.heads()
    if not current:
        click.echo(_("Not migrated: run flask helpdesk db upgrade."))
    elif set(current) == set(heads):
        click.echo(_("%(rev)s (head)", rev=", ".join(current)))
    else:
        click.echo(_("%(rev)s; the newest is %(head)s: run flask helpdesk db upgrade.",
                     rev=", ".join(current), head=", ".join(heads)))


@db.command("revision", hidden=True)
@click.option("-m", "--message", required=True, help="What the revision changes.")
def db_revision(message: str) -> None:
    """For helpdesk contributors: write a revision from the models' changes."""
    from . import migrations

    path: list[str] = []
    _migrate(lambda: path.append(migrations.revision(_engine(get_state()), message)))
    click.echo(path[0])


# ------------------------------------------------------------------- worker


@click.command("worker")
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Worker threads.")
@click.option("--sweep/--no-sweep", default=True, show_default=True,
              help="Also send the outbox sweep periodically.")
@click.option("--sweep-interval", type=click.FloatRange(min=0.1), default=None,
              help="Seconds between sweeps [default: HELPDESK_SWEEP_INTERVAL].")
@click.option("--shutdown-timeout", type=click.FloatRange(min=0), default=30,
              show_default=True, help="Seconds running jobs get to finish on stop.")
@with_appcontext
def worker_command(
    threads: int, sweep: bool, sweep_interval: float | None, shutdown_timeout: float,
) -> None:
    """Run background jobs from the shared broker until SIGINT or SIGTERM."""
    state = get_state()
    jobs = state.jobs
    if jobs.embedded or state.config.broker_url == "stub":
        raise click.ClickException(_(
            "The worker needs a shared broker: set HELPDESK_BROKER_URL to a redis:// or"
            " amqp:// URL. The embedded broker runs its worker inside the web process."))
    try:
        jobs.check_broker()
    except Exception as exc:
        raise click.ClickException(_("Cannot reach the broker %(url)s: %(error)s",
                                     url=mask_url(str(jobs.url)), error=str(exc))) from None
    interval = (sweep_interval or state.config.sweep_interval) if sweep else 0
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_args: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    click.echo(_("Helpdesk worker: %(threads)d threads on %(url)s, jobs: %(jobs)s.",
                 threads=threads, url=mask_url(str(jobs.url)), jobs=", ".join(sorted(jobs.actors))))
    if interval:
        click.echo(_("Sweeping the outbox every %(seconds)s s.", seconds=interval))
    try:
        jobs.run_worker(stop, threads=threads, sweep_interval=interval,
                        shutdown_timeout_ms=int(shutdown_timeout * 1000))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(_("Helpdesk worker stopped."))


# -------------------------------------------------------------------- rules


@click.command("run-rule")
@click.argument("name")
@with_appcontext
def run_rule_command(name: str) -> None:
    """Run a rule now over every ticket meeting its conditions, in this process."""
    from .services import SYSTEM
    from .services import automation
    from .services import rules

    try:
        rule = rules.get_rule_by_name(name, actor=SYSTEM)
        run = automation.execute_run(rules.run_rule(rule.id, actor=SYSTEM, send=False).id)
    except HelpdeskError as exc:
        raise _fail(exc) from None
    _finish_embedded_jobs(get_state())
    click.echo(_("Rule %(name)s: %(total)d tickets, %(touched)d changed, %(skipped)d skipped,"
                 " %(failed)d failed.", name=name, total=run.total, touched=run.touched,
                 skipped=run.skipped, failed=run.failed))
    if run.state != "done":
        raise click.ClickException(_("The rule was paused: %(error)s", error=run.error))


@click.command("scheduler")
@click.option("--interval", type=click.FloatRange(min=0.1), default=None,
              help="Seconds between ticks [default: HELPDESK_RULES_TICK_INTERVAL].")
@click.option("--once", is_flag=True, help="Send one tick and exit.")
@with_appcontext
def scheduler_command(interval: float | None, once: bool) -> None:
    """Send the time-rules tick to the shared broker periodically (run exactly one)."""
    state = get_state()
    if state.jobs.embedded or state.config.broker_url == "stub":
        raise click.ClickException(_(
            "The scheduler needs a shared broker: set HELPDESK_BROKER_URL to a redis:// or"
            " amqp:// URL. The embedded broker ticks inside the web process."))
    every = interval or float(state.config["HELPDESK_RULES_TICK_INTERVAL"]) or 60.0
    schedule = {"rules_tick": every, **state.jobs.periodic}
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_args: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    click.echo(_("Helpdesk scheduler: a rules tick every %(seconds)s s.", seconds=every))
    for name, seconds in state.jobs.periodic.items():
        click.echo(_("Helpdesk scheduler: %(job)s every %(seconds)s s.", job=name,
                     seconds=seconds))
    due = dict.fromkeys(schedule, time.monotonic())
    try:
        while True:
            now = time.monotonic()
            for name in [n for n, at in due.items() if at <= now]:
                state.jobs.send(name)
                due[name] = now + schedule[name]
            if once or stop.wait(max(0.0, min(due.values()) - time.monotonic())):
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        state.jobs.broker.close()
    click.echo(_("Helpdesk scheduler stopped."))


# ------------------------------------------------------------- create-agent


@click.command("create-agent")
@click.option("--name", required=True, help="Display name.")
@click.option("--email", default=None, help="Email address (unique).")
@click.option("--user-id", default=None, help="The host's user id the agent logs in as.")
@click.option("--role", type=click.Choice(["agent", "manager", "admin"]), default="agent",
              show_default=True)
@click.option("--group", "groups", multiple=True, metavar="NAME",
              help="A group the agent works in, by name; repeat for several.")
@click.option("--create-groups", is_flag=True, help="Create the groups that do not exist.")
@with_appcontext
def create_agent(
    name: str, email: str | None, user_id: str | None, role: str, groups: tuple[str, ...],
    create_groups: bool,
) -> None:
    """Create an agent (and, with --create-groups, the missing groups)."""
    from .services import SYSTEM
    from .services import agents
    from .services import transaction

    try:
        # One transaction: a refused agent leaves no half-made groups behind.
        with transaction() as s:
            found = [_group(group, create_groups) for group in groups]
            s.flush()  # new groups get their ids
            agent = agents.create_agent(actor=SYSTEM, name=name, email=email, user_id=user_id,
                                        role=role, groups=[group.id for group in found])
    except HelpdeskError as exc:
        raise _fail(exc) from None
    click.echo(_("Created agent %(id)s: %(name)s (%(role)s).", id=agent.id, name=agent.name,
                 role=agent.role))


def _group(name: str, create: bool) -> Group:
    from .services import SYSTEM
    from .services import agents

    group = agents.get_group_by_name(name)
    if group is not None:
        return group
    if create:
        return agents.create_group(actor=SYSTEM, name=name)
    known = ", ".join(g.name for g in agents.list_groups()) or "-"
    raise click.ClickException(_(
        "No group named %(name)s (known: %(known)s); add --create-groups to create it.",
        name=name, known=known))


@click.command("create-token")
@click.argument("agent")
@click.option("--name", default="cli", show_default=True,
              help="What the token is for, shown in its agent's token list.")
@with_appcontext
def create_token(agent: str, name: str) -> None:
    """Create an API token for AGENT (an agent id, or an email address) and print it once.

    The secret goes to standard output alone, so a script can keep it:
    TOKEN=$(flask helpdesk create-token ada@example.com).
    """
    from .services import SYSTEM
    from .services import agents

    found = _find_agent(agent)
    if not found.active:
        raise click.ClickException(_(
            "Agent %(name)s is deactivated: a token of theirs would not work.",
            name=found.name))
    try:
        token, secret = agents.create_token(actor=SYSTEM, agent_id=found.id, name=name)
    except HelpdeskError as exc:
        raise _fail(exc) from None
    path = f"{get_state().config.url_prefix}/api/v1/tokens/{token.id}"
    click.echo(_("Created API token %(id)s (%(name)s) for %(agent)s. It is shown only now;"
                 " revoke it with DELETE %(path)s.", id=token.id, name=token.name,
                 agent=found.name, path=path), err=True)
    click.echo(secret)


def _find_agent(ref: str) -> Agent:
    from sqlalchemy import func
    from sqlalchemy import select

    from .models import Agent
    from .services import agents

    agent: Agent | None = None
    if ref.isascii() and ref.isdigit():
        agent = get_state().db.session.get(Agent, int(ref))
    elif "@" in ref:
        agent = get_state().db.session.scalar(
            select(Agent).where(func.lower(Agent.email) == ref.lower()))
    if agent is None:
        known = ", ".join(f"{a.id} {a.email or a.name}" for a in agents.list_agents()[:10])
        raise click.ClickException(_(
            "No agent %(ref)s: give an agent id or email address (agents: %(known)s).",
            ref=ref, known=known or "-"))
    return agent


# ------------------------------------------------------------------- doctor


@click.command("doctor")
@with_appcontext
def doctor_command() -> None:
    """Check the setup: database, broker, Redis, plugins, secrets; say what to do."""
    from .doctor import run_checks

    findings = run_checks(get_state())
    words = {"ok": "OK", "warn": "WARN", "fail": "FAIL"}
    for level, text in findings:
        click.echo(f"{words[level]:<5} {text}")
    failed = sum(level == "fail" for level, _text in findings)
    warned = sum(level == "warn" for level, _text in findings)
    click.echo(_("FAIL: %(failed)d, WARN: %(warned)d.", failed=failed, warned=warned))
    if failed:
        raise SystemExit(1)


# ------------------------------------------------------------------- config


@click.command("config")
@with_appcontext
def config_command() -> None:
    """List every HELPDESK_* setting and its effective value, secrets masked."""
    values = get_state().config.values
    for key in sorted(values):
        click.echo(f"{key} = {mask_value(key, values[key])!r}")


# ------------------------------------------------------------------ plugins


@click.command("plugins")
@with_appcontext
def plugins_command() -> None:
    """List the registered plugins: name, distribution, version and hooks."""
    from .plugins.manager import list_plugins

    for plugin in list_plugins(get_state().pm):
        line = plugin["name"]
        if plugin["distribution"]:
            line += f" ({plugin['distribution']} {plugin['version']})"
        if plugin["default"]:
            line += " " + _("[built in]")
        click.echo(line)
        for hook in plugin["hooks"]:
            click.echo(f"    {hook}")


# ------------------------------------------------------------------- outbox


@click.group("outbox", cls=AppGroup)
def outbox_group() -> None:
    """Inspect and nudge the delivery of replies."""


@outbox_group.command("status")
@click.option("--limit", type=click.IntRange(0, 1000), default=10, show_default=True,
              help="Failed replies to show.")
def outbox_status(limit: int) -> None:
    """Count replies per delivery state and show the latest failures."""
    from .services import outbox

    counts = outbox.stats()
    for state in ("queued", "sending", "sent", "failed"):
        click.echo(f"{state}: {counts.get(state, 0)}")
    for message in outbox.list_failed(limit) if limit else ():
        error = (message.last_error or "").splitlines()[0][:200] if message.last_error else ""
        click.echo(_("failed #%(id)s (ticket %(ticket)s, %(attempts)s attempts): %(error)s",
                     id=message.id, ticket=message.ticket_id, attempts=message.attempts,
                     error=error))


@outbox_group.command("sweep")
def outbox_sweep() -> None:
    """Send the delivery job again for every due or stuck reply now."""
    from .services import outbox

    state = get_state()
    ids = outbox.sweep()
    _finish_embedded_jobs(state)
    click.echo(_("Re-sent %(n)d replies.", n=len(ids)))


@outbox_group.command("retry")
@click.argument("message_id", type=int)
def outbox_retry(message_id: int) -> None:
    """Queue a failed reply for delivery again."""
    from .services import SYSTEM
    from .services import outbox

    try:
        outbox.retry(message_id, actor=SYSTEM)
    except HelpdeskError as exc:
        raise _fail(exc) from None
    _finish_embedded_jobs(get_state())
    click.echo(_("Reply %(id)s is queued again.", id=message_id))
