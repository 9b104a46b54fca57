"""The email channel's hooks: declare the channel, its config, sending (replies and
agent notifications), commands, jobs."""

from __future__ import annotations

import dataclasses
import typing as t

import click
from flask import current_app

from flask_helpdesk import ChannelError
from flask_helpdesk import DeliveryError
from flask_helpdesk import DeliveryReceipt
from flask_helpdesk import NotFound
from flask_helpdesk import ValidationError
from flask_helpdesk import get_state
from flask_helpdesk import hookimpl
from flask_helpdesk.i18n import gettext as _
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import channels

from . import accounts
from . import hookspecs
from . import oauth2
from . import smtp

if t.TYPE_CHECKING:
    from flask_helpdesk import AgentNotice
    from flask_helpdesk import InboundMessage
    from flask_helpdesk import OutboundMessage


@hookimpl
def helpdesk_add_hookspecs(pluginmanager: t.Any) -> None:
    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def helpdesk_register_channels() -> list[dict[str, str]]:
    return [{"name": "email", "label": "Email"}]


#: ``imap_security`` / ``smtp_security`` values (see client.connect and smtp.send).
def _security() -> list[tuple[str, str]]:
    return [("tls", "TLS"), ("starttls", "STARTTLS"),
            ("plain", _("None (loopback servers only)"))]


@hookimpl
def helpdesk_channel_settings() -> list[dict[str, t.Any]]:
    """The mailbox form of the admin pages: the keys client.py and smtp.py read.

    Called while the page renders, so the labels are in the agent's language
    (the plugin's strings are in the helpdesk's catalogs).
    """
    def field(name: str, label: str, type: str = "text", **kw: t.Any) -> dict[str, t.Any]:
        return {"name": name, "label": label, "type": type, **kw}

    return [{"channel": "email", "label": _("Email (IMAP/SMTP)"), "fields": [
        field("imap_host", _("IMAP server"), required=True, help=_("e.g. imap.example.com")),
        field("imap_port", _("IMAP port"), "number", required=True, default=993),
        field("imap_security", _("IMAP security"), "select", choices=_security(), default="tls"),
        field("imap_verify", _("Check the IMAP server's certificate"), "checkbox", default=True),
        field("imap_ca_file", _("CA certificate file (IMAP)"), help=_(
            "PEM file on the helpdesk's server of the CA that signed the server's certificate,"
            " trusted instead of the system's CAs; empty for a public certificate.")),
        field("imap_username", _("IMAP username"), required=True),
        field("imap_password", _("IMAP password"), "password", secret=True, required=True),
        field("folders", _("Folders to read"), "textarea", multiple=True, default=["INBOX"],
              help=_("One folder per line; INBOX when empty.")),
        field("smtp_host", _("SMTP server"), required=True, help=_("e.g. smtp.example.com")),
        field("smtp_port", _("SMTP port"), "number", required=True, default=587),
        field("smtp_security", _("SMTP security"), "select", choices=_security(),
              default="starttls"),
        field("smtp_verify", _("Check the SMTP server's certificate"), "checkbox", default=True),
        field("smtp_ca_file", _("CA certificate file (SMTP)"), help=_(
            "PEM file on the helpdesk's server of the CA that signed the server's certificate,"
            " trusted instead of the system's CAs; empty for a public certificate.")),
        field("smtp_username", _("SMTP username"), help=_("Empty when the server needs no login.")),
        field("smtp_password", _("SMTP password"), "password", secret=True),
        field("from_address", _("Replies come from (address)"), required=True),
        field("from_name", _("Sender name"), help=_("e.g. Example Support")),
        field("smtp_timeout", _("SMTP timeout (seconds)"), "number", default=30),
    ]}]


@hookimpl
def helpdesk_config_defaults() -> dict[str, t.Any]:
    return {
        "HELPDESK_EMAIL_POLL_INTERVAL": 60,
        "HELPDESK_EMAIL_IDLE_TIMEOUT": 300,
        "HELPDESK_EMAIL_BACKFILL_DAYS": 14,
        "HELPDESK_EMAIL_POLL_LIMIT": 0,
        "HELPDESK_EMAIL_ACK_MODE": "flag",
        "HELPDESK_EMAIL_ACK_FOLDER": "Helpdesk",
        "HELPDESK_EMAIL_MAX_ATTACHMENT_SIZE": 50 * 1024 * 1024,
        "HELPDESK_EMAIL_AUTO_REPLY_LIMIT": 5,
        "HELPDESK_EMAIL_FLOOD_LIMIT": 20,
        "HELPDESK_EMAIL_INTERNAL_DOMAINS": (),
        "HELPDESK_EMAIL_INTERNAL_MAIL": "spam",
        "HELPDESK_EMAIL_TICKET_TOKEN": r"\[#(\d+)\]",
        "HELPDESK_EMAIL_NOTIFY_ACCOUNT": None,
        "HELPDESK_EMAIL_ACCOUNTS": (),
    }


