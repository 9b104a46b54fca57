"""Mailboxes from the application's configuration (:data:`HELPDESK_EMAIL_ACCOUNTS`).

Each entry becomes a channel account (cursors, health and the lease need a
row) marked ``managed_by: "config"``: read-only on the admin pages and in the
API, changed by editing the configuration. The row holds the entry's plain
settings only; its secrets (passwords, tokens) stay in the configuration and
are merged in when the account is used (:func:`account_config`), never
written to the database.

:func:`sync_config_accounts` applies the configuration: ``flask helpdesk email
accounts`` runs it, and so do every poll of all accounts and the IDLE command.
"""

from __future__ import annotations

import dataclasses
import typing as t

from flask_helpdesk import ChannelError
from flask_helpdesk import NotFound
from flask_helpdesk import get_state
from flask_helpdesk.i18n import gettext as _
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels

if t.TYPE_CHECKING:
    from flask_helpdesk.models import ChannelAccount

#: The ``managed_by`` value of accounts from :data:`HELPDESK_EMAIL_ACCOUNTS`.
CONFIG = "config"
#: Keys of an entry that describe the account rather than its settings.
_ACCOUNT_KEYS = frozenset({"name", "group", "enabled"})
#: Parts of a key that make it a secret (never copied to the database).
_SECRET_WORDS = ("password", "secret", "token")


@dataclasses.dataclass
class SyncReport:
    """What :func:`sync_config_accounts` did, by account name."""

    created: list[str] = dataclasses.field(default_factory=list)
    updated: list[str] = dataclasses.field(default_factory=list)
    released: list[str] = dataclasses.field(default_factory=list)
    #: Entries not applied, with the reason.
    errors: dict[str, str] = dataclasses.field(default_factory=dict)


def is_secret(key: str) -> bool:
    """Whether an entry's key stays in the configuration only."""
    return any(word in key.lower() for word in _SECRET_WORDS)


def config_entries(config: t.Mapping[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    """The entries of :data:`HELPDESK_EMAIL_ACCOUNTS` by name.

    :raises RuntimeError: The setting is not a list of mappings with distinct names.
    """
    found: dict[str, dict[str, t.Any]] = {}
    for entry in config.get("HELPDESK_EMAIL_ACCOUNTS") or ():
        if not isinstance(entry, t.Mapping) or not str(entry.get("name") or "").strip():
            raise RuntimeError(f"HELPDESK_EMAIL_ACCOUNTS: {entry!r} is no mapping with a name")
        name = str(entry["name"]).strip()
        if name in found:
            raise RuntimeError(f"HELPDESK_EMAIL_ACCOUNTS names {name!r} twice")
        found[name] = dict(entry)
    return found


def account_config(account: ChannelAccount) -> dict[str, t.Any]:
    """Settings and secrets of ``account``; for a configured one, its entry's as they are now."""
    values = channels.account_config(account)
    if channels.managed_by(account) == CONFIG:
        entry = config_entries(get_state().config.values).get(account.name, {})
        values.update({k: v for k, v in entry.items() if k not in _ACCOUNT_KEYS})
    return values


def sync_config_accounts(config: t.Mapping[str, t.Any]) -> SyncReport:
    """Create or update the account of every entry; release those no longer configured.

    An entry whose name is taken by an account created on the admin pages or
    through the API is not applied (reported in ``errors``); remove or rename
    one of the two. A configured account that left the configuration is
    disabled and becomes a normal account (its cursors and history stay; an
    admin may edit or delete it).
    """
    report = SyncReport()
    entries = config_entries(config)
    for name, entry in entries.items():
        try:
            _apply(name, entry, report)
        except (NotFound, ValueError) as exc:
            report.errors[name] = str(exc)
    for account in channels.list_accounts(actor=SYSTEM, channel="email"):
        if channels.managed_by(account) == CONFIG and account.name not in entries:
            settings = {k: v for k, v in account.settings.items() if k != channels.MANAGED_BY}
            channels.update_account(account.id, actor=SYSTEM, settings=settings, enabled=False)
            report.released.append(account.name)
    return report


def _apply(name: str, entry: t.Mapping[str, t.Any], report: SyncReport) -> None:
    from .client import check_security

    try:
        check_security(str(entry.get("imap_host", "")), str(entry.get("imap_security", "tls")))
    except ChannelError as exc:
        raise ValueError(exc.message) from exc
    settings = {k: v for k, v in entry.items() if k not in _ACCOUNT_KEYS and not is_secret(k)}
    settings[channels.MANAGED_BY] = CONFIG
    fields: dict[str, t.Any] = {"group_id": _group_id(entry.get("group")), "settings": settings,
                                "enabled": bool(entry.get("enabled", True))}
    try:
        account = channels.find_account("email", name, actor=SYSTEM)
    except NotFound:
        channels.create_account(actor=SYSTEM, channel="email", name=name, **fields)
        report.created.append(name)
        return
    if channels.managed_by(account) != CONFIG:
        raise ValueError(_("An account named %(name)s was created in the helpdesk; the"
                           " configured one is not applied.", name=name))
    if (account.settings, account.group_id, account.enabled, account.secrets) == (
            settings, fields["group_id"], fields["enabled"], ""):
        return
    channels.update_account(account.id, actor=SYSTEM, secrets={}, **fields)
    report.updated.append(name)


def _group_id(group: t.Any) -> int | None:
    """The id of the entry's ``group``: a group name or id, or none."""
    if group is None or group == "":
        return None
    if isinstance(group, int):
        return agents.get_group(group).id
    found = agents.get_group_by_name(str(group))
    if found is None:
        raise ValueError(_("There is no group named %(name)s.", name=str(group)))
    return found.id
