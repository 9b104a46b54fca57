"""The agent workspace: HTML pages for people who answer tickets.

One blueprint, ``helpdesk.agent``, whose views live in one module per page
family: :mod:`.inbox` (the ticket list and bulk actions), :mod:`.ticket` (one
ticket and its forms), :mod:`.customers` (the customer profile),
:mod:`.templates` (reply templates and the ticket page's template picker),
:mod:`.notifications` (what rules told the agent),
for managers :mod:`.rules` (the rule editor), and for admins :mod:`.admin`
(groups, agents, tags), :mod:`.admin_calendars` (business hours) and
:mod:`.admin_channels` (channel accounts, the quarantine). Shared
request handling (login, the agent check, CSRF) and template helpers are in
:mod:`._common`.

Each view parses the request, calls services and renders a template under
``helpdesk/`` (a host template at the same path wins). Every page needs a
logged-in host user who is an agent: anonymous visitors are sent to the host's
login view (``login_manager.login_view``), other users get 403. Every POST
carries a CSRF token (Flask-WTF's, so a host's ``CSRFProtect`` accepts it too);
a POST without a valid one is refused with 400.

Errors from services are shown next to the form that caused them, with what
the agent typed kept in the form.
"""

from __future__ import annotations

# Importing the page modules registers their views on ``bp``.
from . import admin  # noqa: E402,F401
from . import admin_calendars  # noqa: E402,F401
from . import admin_channels  # noqa: E402,F401
from . import customers  # noqa: E402,F401
from . import inbox  # noqa: E402,F401
from . import notifications  # noqa: E402,F401
from . import rules  # noqa: E402,F401
from . import templates  # noqa: E402,F401
from . import ticket  # noqa: E402,F401
from ._common import bp

__all__ = ["bp"]
