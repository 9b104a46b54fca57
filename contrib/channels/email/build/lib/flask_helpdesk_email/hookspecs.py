"""The email channel's own hooks, declared through ``helpdesk_add_hookspecs``.

Documented in ``docs/contrib/email.rst``; implement them with
:data:`flask_helpdesk.hookimpl` like any helpdesk hook.
"""

from __future__ import annotations

import typing as t

import pluggy

if t.TYPE_CHECKING:
    from flask_helpdesk.models import ChannelAccount

hookspec = pluggy.HookspecMarker("flask_helpdesk")


@hookspec(firstresult=True)
def helpdesk_email_oauth2_token(
    helpdesk: t.Any, account: ChannelAccount, service: str
) -> str | None:
    """Give the OAuth2 access token an email account logs in with (XOAUTH2).

    Called before every IMAP login (a poll, an IDLE connection) and every
    SMTP delivery of an account whose ``imap_auth`` or ``smtp_auth`` setting
    is ``"xoauth2"``, in a worker or CLI process, inside an app context.

    :param helpdesk: The helpdesk of the current app
        (:class:`~flask_helpdesk.state.HelpdeskState`).
    :param account: The channel account (its ``name``, ``settings``; its
        secrets through :func:`flask_helpdesk.services.channels.account_secrets`,
        e.g. a refresh token kept there).
    :param service: ``"imap"`` or ``"smtp"``.
    :return: A valid access token, or ``None`` when this plugin does not
        serve the account.

    Stops at the first non-None result. When no plugin answers, the poll or
    delivery fails with an error that names this hook (kept on the account's
    health; a delivery is retried by the outbox).

    Refresh the token when it is expired or about to be (tokens of Google and
    Microsoft last about an hour), and cache it: this is called often. Must
    not commit; may do HTTP requests to the token endpoint.

    .. versionadded:: 0.1
    """
