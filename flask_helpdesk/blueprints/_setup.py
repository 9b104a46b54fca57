"""The answer of every helpdesk page and API call while the setup is incomplete.

Before ``flask helpdesk db upgrade`` (or after a code upgrade whose migration
has not run yet), and without a ``SECRET_KEY``, the helpdesk cannot work: every
request under its prefix gets a 503 that names the fix, as a page or, under
the API, as JSON, instead of a "no such table" 500 per page. The check is
remembered once the tables are ready (see
:class:`~flask_helpdesk.state.SchemaCheck`), so a working helpdesk pays
nothing for it.
"""

from __future__ import annotations

import typing as t

from flask import render_template
from flask import request
from flask_babel import get_locale

from ..extension import get_state
from ..extension import set_current_agent
from ._errors import json_error

if t.TYPE_CHECKING:
    from flask import Response

#: Seconds a client is told to wait before asking again.
RETRY_AFTER = 30


def check_setup() -> Response | tuple[Response | str, int, dict[str, str]] | None:
    """``before_request`` of the parent blueprint: a 503 while the setup is incomplete."""
    if request.endpoint == "helpdesk.static":
        return None
    problem = get_state().setup_problem()
    if problem is None:
        return None
    # The language comes from the browser: looking the agent up reads the tables.
    set_current_agent(None)
    headers = {"Retry-After": str(RETRY_AFTER)}
    message = problem.message()
    if "helpdesk.api" in request.blueprints:
        response, status = json_error(503, problem.code, message)
        return response, status, headers
    page = render_template("helpdesk/setup_required.html", problem=problem, message=message,
                           locale=str(get_locale() or "en"))
    return page, 503, headers
