"""The per-app state of the helpdesk, reached through ``app.extensions``."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import typing as t

if t.TYPE_CHECKING:
    import pluggy
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy.engine import Engine

    from .config import HelpdeskConfig
    from .extension import Helpdesk
    from .migrations import SchemaStatus
    from .presence import PresenceStore
    from .realtime import Emitter
    from .storage import Storage
    from .tasks import Jobs


@dataclasses.dataclass(eq=False)
class HelpdeskState:
    """Everything the helpdesk keeps for one app.

    Plugins receive it as the ``helpdesk`` argument of hooks.

    :ivar app: The host application.
    :ivar extension: The :class:`~flask_helpdesk.Helpdesk` object.
    :ivar db: The host's Flask-SQLAlchemy object; services use its session.
    :ivar config: The frozen configuration.
    :ivar pm: The app's pluggy plugin manager.
    :ivar storage: Attachment storage.
    :ivar emitter: Realtime broadcaster.
    :ivar jobs: Background jobs (the dramatiq broker and actors).
    :ivar channels: Channel names declared by plugins, with their labels.
    :ivar presence: Who is viewing or writing on which ticket.
    :ivar schema: Whether the helpdesk tables are ready for this code.
    """

    app: Flask
    extension: Helpdesk
    db: SQLAlchemy
    config: HelpdeskConfig
    pm: pluggy.PluginManager
    storage: Storage
    emitter: Emitter
    jobs: Jobs
    channels: dict[str, str]
    presence: PresenceStore
    schema: SchemaCheck = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.schema = SchemaCheck(
            lambda: self.db.engines[self.config.database_bind_key])

    def setup_problem(self) -> SetupProblem | None:
        """What keeps the helpdesk from serving, if anything: no ``SECRET_KEY``,
        tables missing or outdated, the database out of reach.

        Cheap once everything is ready (see :class:`SchemaCheck`).
        """
        if not self.app.secret_key:
            return SetupProblem("secret_key_missing")
        return self.schema.problem()

    @property
    def hook(self) -> t.Any:
        """Shortcut for ``pm.hook``."""
        return self.pm.hook


def default_attachment_dir(app: Flask, configured: str | None) -> str:
    return configured or os.path.join(app.instance_path, "helpdesk-attachments")


log = logging.getLogger("flask_helpdesk")


@dataclasses.dataclass(frozen=True)
class SetupProblem:
    """Why the helpdesk cannot serve yet, and what to do about it.

    :ivar code: Stable, for programs: ``database_not_set_up``,
        ``database_outdated``, ``database_unreachable`` or ``secret_key_missing``.
    :ivar status: The schema's status, for the database codes that have one.
    :ivar detail: The database's error, when it cannot be reached (for logs
        and the command line, never for web pages).
    """

    code: str
    status: SchemaStatus | None = None
    detail: str = ""

    def message(self) -> str:
        """What to do, in the current language."""
        from .i18n import _

        if self.code == "database_not_set_up":
            text = _("The helpdesk database is not set up: run `flask helpdesk db upgrade`.")
        elif self.code == "database_outdated":
            assert self.status is not None
            text = _("The helpdesk database is at revision %(current)s, this version needs"
                     " %(head)s: run `flask helpdesk db upgrade`.",
                     current=", ".join(self.status.current), head=", ".join(self.status.heads))
        elif self.code == "secret_key_missing":
            text = _("The application has no SECRET_KEY, so agents cannot log in: set"
                     " SECRET_KEY (e.g. the FLASK_SECRET_KEY environment variable) to a long"
                     " random string.")
        else:
            text = _("The helpdesk database cannot be reached; the error was logged.")
        return str(text)


class SchemaCheck:
    """Whether the helpdesk tables are at the revision this code needs.

    Requests, jobs and commands that need the tables ask :meth:`problem`.
    Until the tables are ready, every call looks again (two small queries),
    and logs each new problem once, as a warning naming the fix; once they
    are ready, the answer is remembered for the life of the process and
    costs nothing. A database at a revision this code does not know (written
    by a newer flask-helpdesk during a rolling upgrade) counts as ready.

    :param engine: Returns the engine of the helpdesk's bind (app context).
    """

    def __init__(self, engine: t.Callable[[], Engine]) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._logged: str | None = None
        #: The tables were found ready once; never checked again.
        self.ready = False

    def problem(self, *, log_it: bool = True) -> SetupProblem | None:
        """``None`` when the tables are ready, else what is wrong.

        :param log_it: Log a new problem (once); commands print it instead.
        """
        if self.ready:
            return None
        from sqlalchemy.exc import SQLAlchemyError

        from . import migrations

        try:
            status = migrations.status(self._engine())
        except SQLAlchemyError as exc:
            detail = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
            if log_it:
                self._log("database_unreachable",
                          "the helpdesk database cannot be reached: %s", detail)
            return SetupProblem("database_unreachable", detail=detail)
        if status.state in ("ready", "ahead"):
            self.ready = True
            if status.state == "ahead":
                log.warning("the helpdesk database is at revision %s, which this"
                            " flask-helpdesk does not know (newest: %s): upgrade"
                            " flask-helpdesk in this process's environment",
                            ", ".join(status.current), ", ".join(status.heads))
            return None
        code = "database_not_set_up" if status.state == "missing" else "database_outdated"
        if log_it:
            self._log(code, "the helpdesk database %s: run `flask helpdesk db upgrade`;"
                      " helpdesk pages answer 503 and background jobs are skipped until then",
                      "is not set up" if status.state == "missing" else
                      f"is at revision {', '.join(status.current)}, this version needs"
                      f" {', '.join(status.heads)}")
        return SetupProblem(code, status)

    def _log(self, code: str, msg: str, *args: t.Any) -> None:
        with self._lock:
            if self._logged == code:
                return
            self._logged = code
        log.warning(msg, *args)
