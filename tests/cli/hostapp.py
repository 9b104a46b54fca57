"""A host app for CLI tests run in a subprocess (``flask --app tests.cli.hostapp``).

Configured from the environment: ``HOSTAPP_DATABASE`` and ``HOSTAPP_BROKER``.
"""

from __future__ import annotations

import os

from flask import Flask

from flask_helpdesk.testing import make_app


def create_app() -> Flask:
    return make_app(database_uri=os.environ["HOSTAPP_DATABASE"], config={
        "HELPDESK_BROKER_URL": os.environ["HOSTAPP_BROKER"],
        "HELPDESK_DELIVERY_BACKOFF": 0.05,
    })
