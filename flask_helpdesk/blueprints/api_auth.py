"""Who is calling the REST API: API tokens, the host's session, CSRF.

Two ways in:

- ``Authorization: Bearer hdk_...``, an API token of an agent
  (:func:`flask_helpdesk.services.agents.authenticate_token`). No CSRF token
  is needed: a browser never adds this header on its own.
- The host's Flask-Login session cookie, for the helpdesk's own pages and the
  host's scripts. Every POST, PATCH and DELETE must then carry the header
  ``X-CSRF-Token`` with the session's token (:func:`csrf_token`, also returned
  by ``GET /me``), so another site cannot make a logged-in browser change
  anything.
"""

from __future__ import annotations

import hmac
import secrets
import typing as t

from flask import g
from flask import request
from flask import session

from ..extension import current_agent_or_none
from ..extension import set_current_agent
from ..i18n import _
from ..services import agents
from ._errors import CSRFFailed
from ._errors import InvalidToken
from ._errors import NotAnAgent
from ._errors import Unauthenticated

if t.TYPE_CHECKING:
    from ..models import Agent

#: Session key of the CSRF token of session-authenticated API clients.
CSRF_SESSION_KEY = "_helpdesk_api_csrf"
#: Header that carries it.
CSRF_HEADER = "X-CSRF-Token"
#: Methods that change nothing and need no CSRF token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token() -> str:
    """The CSRF token of the current session, created on first use.

    Pages that call the API from the browser put it in the ``X-CSRF-Token``
    header of every change.
    """
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def authenticated_by_token() -> bool:
    """Whether this request came with a valid API token (not the session)."""
    return bool(g.get("_helpdesk_api_token"))


def actor() -> Agent:
    """The agent making the current request (set before any endpoint runs)."""
    agent = current_agent_or_none()
    if agent is None:
        raise Unauthenticated(_("Authentication is required."))
    return agent


def authenticate() -> None:
    """Set the request's agent from the token or the session.

    :raises InvalidToken: A bearer token that is unknown or revoked.
    :raises Unauthenticated: Neither a token nor a logged-in user.
    :raises NotAnAgent: A logged-in user who is not an active agent.
    """
    scheme, _sep, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        agent = agents.authenticate_token(secret.strip())
        if agent is None:
            raise InvalidToken(_("The API token is unknown or revoked."))
        set_current_agent(agent)
        g._helpdesk_api_token = True
        return
    from flask_login import current_user

    if not current_user or not current_user.is_authenticated:
        raise Unauthenticated(
            _("Log in, or send an API token as 'Authorization: Bearer hdk_...'."))
    if current_agent_or_none() is None:
        raise NotAnAgent(_("Your account is not an active helpdesk agent."))


def check_csrf() -> None:
    """Refuse a session-authenticated change without the session's CSRF token."""
    expected = session.get(CSRF_SESSION_KEY)
    given = request.headers.get(CSRF_HEADER, "")
    if not isinstance(expected, str) or not hmac.compare_digest(
            expected.encode(), given.encode("utf-8", "replace")):
        raise CSRFFailed(_("Send the CSRF token of GET /me as the %(header)s header.",
                           header=CSRF_HEADER))
