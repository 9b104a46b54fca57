"""Translation of user-facing strings (Flask-Babel, domain ``flask_helpdesk``).

The helpdesk keeps its own catalogs (en, ru, pt_BR) in its own gettext domain,
so it never mixes with the host's catalogs. When the host has not set up
Flask-Babel, ``init_app`` does it with :func:`select_locale` as the locale
selector; a host with its own Babel can call :func:`select_locale` from its
selector to honour each agent's language.
"""

from __future__ import annotations

import os
import typing as t

from flask import has_request_context
from flask import request
from flask_babel import Domain

#: The helpdesk's gettext domain.
domain = Domain(
    translation_directories=os.path.join(os.path.dirname(__file__), "translations"),
    domain="flask_helpdesk",
)

#: Translate now (needs an app context to pick the locale; English without).
gettext = domain.gettext
_ = domain.gettext
#: Translate with a plural form.
ngettext = domain.ngettext
#: Translate when the string is rendered (module-level labels).
lazy_gettext = domain.lazy_gettext


def select_locale() -> str | None:
    """The language of the current agent, or the browser's best match.

    Returns ``None`` outside a request so that Flask-Babel uses its default.
    """
    from .extension import current_agent_or_none
    from .extension import get_state

    if not has_request_context():
        return None
    state = get_state()
    agent = current_agent_or_none()
    if agent is not None and agent.language in state.config.languages:
        return agent.language
    return request.accept_languages.best_match(
        state.config.languages, default=state.config.default_language
    )


def translate_labels(labels: t.Mapping[str, t.Any]) -> dict[str, str]:
    """Render a mapping of lazy strings (e.g. status labels) in the current locale."""
    return {key: str(value) for key, value in labels.items()}
