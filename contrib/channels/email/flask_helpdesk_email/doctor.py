"""The email channel's lines of ``flask helpdesk doctor`` (the ``helpdesk_doctor`` hook).

Reads the accounts and the settings only: no connection to a mail server
(a poll says that, and its last error is reported here).
"""

from __future__ import annotations

import typing as t

from flask_helpdesk import ValidationError
from flask_helpdesk.i18n import gettext as _
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import channels

from . import accounts
from . import oauth2

#: Settings every email account needs, by what they are for.
REQUIRED = ("imap_host", "imap_username", "smtp_host", "from_address")


def check(helpdesk: t.Any) -> list[tuple[str, str]]:
    """One line per email account, and one for ``HELPDESK_EMAIL_NOTIFY_ACCOUNT``."""
    from .plugin import helpdesk_validate_account

    found = channels.list_accounts(actor=SYSTEM, channel="email")
    enabled = [account for account in found if account.enabled]
    out: list[tuple[str, str]] = []
    if not enabled:
        out.append(("warn", _("email: no enabled email account, so no mail is read: add one"
                              " on the Channels admin page or in HELPDESK_EMAIL_ACCOUNTS.")))
    for account in enabled:
        out.append(_account(account, helpdesk_validate_account))
    notify = helpdesk.config["HELPDESK_EMAIL_NOTIFY_ACCOUNT"]
    if notify and notify not in {account.name for account in enabled}:
        out.append(("fail", _("email: HELPDESK_EMAIL_NOTIFY_ACCOUNT names %(name)s, which is no"
                              " enabled email account: fix the name or enable it.",
                              name=notify)))
    return out


def _account(account: t.Any, validate: t.Callable[[str, dict[str, t.Any]], None],
             ) -> tuple[str, str]:
    name = account.name
    try:
        config = accounts.account_config(account)
    except ValidationError as exc:
        return ("fail", _("email %(name)s: %(error)s", name=name, error=exc.message))
    missing = [key for key in REQUIRED if not config.get(key)]
    if not oauth2.uses_oauth2(config, "imap") and not config.get("imap_password"):
        missing.append("imap_password")
    if missing:
        return ("fail", _("email %(name)s: %(fields)s not set: fill them in on its Channels"
                          " admin page.", name=name, fields=", ".join(missing)))
    try:
        validate("email", config)
    except ValidationError as exc:
        return ("fail", _("email %(name)s: %(error)s", name=name, error=exc.message))
    if account.last_error:
        error = account.last_error.strip().splitlines()[0][:300]
        return ("warn", _("email %(name)s: the last fetch failed (%(error)s): check the"
                          " server, the login and the folders.", name=name, error=error))
    return ("ok", _("email %(name)s: settings complete (%(imap)s, %(smtp)s).", name=name,
                    imap=config["imap_host"], smtp=config["smtp_host"]))
