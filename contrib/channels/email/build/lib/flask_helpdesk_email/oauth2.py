"""XOAUTH2 logins: the token comes from the ``helpdesk_email_oauth2_token`` hook.

An account logs in with OAuth2 when its ``imap_auth`` (or ``smtp_auth``)
setting is ``"xoauth2"``; the ``imap_username`` / ``smtp_username`` is the
mailbox's address. The SASL string is RFC-less but stable
(https://developers.google.com/gmail/imap/xoauth2-protocol):
``user=<address>^Aauth=Bearer <token>^A^A``.
"""

from __future__ import annotations

import typing as t

from flask_helpdesk import ChannelError
from flask_helpdesk import get_state
from flask_helpdesk.i18n import gettext as _

if t.TYPE_CHECKING:
    from flask_helpdesk.models import ChannelAccount


def uses_oauth2(settings: t.Mapping[str, t.Any], service: str) -> bool:
    """Whether ``service`` (``imap`` or ``smtp``) of an account logs in with XOAUTH2."""
    return str(settings.get(f"{service}_auth", "password")).lower() == "xoauth2"


def token(account: ChannelAccount | None, service: str) -> str:
    """The access token for ``account`` from the hook.

    :raises ChannelError: No plugin gave one.
    """
    state = get_state()
    found = None
    if account is not None:
        found = state.hook.helpdesk_email_oauth2_token(helpdesk=state, account=account,
                                                       service=service)
    if not found:
        name = account.name if account is not None else "?"
        raise ChannelError(_("No OAuth2 token for %(service)s of account %(name)s: a plugin"
                             " must implement helpdesk_email_oauth2_token.",
                             service=service.upper(), name=name))
    return str(found)


def sasl_string(username: str, access_token: str) -> str:
    """The XOAUTH2 initial client response (before base64)."""
    return f"user={username}\x01auth=Bearer {access_token}\x01\x01"