def _smtp_settings(account: t.Any) -> smtp.SmtpSettings:
    """How ``account`` sends: its SMTP settings, with a fresh OAuth2 token if it uses one."""
    config = accounts.account_config(account)
    settings = smtp.SmtpSettings.from_config(config)
    if oauth2.uses_oauth2(config, "smtp"):
        try:
            token = oauth2.token(account, "smtp")
        except ChannelError as exc:
            raise DeliveryError(exc.message) from exc
        settings = dataclasses.replace(settings, oauth2_token=token)
    return settings


@hookimpl
def helpdesk_deliver_message(message: OutboundMessage) -> DeliveryReceipt | None:
    if message.channel != "email":
        return None
    account = channels.find_account("email", message.account, actor=SYSTEM)
    settings = _smtp_settings(account)
    mail = smtp.build_message(message, from_address=settings.from_address,
                              from_name=settings.from_name, automatic=message.automatic)
    smtp.send(mail, settings)
    message_id = smtp.message_id(mail)
    return DeliveryReceipt(external_id=message_id, thread_keys=(message_id,))


@hookimpl
def helpdesk_notify_agent_email(helpdesk: t.Any, agent: t.Any, notification: AgentNotice
                                ) -> bool | None:
    """Mail a rule's notification to the agent through the notify account's SMTP server.

    The account is :data:`HELPDESK_EMAIL_NOTIFY_ACCOUNT`, else the first
    enabled email account by name; with none, ``None`` (not sent: the
    notification stays in the workspace).
    """
    account = _notify_account(helpdesk.config["HELPDESK_EMAIL_NOTIFY_ACCOUNT"])
    if account is None:
        return None
    settings = _smtp_settings(account)
    with _language(agent.language):
        mail = smtp.build_notice(notification, to=(agent.name, agent.email),
                                 from_address=settings.from_address,
                                 from_name=settings.from_name)
    smtp.send(mail, settings)
    return True


def _notify_account(name: str | None) -> t.Any:
    """The account named by the setting, or the first enabled one.

    :raises DeliveryError: The named account does not exist or is disabled
        (permanent: a setting to fix).
    """
    if name:
        try:
            account = channels.find_account("email", name, actor=SYSTEM)
        except NotFound:
            account = None
        if account is None or not account.enabled:
            raise DeliveryError(_("HELPDESK_EMAIL_NOTIFY_ACCOUNT names %(name)s, which is no"
                                  " enabled email account.", name=name), permanent=True)
        return account
    found = channels.list_accounts(actor=SYSTEM, channel="email", enabled_only=True)
    return found[0] if found else None


def _language(code: str | None) -> t.ContextManager[None]:
    """The agent's language for the mail's words (the default one when unset)."""
    import contextlib

    from flask_babel import force_locale

    return force_locale(code) if code else contextlib.nullcontext()


@hookimpl
def helpdesk_allow_automatic_reply(ticket: t.Any, message: t.Any, recipient: t.Any
                                   ) -> bool | None:
    """No automatic reply to machines, lists, ourselves or a sender over the hourly limit."""
    from .loops import allow_automatic_reply

    return allow_automatic_reply(ticket, message, recipient)


@hookimpl
def helpdesk_validate_account(channel: str, settings: dict[str, t.Any]) -> None:
    """Refuse an unknown security mode, or plain IMAP or SMTP to a server off this machine.

    The fetcher and the sender refuse the same again when they connect.
    """
    if channel != "email":
        return
    from . import _tls

    for service, default in (("imap", "tls"), ("smtp", "starttls")):
        field_name = f"{service}_security"
        security = str(settings.get(field_name) or default)
        host = str(settings.get(f"{service}_host") or "")
        if security not in ("tls", "starttls", "plain"):
            raise ValidationError(_("Unknown security %(mode)s: use tls, starttls or plain.",
                                    mode=security), field=field_name)
        if security == "plain" and host and not _tls.loopback(host):
            raise ValidationError(_(
                "Without TLS, %(service)s may only connect to this machine (a loopback"
                " address); %(host)s is not one. Choose TLS or STARTTLS.",
                service=service.upper(), host=host), field=field_name)


@hookimpl
def helpdesk_reparse_message(channel: str, account: str, raw: bytes) -> InboundMessage | None:
    """Read a quarantined email again as the fetcher would: parse, limits, filters.

    Without an account of that name (an archive import without ``--account``,
    or a deleted account) only the ``HELPDESK_EMAIL_*`` filters and limits
    apply, as on such an import.
    """
    if channel != "email":
        return None
    from . import intake

    try:
        found = channels.find_account("email", account, actor=SYSTEM)
    except NotFound:
        token = str(current_app.config["HELPDESK_EMAIL_TICKET_TOKEN"])
        found_intake = intake.Intake(None, {}, ticket_token=token, automatic_replies=False)
        return dataclasses.replace(found_intake.prepare(raw).message, account=account)
    return intake.prepare(raw, account=found, settings=accounts.account_config(found)).message


@hookimpl(optionalhook=True)  # a core without `flask helpdesk doctor` still loads the plugin
def helpdesk_doctor(helpdesk: t.Any) -> list[tuple[str, str]]:
    """``flask helpdesk doctor``: each email account's settings, and the notify account."""
    from . import doctor

    return doctor.check(helpdesk)


