"""The per-app state of the helpdesk, reached through ``app.extensions``."""

from __future__ import annotations

import dataclasses
import os
import typing as t

if t.TYPE_CHECKING:
    import pluggy
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    from .config import HelpdeskConfig
    from .extension import Helpdesk
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

    @property
    def hook(self) -> t.Any:
        """Shortcut for ``pm.hook``."""
        return self.pm.hook


def default_attachment_dir(app: Flask, configured: str | None) -> str:
    return configured or os.path.join(app.instance_path, "helpdesk-attachments")
