"""Channel accounts: the mailboxes, bots and pages that channels read and send through.

An account belongs to one channel (``email``, ``telegram``...) and has a name
unique within it, the group its new tickets are routed to, plain settings,
secret settings (encrypted at rest with :data:`HELPDESK_SECRET_KEY`), an
enabled flag and health figures that fetchers update.

Fetchers keep their position per account and folder in a cursor
(:func:`get_cursor`, :func:`set_cursor`). Set the cursor inside the same
:func:`~flask_helpdesk.services.transaction` as the ingest of the messages it
moves past, so the two commit together::

    with services.transaction():
        services.ingest(message)
        channels.set_cursor(account.id, "INBOX", {"uidvalidity": 7, "last_uid": 42})

Only one fetcher works on an account at a time: it takes a lease with
:func:`claim_account` and gives it back with :func:`release_account`. The
lease expires by itself, so a crashed fetcher blocks nobody for long.

Creating, changing and listing accounts is for admins (and system actors).

An account a plugin keeps from the application's configuration carries
``settings["managed_by"]`` (:data:`MANAGED_BY`, e.g. ``"config"``): admins see
it marked so and cannot change it; only system actors (the plugin's sync) can.

The admin pages build each channel's account form from the description its
plugin returns from the ``helpdesk_channel_settings`` hook
(:func:`channel_forms`), and turn what the admin typed back into settings and
secrets with :func:`save_account_form`. Secrets are never shown back: an
empty secret field keeps the stored value.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import re
import typing as t

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from ..errors import Conflict
from ..errors import NotFound
from ..errors import ValidationError
from ..extension import get_state
from ..i18n import _
from ..models import ChannelAccount
from ..models import ChannelCursor
from ..models import QuarantinedMessage
from ..models import utcnow
from . import _validate as v
from ._uow import Actor
from ._uow import SystemActor
from ._uow import session
from ._uow import transaction
from .agents import get_group
from .permissions import require_role

if t.TYPE_CHECKING:
    from cryptography.fernet import Fernet

#: Longest error text kept on an account.
ERROR_MAX = 2000
#: Settings key naming where a read-only account comes from (``"config"``).
MANAGED_BY = "managed_by"


# ------------------------------------------------------------------- accounts


def create_account(
    *, actor: Actor, channel: str, name: str, group_id: int | None = None,
    settings: t.Mapping[str, t.Any] | None = None,
    secrets: t.Mapping[str, t.Any] | None = None, enabled: bool = True,
) -> ChannelAccount:
    """Add an account to a channel. Only admins may.

    :param channel: A channel a plugin declared (``email``...).
    :param name: Unique within the channel; it is the ``account`` of the
        channel's inbound messages.
    :param group_id: Group new tickets of this account go to.
    :param settings: Plain JSON settings (host, port, folder...).
    :param secrets: JSON settings stored encrypted (passwords, tokens).
    :raises ValidationError: Unknown channel, bad name or settings (also a
        plugin's ``helpdesk_validate_account`` refusing them), or secrets
        without a configured key.
    :raises Conflict: The channel has an account of that name already.
    """
    require_role(actor, "admin")
    channel = _channel(channel)
    name = v.text(name, "name", max_length=100)
    with transaction() as s:
        _check_unique(channel, name, None)
        plain = _json(settings or {}, "settings")
        _validate(channel, name, plain, dict(secrets or {}))
        account = ChannelAccount(
            channel=channel, name=name, group_id=_group(group_id),
            settings=plain, secrets=_encrypt(secrets or {}),
            enabled=bool(enabled), last_error="", backlog=0, lease_owner="",
        )
        s.add(account)
    return account


def update_account(
    account_id: int, *, actor: Actor, name: str = v.UNSET, group_id: int | None = v.UNSET,
    settings: t.Mapping[str, t.Any] = v.UNSET, secrets: t.Mapping[str, t.Any] = v.UNSET,
    enabled: bool = v.UNSET,
) -> ChannelAccount:
    """Change an account; arguments not given stay as they are. Only admins may.

    ``settings`` and ``secrets`` replace the stored objects as a whole.

    :raises NotFound: No such account.
    :raises ValidationError: A plugin's ``helpdesk_validate_account`` refused
        the new settings or secrets.
    :raises Conflict: The new name is taken in the channel, or the account is
        managed elsewhere (:func:`managed_by`) and ``actor`` is not a system actor.
    """
    require_role(actor, "admin")
    with transaction():
        account = _get(account_id)
        if managed_by(account) and not isinstance(actor, SystemActor):
            raise _read_only(account)
        if name is not v.UNSET:
            name = v.text(name, "name", max_length=100)
            _check_unique(account.channel, name, account.id)
            account.name = name
        if group_id is not v.UNSET:
            account.group_id = _group(group_id)
        if settings is not v.UNSET or secrets is not v.UNSET:
            plain = account.settings if settings is v.UNSET else _json(settings, "settings")
            _validate(account.channel, account.name, dict(plain),
                      None if secrets is v.UNSET else dict(secrets))
        if settings is not v.UNSET:
            account.settings = _json(settings, "settings")
        if secrets is not v.UNSET:
            account.secrets = _encrypt(secrets)
        if enabled is not v.UNSET:
            account.enabled = bool(enabled)
        account.updated_at = utcnow()
    return account


def get_account(account_id: int, *, actor: Actor) -> ChannelAccount:
    """One account. Only admins may.

    :raises NotFound: No such account.
    """
    require_role(actor, "admin")
    return _get(account_id)


def find_account(channel: str, name: str, *, actor: Actor) -> ChannelAccount:
    """The account of ``channel`` named ``name``. Only admins may.

    :raises NotFound: No such account.
    """
    require_role(actor, "admin")
    account = session().scalar(select(ChannelAccount).where(
        ChannelAccount.channel == channel, ChannelAccount.name == name))
    if account is None:
        raise NotFound(_("Channel %(channel)s has no account %(name)s.",
                         channel=channel, name=name))
    return account


def list_accounts(
    *, actor: Actor, channel: str | None = None, enabled_only: bool = False
) -> list[ChannelAccount]:
    """Accounts by channel and name. Only admins may."""
    require_role(actor, "admin")
    query = select(ChannelAccount).order_by(ChannelAccount.channel, ChannelAccount.name)
    if channel is not None:
        query = query.where(ChannelAccount.channel == channel)
    if enabled_only:
        query = query.where(ChannelAccount.enabled.is_(True))
    return list(session().scalars(query))


def managed_by(account: ChannelAccount) -> str:
    """Where a read-only account comes from (``"config"``...), ``""`` for a normal one."""
    return str((account.settings or {}).get(MANAGED_BY) or "")


def account_secrets(account: ChannelAccount) -> dict[str, t.Any]:
    """The decrypted secret settings of ``account`` (never show them to a user).

    :raises ValidationError: They were encrypted with another key.
    """
    if not account.secrets:
        return {}
    from cryptography.fernet import InvalidToken

    try:
        plain = _fernet().decrypt(account.secrets.encode("ascii"))
    except InvalidToken:
        raise ValidationError(_("The secrets of account %(name)s cannot be decrypted with the"
                                " configured key; set them again.", name=account.name),
                              field="secrets") from None
    return t.cast("dict[str, t.Any]", json.loads(plain))


def account_config(account: ChannelAccount) -> dict[str, t.Any]:
    """Settings and decrypted secrets of ``account`` in one dictionary."""
    return {**account.settings, **account_secrets(account)}


# ------------------------------------------------------------------- health and lease


def record_success(account_id: int, *, backlog: int = 0) -> None:
    """Note a fetch that worked; ``backlog`` is what is still waiting at the source."""
    with transaction():
        account = _get(account_id)
        account.last_success_at = utcnow()
        account.backlog = max(0, int(backlog))


def record_error(account_id: int, *, error: str) -> None:
    """Note a failed fetch or send, shown to admins with its time."""
    with transaction():
        account = _get(account_id)
        account.last_error = str(error)[:ERROR_MAX]
        account.last_error_at = utcnow()


def claim_account(account_id: int, *, owner: str, seconds: float = 600) -> bool:
    """Take the fetch lease of an account for ``seconds``; ``False`` if another holds it.

    The owner that holds the lease may claim it again to extend it.
    """
    now = utcnow()
    with transaction() as s:
        result = s.execute(
            update(ChannelAccount)
            .where(ChannelAccount.id == account_id, or_(
                ChannelAccount.lease_until.is_(None), ChannelAccount.lease_until < now,
                ChannelAccount.lease_owner == owner))
            .values(lease_owner=owner[:100], lease_until=now + dt.timedelta(seconds=seconds))
            .execution_options(synchronize_session=False)
        )
    return bool(t.cast("t.Any", result).rowcount == 1)


def release_account(account_id: int, *, owner: str) -> None:
    """Give back a lease taken with :func:`claim_account` (no-op if not held)."""
    with transaction() as s:
        s.execute(
            update(ChannelAccount)
            .where(ChannelAccount.id == account_id, ChannelAccount.lease_owner == owner[:100])
            .values(lease_owner="", lease_until=None)
            .execution_options(synchronize_session=False)
        )


# ------------------------------------------------------------------- account forms

#: The kinds of field a channel's account form may have.
FIELD_TYPES = ("text", "number", "password", "select", "checkbox", "textarea")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


@dataclasses.dataclass(frozen=True)
class SettingField:
    """One field of a channel's account form (see ``helpdesk_channel_settings``).

    :ivar name: The settings key it is stored under.
    :ivar label: Shown next to the field (a string or a lazy string).
    :ivar type: One of :data:`FIELD_TYPES`.
    :ivar secret: Stored encrypted in the account's secrets, never shown back.
    :ivar required: The account cannot be saved without it.
    :ivar default: Proposed for a new account.
    :ivar choices: ``(value, label)`` pairs of a ``select``.
    :ivar help: A sentence shown under the field.
    :ivar multiple: A ``textarea`` whose lines are stored as a list.
    """

    name: str
    label: t.Any
    type: str = "text"
    secret: bool = False
    required: bool = False
    default: t.Any = None
    choices: tuple[tuple[str, t.Any], ...] = ()
    help: t.Any = ""
    multiple: bool = False


@dataclasses.dataclass(frozen=True)
class ChannelForm:
    """The account form of one channel: its label and fields, in order."""

    channel: str
    label: t.Any
    fields: tuple[SettingField, ...]


def channel_forms() -> dict[str, ChannelForm]:
    """The account forms plugins describe, by channel name.

    :raises RuntimeError: A plugin's description is malformed, names an
        undeclared channel, or two plugins describe the same channel.
    """
    state = get_state()
    forms: dict[str, ChannelForm] = {}
    for result in state.hook.helpdesk_channel_settings():
        for item in result or ():
            form = _form(item)
            if form.channel not in state.channels:
                raise RuntimeError(f"helpdesk_channel_settings describes the channel"
                                   f" {form.channel!r}, which no plugin declares in"
                                   " helpdesk_register_channels")
            if form.channel in forms:
                raise RuntimeError(f"two plugins describe the settings of {form.channel!r}")
            forms[form.channel] = form
    return forms


def form_values(form: ChannelForm, account: ChannelAccount | None) -> dict[str, t.Any]:
    """What an account form shows: stored settings, defaults, never a secret."""
    settings = dict(account.settings) if account is not None else {}
    values: dict[str, t.Any] = {}
    for field in form.fields:
        value = "" if field.secret else settings.get(
            field.name, field.default if account is None else None)
        if field.multiple and isinstance(value, list):
            value = "\n".join(str(x) for x in value)
        values[field.name] = "" if value is None else value
    return values


def stored_secrets(account: ChannelAccount) -> frozenset[str]:
    """Names of the secrets an account has (their values stay hidden)."""
    return frozenset(_secrets_or_empty(account))


def save_account_form(
    *, actor: Actor, channel: str, data: t.Mapping[str, t.Any], account_id: int | None = None,
) -> ChannelAccount:
    """Create (or, with ``account_id``, change) an account from its submitted form.

    ``data`` holds the form's strings: ``name``, ``group_id``, ``enabled``
    and one entry per field of the channel's :class:`ChannelForm`. Settings
    the form does not show are kept; an empty secret keeps the stored one.

    :raises ValidationError: Fields are missing or invalid;
        ``details["fields"]`` maps each bad field to its message.
    :raises Conflict: The account is read-only here (:func:`managed_by`).
    """
    require_role(actor, "admin")
    form = channel_forms().get(channel)
    if form is None:
        raise ValidationError(_("Channel %(channel)s has no settings form.", channel=channel),
                              field="channel")
    account = _get(account_id) if account_id is not None else None
    if account is not None and managed_by(account):
        raise _read_only(account)
    settings, secrets = _parse_form(form, data, account)
    group = str(data.get("group_id") or "").strip()
    common: dict[str, t.Any] = {
        "name": str(data.get("name") or ""), "enabled": _checked(data.get("enabled")),
        "group_id": v.whole_number(group),
        "settings": settings, "secrets": secrets,
    }
    if account is None:
        return create_account(actor=actor, channel=channel, **common)
    return update_account(account.id, actor=actor, **common)


def quarantine_counts(*, actor: Actor) -> dict[tuple[str, str], int]:
    """Quarantined messages per ``(channel, account name)``. Only admins may."""
    require_role(actor, "admin")
    query = select(QuarantinedMessage.channel, QuarantinedMessage.account, func.count()).group_by(
        QuarantinedMessage.channel, QuarantinedMessage.account)
    return {(channel, account): count for channel, account, count in session().execute(query)}


def _form(item: t.Mapping[str, t.Any]) -> ChannelForm:
    try:
        fields = tuple(_field(f) for f in item["fields"])
        return ChannelForm(channel=str(item["channel"]), label=item.get("label") or
                           item["channel"], fields=fields)
    except (KeyError, TypeError, ValueError) as exc:
        raise RuntimeError(f"malformed helpdesk_channel_settings result {item!r}: {exc}") from exc


def _field(item: t.Mapping[str, t.Any]) -> SettingField:
    kind = item.get("type", "text")
    if kind not in FIELD_TYPES:
        raise ValueError(f"field type {kind!r} is not one of {FIELD_TYPES}")
    choices = tuple((str(c[0]), c[1]) if isinstance(c, list | tuple) else (str(c), str(c))
                    for c in item.get("choices") or ())
    if kind == "select" and not choices:
        raise ValueError(f"select field {item['name']!r} has no choices")
    return SettingField(
        name=str(item["name"]), label=item.get("label") or item["name"], type=kind,
        secret=bool(item.get("secret", kind == "password")),
        required=bool(item.get("required", False)), default=item.get("default"),
        choices=choices, help=item.get("help") or "", multiple=bool(item.get("multiple")))


def _parse_form(form: ChannelForm, data: t.Mapping[str, t.Any], account: ChannelAccount | None
                ) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    settings = dict(account.settings) if account is not None else {}
    secrets = _secrets_or_empty(account)
    errors: dict[str, str] = {}
    for field in form.fields:
        target = secrets if field.secret else settings
        raw = data.get(field.name)
        try:
            value = _value(field, raw)
        except ValidationError as exc:
            errors[field.name] = exc.message
            continue
        if value is None and field.secret and field.name in target:
            continue  # an empty secret keeps the stored one
        if value is None and field.required:
            errors[field.name] = _("%(field)s must not be empty.", field=str(field.label))
        elif value is None:
            target.pop(field.name, None)
        else:
            target[field.name] = value
    if errors:
        first = next(iter(errors))
        raise ValidationError(errors[first], field=first, details={"fields": errors})
    return settings, secrets


def _secrets_or_empty(account: ChannelAccount | None) -> dict[str, t.Any]:
    """The account's secrets, or ``{}`` for no account or undecryptable ones."""
    if account is None:
        return {}
    try:
        return account_secrets(account)
    except ValidationError:
        return {}


def _value(field: SettingField, raw: t.Any) -> t.Any:
    """The typed value of one submitted field; ``None`` when it was left empty."""
    if field.type == "checkbox":
        return _checked(raw)
    text = "" if raw is None else str(raw).replace("\x00", "")
    text = text if field.secret else text.strip()
    if not text:
        return None
    label = str(field.label)
    if field.type == "number":
        if not _NUMBER.fullmatch(text):
            raise ValidationError(_("%(field)s must be a number.", field=label), field=field.name)
        return float(text) if "." in text else int(text)
    if field.type == "select" and text not in {value for value, _label in field.choices}:
        raise ValidationError(_("%(field)s must be one of: %(allowed)s.", field=label,
                                allowed=", ".join(str(lb) for _v, lb in field.choices)),
                              field=field.name)
    if field.multiple:
        return [line.strip() for line in text.splitlines() if line.strip()]
    return text


def _checked(raw: t.Any) -> bool:
    return str(raw or "").lower() in ("1", "on", "true", "yes")


# ------------------------------------------------------------------- cursors


def get_cursor(account_id: int, folder: str) -> dict[str, t.Any]:
    """The state stored for ``folder`` of an account; ``{}`` before the first fetch."""
    row = session().get(ChannelCursor, (account_id, folder))
    return dict(row.state) if row is not None else {}


def set_cursor(account_id: int, folder: str, state: t.Mapping[str, t.Any]) -> None:
    """Store the state of ``folder``, in the caller's transaction if there is one."""
    state = _json(state, "state")
    with transaction() as s:
        row = s.get(ChannelCursor, (account_id, folder))
        if row is None:
            s.add(ChannelCursor(account_id=account_id, folder=folder, state=state,
                                updated_at=utcnow()))
        else:
            row.state, row.updated_at = state, utcnow()


# ------------------------------------------------------------------- helpers


def _get(account_id: int) -> ChannelAccount:
    account = session().get(ChannelAccount, account_id)
    if account is None:
        raise NotFound(_("Channel account %(id)s does not exist.", id=account_id))
    return account


def _read_only(account: ChannelAccount) -> Conflict:
    return Conflict(_("Account %(name)s comes from the configuration and is read-only here;"
                      " change it there.", name=account.name))


def _channel(channel: str) -> str:
    if channel not in get_state().channels:
        raise ValidationError(_("Unknown channel %(channel)s.", channel=channel),
                              field="channel")
    return channel


def _group(group_id: int | None) -> int | None:
    return None if group_id is None else get_group(v.integer(group_id, "group_id")).id


def _validate(channel: str, name: str, settings: dict[str, t.Any],
              secrets: dict[str, t.Any] | None) -> None:
    state = get_state()
    state.hook.helpdesk_validate_account(helpdesk=state, channel=channel, name=name,
                                         settings=settings, secrets=secrets)


def _check_unique(channel: str, name: str, own_id: int | None) -> None:
    other = session().scalar(select(ChannelAccount.id).where(
        ChannelAccount.channel == channel, ChannelAccount.name == name))
    if other is not None and other != own_id:
        raise Conflict(_("Channel %(channel)s has an account named %(name)s already.",
                         channel=channel, name=name), field="name")


def _json(value: t.Mapping[str, t.Any], field: str) -> dict[str, t.Any]:
    if not isinstance(value, t.Mapping):
        raise ValidationError(_("%(field)s must be an object.", field=field), field=field)
    try:
        return t.cast("dict[str, t.Any]", json.loads(json.dumps(dict(value))))
    except (TypeError, ValueError):
        raise ValidationError(_("%(field)s must be JSON.", field=field), field=field) from None


def _encrypt(secrets: t.Mapping[str, t.Any]) -> str:
    plain = _json(secrets, "secrets")
    if not plain:
        return ""
    return _fernet().encrypt(json.dumps(plain).encode()).decode("ascii")


def _fernet() -> Fernet:
    """The cipher of account secrets (``cryptography`` is imported by the first use)."""
    from cryptography.fernet import Fernet

    key = get_state().config.secret_key
    if not key:
        raise ValidationError(_("Set HELPDESK_SECRET_KEY (or SECRET_KEY) to store secrets."),
                              field="secrets")
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))
