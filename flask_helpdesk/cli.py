"""The ``flask helpdesk`` command group: thin adapters over services."""

from __future__ import annotations

import click
from flask.cli import AppGroup


def make_cli() -> click.Group:
    """A fresh ``helpdesk`` group for one app (plugins add to it)."""
    cli = AppGroup("helpdesk", help="Manage the helpdesk.")
    from .demo import demo_data_command

    cli.add_command(demo_data_command)
    return cli
