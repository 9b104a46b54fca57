"""HTTP adapters: one parent blueprint ``helpdesk`` with nested children.

Blueprints parse the request, call a service and render or serialize the
result; they hold no business rules.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint

if t.TYPE_CHECKING:
    from flask import Flask

    from ..state import HelpdeskState


def register_blueprints(app: Flask, state: HelpdeskState) -> None:
    """Mount the helpdesk under ``HELPDESK_URL_PREFIX``."""
    from . import agent
    from . import api
    from ._converters import ID_CONVERTER
    from ._converters import IdConverter
    from ._setup import check_setup

    app.url_map.converters[ID_CONVERTER] = IdConverter
    parent = Blueprint("helpdesk", __name__, template_folder="../templates",
                       static_folder="../static/helpdesk", static_url_path="/static")
    parent.before_request(check_setup)
    parent.register_blueprint(agent.bp)
    if state.config.api_enabled:
        parent.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(parent, url_prefix=state.config.url_prefix)
