"""``flask example ...``: prepare the database, users and demo data."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask.cli import AppGroup

from flask_helpdesk import demo
from flask_helpdesk.models import Ticket

from .models import User
from .models import db

example_cli = AppGroup("example", help="The example site.")


def prepare(app: Flask, *, demo_sizes: dict[str, int] | None = None) -> bool:
    """Create every table, the demo users and (once) the demo data.

    Returns whether demo data was generated now.
    """
    with app.app_context():
        db.create_all()  # the host's own tables
        _upgrade_helpdesk(app)
        for login, name, *_rest in demo.TEAM:
            _user(login, name)
        _user("boss", "Bea Boss (not an agent)")
        db.session.commit()
        if db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)):
            click.echo("The helpdesk already has tickets: no demo data generated (delete"
                       f" {db.engine.url.database} to start over).")
            return False
        click.echo("Generating demo data (a minute or so)...")
        made = demo.generate(**(demo_sizes or {}))
        click.echo(", ".join(f"{k}: {v}" for k, v in made.items()))
        return True


def _upgrade_helpdesk(app: Flask) -> None:
    """``flask helpdesk db upgrade`` when the helpdesk has it, else create the tables."""
    group = app.cli.commands["helpdesk"]
    if "db" in getattr(group, "commands", {}):
        result = app.test_cli_runner().invoke(args=["helpdesk", "db", "upgrade"])
        if result.exit_code != 0:
            raise click.ClickException(f"flask helpdesk db upgrade failed:\n{result.output}")
        return
    from flask_helpdesk.testing import create_tables

    create_tables(app)


def _user(login: str, name: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.username == login))
    if user is None:
        user = User(username=login, name=name)
        user.set_password(current_app.config["DEMO_PASSWORD"])
        db.session.add(user)
    return user


@example_cli.command("init")
def init_command() -> None:
    """Create tables and demo users; generate demo data if the helpdesk is empty."""
    prepare(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"Demo users: {', '.join(t[0] for t in demo.TEAM)} and boss;"
               f" password: {current_app.config['DEMO_PASSWORD']}")