@hookimpl
def helpdesk_startup(helpdesk: t.Any) -> None:
    helpdesk.jobs.declare("email_poll", poll_job, max_retries=0)
    helpdesk.jobs.declare("email_poll_all", poll_all_job, max_retries=0)
    interval = float(helpdesk.config["HELPDESK_EMAIL_POLL_INTERVAL"] or 0)
    if interval > 0:
        helpdesk.jobs.every("email_poll_all", interval)


def poll_all_job() -> None:
    """Job ``helpdesk.email_poll_all`` (periodic): one poll job per enabled account.

    The account lease keeps a slow poll and the next period from fetching at once.
    """
    state = get_state()
    accounts.sync_config_accounts(state.config.values)
    for account in channels.list_accounts(actor=SYSTEM, channel="email", enabled_only=True):
        state.jobs.send("email_poll", account.id)


def poll_job(account_id: int) -> None:
    """Job ``helpdesk.email_poll``: fetch new mail of one account."""
    from .client import FetchOptions
    from .client import poll_account

    account = channels.get_account(account_id, actor=SYSTEM)
    if account.enabled:
        poll_account(account, FetchOptions.from_config(get_state().config.values))


@hookimpl
def helpdesk_register_commands(cli: click.Group) -> None:
    cli.add_command(email_group)


@click.group("email")
def email_group() -> None:
    """The email channel."""


@email_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--account", default="", help="Account name the messages belong to.")
@click.option("--workers", type=int, default=None,
              help="Processes that parse mail (default: CPUs - 1; 0: none). An import"
                   " of two batches (400 messages) or fewer parses without them.")
def import_command(paths: tuple[str, ...], account: str, workers: int | None) -> None:
    """Import .eml files, Maildir folders and mbox files, keeping their dates.

    The account's group, sender filters and attachment limits apply; nobody
    gets an automatic answer.
    """
    from .archive import import_paths

    token = current_app.config["HELPDESK_EMAIL_TICKET_TOKEN"]
    stats = import_paths(paths, account=account, ticket_token=token, workers=workers)
    click.echo(f"imported={stats.imported} duplicates={stats.duplicates}"
               f" quarantined={stats.quarantined} tickets={stats.tickets}")


@email_group.command("backfill-participants")
@click.option("--dry-run", is_flag=True, help="Change nothing; count what would be added.")
def backfill_participants_command(dry_run: bool) -> None:
    """Make ticket participants of the To and Cc of inbound mail stored before 0008.

    Run it once after upgrading to migration 0008_threading; running it again
    adds nothing.
    """
    from .backfill import backfill_participants

    stats = backfill_participants(dry_run=dry_run)
    values = {"messages": stats.messages, "tickets": stats.tickets,
              "participants": stats.participants}
    if dry_run:
        click.echo(_("Dry run, nothing was changed. Messages read: %(messages)s. Tickets that"
                     " would get participants: %(tickets)s. Participants to add:"
                     " %(participants)s.", **values))
    else:
        click.echo(_("Messages read: %(messages)s. Tickets that got participants: %(tickets)s."
                     " Participants added: %(participants)s.", **values))


@email_group.command("poll")
@click.argument("account", required=False)
def poll_command(account: str | None) -> None:
    """Fetch new mail now, for every enabled email account or the one named."""
    from .client import FetchOptions
    from .client import poll_all

    config = get_state().config.values
    _echo_errors(accounts.sync_config_accounts(config))
    options = FetchOptions.from_config(config)
    for name, stats in poll_all(options, account).items():
        click.echo(f"{name}: fetched={stats.fetched} ingested={stats.ingested}"
                   f" quarantined={stats.quarantined} backlog={stats.backlog}"
                   + (" locked" if stats.locked else ""))


@email_group.command("accounts")
def accounts_command() -> None:
    """Apply HELPDESK_EMAIL_ACCOUNTS to the database and list the email accounts."""
    report = accounts.sync_config_accounts(get_state().config.values)
    for label, names in (("created", report.created), ("updated", report.updated),
                         ("released", report.released)):
        if names:
            click.echo(f"{label}: {', '.join(names)}")
    _echo_errors(report)
    for account in channels.list_accounts(actor=SYSTEM, channel="email"):
        source = channels.managed_by(account) or "database"
        state = "enabled" if account.enabled else "disabled"
        click.echo(f"{account.name}\t{source}\t{state}\tbacklog={account.backlog}")


def _echo_errors(report: accounts.SyncReport) -> None:
    for name, error in report.errors.items():
        click.echo(f"HELPDESK_EMAIL_ACCOUNTS {name}: {error}", err=True)


@email_group.command("idle")
@click.argument("accounts", nargs=-1)
def idle_command(accounts: tuple[str, ...]) -> None:
    """Watch enabled email accounts (or the ones named) with IMAP IDLE until stopped."""
    import time

    from .idle import watch_accounts

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    watchers = watch_accounts(app, accounts)
    click.echo(f"watching {len(watchers)} account(s); Ctrl-C stops")
    try:
        while any(w.thread.is_alive() for w in watchers):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for watcher in watchers:
            watcher.stop()
