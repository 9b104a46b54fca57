"""Hook specifications: the contract between the helpdesk and its plugins.

Every hook is documented here and nowhere else; ``docs/plugin_hooks.rst``
renders these docstrings. Hook names start with ``helpdesk_``. Arguments are
opt-in: an implementation takes only the arguments it needs, so adding an
argument later never breaks a plugin.
"""

from __future__ import annotations

import typing as t

import pluggy

if t.TYPE_CHECKING:
    import click
    from markupsafe import Markup

    from ..channels import AgentNotice
    from ..channels import DeliveryReceipt
    from ..channels import Identity
    from ..channels import InboundMessage
    from ..channels import OutboundMessage
    from ..events import Event
    from ..models import Agent
    from ..models import Customer
    from ..models import Message
    from ..models import Ticket
    from ..state import HelpdeskState

#: Marks a function as a hook specification.
hookspec = pluggy.HookspecMarker("flask_helpdesk")
#: Marks a function as an implementation of a helpdesk hook.
hookimpl = pluggy.HookimplMarker("flask_helpdesk")


# --------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------


@hookspec(historic=True)
def helpdesk_add_hookspecs(pluginmanager: pluggy.PluginManager) -> None:
    """Declare hooks of a plugin's own, for other plugins to implement.

    Called once for every plugin as it is registered, by ``init_app`` while it
    builds the app's plugin manager, before the check that every
    implementation has a specification, with no app context.

    :param pluginmanager: The app's plugin manager: call
        ``pluginmanager.add_hookspecs(module_or_class)`` with the plugin's
        specifications (marked with ``pluggy.HookspecMarker("flask_helpdesk")``).
    :return: Ignored.

    Historic: a plugin registered after the call gets a replay, so the order
    of registration does not matter; the hook cannot return a value. Call the
    new hooks through ``helpdesk.hook`` (``helpdesk.pm.hook``). Name them
    ``helpdesk_<plugin>_*`` and document them on the plugin's page; the email
    channel's ``helpdesk_email_oauth2_token`` is an example.

    Must be pure: no I/O, nothing but ``add_hookspecs``.

    .. versionadded:: 0.1
    """


@hookspec
def helpdesk_config_defaults() -> dict[str, t.Any]:
    """Declare the plugin's configuration keys and their defaults.

    Called once by ``init_app``, before the configuration is frozen, with no
    app context.

    :return: A mapping of ``HELPDESK_<PLUGIN>_*`` keys to default values. The
        core applies them with ``app.config.setdefault``, so the host's values
        win, and lists them in ``flask helpdesk config``.

    All results are collected. Keys without the ``HELPDESK_`` prefix make
    ``init_app`` raise :class:`RuntimeError`.

    Must be pure: no I/O, no side effects.

    .. versionadded:: 0.1
    """


@hookspec
def helpdesk_startup(helpdesk: HelpdeskState) -> None:
    """Finish setting up after the helpdesk is registered on an app.

    Called once at the end of ``init_app``, inside an app context. The
    database may not have its tables yet: do not query it here.

    :param helpdesk: The helpdesk of the app being set up.
    :return: Ignored.

    Use it to check the plugin's configuration and raise
    :class:`RuntimeError` with a message that names the fix.

    .. versionadded:: 0.1
    """


@hookspec
def helpdesk_register_commands(cli: click.Group) -> None:
    """Add subcommands to ``flask helpdesk``.

    Called once by ``init_app``, with no app context.

    :param cli: The ``helpdesk`` click group; add commands with
        ``cli.command()`` or ``cli.add_command()``.
    :return: Ignored.

    Commands run with an app context pushed by Flask's CLI. Document every
    command you add.

    .. versionadded:: 0.1
    """


@hookspec
def helpdesk_register_channels() -> list[dict[str, str]]:
    """Declare the channels a plugin provides.

    Called once by ``init_app``, with no app context.

    :return: A list of ``{"name": ..., "label": ...}`` mappings; ``name`` is
        what the plugin puts in :attr:`InboundMessage.channel` and answers
        for in ``helpdesk_deliver_message``.

    All results are collected. Two plugins declaring the same name make
    ``init_app`` raise :class:`RuntimeError`. The core declares ``web`` (the
    REST API and the agent UI) in ``plugins/defaults/web.py``.

    .. versionadded:: 0.1
    """


@hookspec
def helpdesk_doctor(helpdesk: HelpdeskState) -> list[tuple[str, str]] | None:
    """Check the plugin's own setup for ``flask helpdesk doctor``.

    Called by the command, in an app context, after the core's checks, and
    only when the database is at its revision (so the plugin may query it).

    :param helpdesk: The helpdesk of the app being checked.
    :return: ``(level, text)`` pairs, one per line of the report: ``level``
        is ``"ok"``, ``"warn"`` or ``"fail"`` (a ``fail`` makes the command
        exit with status 1); ``text`` starts with what was checked and, unless
        it is OK, says what to do, in the current language. ``None`` or an
        empty list when there is nothing to report.

    All results are collected, in registration order. An exception is
    reported as a ``fail`` line naming the plugin; the other checks still run.
    Keep it quick and read-only: no network calls that may hang, no writes.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------
# Inbound channels
# --------------------------------------------------------------------------


@hookspec
def helpdesk_spam_score(helpdesk: HelpdeskState, message: InboundMessage) -> float | None:
    """Score an inbound message for spam.

    Called by :func:`~flask_helpdesk.services.inbound.ingest` inside its
    transaction, before the message is stored, in a worker or CLI process
    (or a request, for the API's inbound endpoint).

    :param helpdesk: The helpdesk of the current app.
    :param message: The message being ingested. Read-only.
    :return: A score from 0.0 (clean) to 1.0 (spam), or ``None`` to abstain.

    All results are collected; ingest takes the highest of them and of
    :attr:`InboundMessage.spam_score`. At or above
    :data:`HELPDESK_SPAM_THRESHOLD` a new ticket gets the ``spam`` status.

    Must not block for long and must not commit.

    .. versionadded:: 0.1
    """


@hookspec
def helpdesk_channel_settings() -> list[dict[str, t.Any]]:
    """Describe the account form of a channel, for the admin pages.

    Called whenever an admin opens or submits a channel account page, in the
    web process, inside a request.

    :return: A list of descriptions, one per channel, each
        ``{"channel": "email", "label": "Email (IMAP/SMTP)", "fields": [...]}``.
        ``channel`` is a name declared with ``helpdesk_register_channels``.
        Each field is a mapping with ``name`` (the settings key), ``label``,
        ``type`` (``text``, ``number``, ``password``, ``select``,
        ``checkbox`` or ``textarea``) and optionally ``secret`` (stored
        encrypted and never shown back; the default for ``password``),
        ``required``, ``default`` (proposed for a new account), ``choices``
        (values or ``(value, label)`` pairs of a ``select``), ``help`` (a
        sentence under the field) and ``multiple`` (a ``textarea`` whose
        lines are stored as a list).

    All results are collected. A malformed description, an undeclared
    channel or two descriptions of one channel raise :class:`RuntimeError`.
    The core renders the form, validates what is submitted (required fields,
    numbers, choices) and stores it with
    :func:`~flask_helpdesk.services.channels.save_account_form`: plain fields
    in the account's ``settings``, secret ones in its encrypted ``secrets``.
    Labels and help may be lazy strings; they are rendered with ``str()`` in
    the admin's language.

    Must be pure: no I/O, no database.

    .. versionadded:: 0.1
    """


@hookspec
def helpdesk_validate_account(
    helpdesk: HelpdeskState, channel: str, name: str, settings: dict[str, t.Any],
    secrets: dict[str, t.Any] | None,
) -> None:
    """Refuse a channel account's settings before they are stored.

    Called by :func:`~flask_helpdesk.services.channels.create_account` and
    :func:`~flask_helpdesk.services.channels.update_account` (so by the admin
    pages, the REST API and scripts alike), inside the transaction, before
    anything is written. Every plugin is called; check only the accounts of
    your own ``channel``.

    :param channel: The account's channel.
    :param name: The account's name.
    :param settings: The plain settings as they will be stored (the whole
        object: on an update, the new one, or the stored one when unchanged).
    :param secrets: The secrets being stored, or ``None`` on an update that
        keeps the stored ones.

    Raise :class:`~flask_helpdesk.errors.ValidationError` (with ``field``
    naming the setting) to refuse: the form shows it on that field, the API
    answers 422. Must not write to the database; a quick lookup (a host name
    in ``/etc/hosts``) is fine, a network round trip is not.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def helpdesk_reparse_message(
    helpdesk: HelpdeskState, channel: str, account: str, raw: bytes
) -> InboundMessage | None:
    """Read the raw bytes of a quarantined message again, for a retry.

    Called by :func:`~flask_helpdesk.services.quarantine.retry_quarantined`
    when an admin retries an entry (the REST API's
    ``POST /quarantine/{id}/retry``, or a script), in a web request or CLI
    process, inside an app context and outside any transaction.

    :param helpdesk: The helpdesk of the current app.
    :param channel: The channel that kept the bytes
        (:attr:`~flask_helpdesk.models.QuarantinedMessage.channel`).
    :param account: The account that read them.
    :param raw: The bytes exactly as the channel kept them.
    :return: An :class:`~flask_helpdesk.channels.InboundMessage` when this
        plugin owns ``channel``, otherwise ``None``.

    Stops at the first non-None result. Raise any exception when the bytes
    still cannot be read: the entry stays in the quarantine with that error
    and one more attempt. There is no default implementation: an entry of a
    channel that no plugin reads again cannot be retried
    (:class:`~flask_helpdesk.errors.ValidationError`), only discarded.

    Return the same message the channel's fetcher would have made (the same
    ``external_id``), so that a retry of a message ingested meanwhile is a
    duplicate, not a second copy. Must not commit. The hook need not know
    whether the entry came from an archive import: the core ingests the
    message of an entry kept with ``imported=True`` as imported history.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------
# Outbound delivery
# --------------------------------------------------------------------------


@hookspec(firstresult=True)
def helpdesk_deliver_message(
    helpdesk: HelpdeskState, message: OutboundMessage
) -> DeliveryReceipt | None:
    """Send one outbound message through the channel that owns it.

    Called by the ``helpdesk.deliver_message`` job in a worker, inside an app
    context, after the reply was committed. Never called during a request.

    :param helpdesk: The helpdesk of the current app.
    :param message: The reply to send. Read-only.
    :return: A receipt when this plugin owns ``message.channel``, otherwise
        ``None``.

    Stops at the first non-None result. Raise
    :class:`~flask_helpdesk.errors.DeliveryError` for a failure: the job
    retries with backoff unless ``permanent=True``. A default implementation
    for the ``web`` channel (nothing to send: the customer reads replies in
    the portal) is registered with ``trylast=True`` in
    ``plugins/defaults/web.py``.

    Implementations must be idempotent: after a crash the same message can be
    delivered twice; use ``message.idempotency_key``. Must not commit.

    .. versionadded:: 0.1
    """


@hookspec
def helpdesk_allow_automatic_reply(
    helpdesk: HelpdeskState, ticket: Ticket, message: Message | None, recipient: Identity | None
) -> bool | None:
    """Say whether the helpdesk may answer a customer on its own, now.

    Called by :func:`~flask_helpdesk.services.messages.may_reply_automatically`
    before an automatic reply is queued: the ``reply`` and ``send_template``
    rule actions, the out-of-hours auto-reply, and plugins' own automatic
    answers. Called inside the transaction that would queue the reply, in the
    process that runs the rule (web request, worker or CLI), inside an app
    context.

    :param helpdesk: The helpdesk of the current app.
    :param ticket: The ticket that would be answered. Read-only.
    :param message: The customer's last message on it (the one the reply
        would answer), or ``None`` when there is none. Read-only.
    :param recipient: The customer's identity the reply would go to on the
        ticket's channel, or ``None``.
    :return: ``False`` to refuse, ``True`` or ``None`` to let it be.

    All results are collected; one ``False`` vetoes the reply, which is then
    not queued (the rule's other actions still apply) and a
    ``message.automatic_reply_refused`` event names the refusal on the
    ticket's history. There is no default implementation; a channel plugin
    answers for its own channel (the email channel refuses auto-replies,
    bounces, mailing lists, ``Precedence: bulk/junk/list``, noreply and
    mailer-daemon senders and a sender over
    :data:`HELPDESK_EMAIL_AUTO_REPLY_LIMIT` automatic replies an hour) and
    returns ``None`` for the others.

    Must not commit and must not block for long.

    .. versionadded:: 0.2
    """


@hookspec(firstresult=True)
def helpdesk_notify_agent_email(
    helpdesk: HelpdeskState, agent: Agent, notification: AgentNotice
) -> bool | None:
    """Email an agent a rule's notification.

    Called by the ``helpdesk.notify_agents_email`` job in a worker, inside an
    app context, after the rule that created the notification committed,
    once per notification whose rule asked for email (the ``notify`` action's
    ``email``, true by default) and whose agent has an address. Never called
    during a request, nor inside a transaction.

    :param helpdesk: The helpdesk of the current app.
    :param agent: The agent to tell; ``agent.email`` is set. Read-only.
    :param notification: What to tell: the rule's filled-in message, the
        ticket's number and subject, and its absolute address when the app
        knows its own (``ticket_url``, else ``None``). Read-only.
    :return: ``True`` when this plugin sent the mail, ``None`` to leave it to
        another plugin.

    Stops at the first non-None result. When no plugin answers, the
    notification is recorded as ``skipped`` (``email_state``, with the
    reason in ``email_error``): it is still in the agent's workspace, and
    that is not an error. Raise :class:`~flask_helpdesk.errors.DeliveryError`
    for a failure: ``permanent=True`` records it as ``failed``; otherwise the
    job retries with backoff (the error is kept meanwhile). The email channel
    implements it (see :data:`HELPDESK_EMAIL_NOTIFY_ACCOUNT`), marking the
    mail ``Auto-Submitted: auto-generated``.

    Implementations should be idempotent (``notification.id`` is stable
    across retries): after a crash a notification may be mailed twice. Must
    not commit.

    .. versionadded:: 0.2
    """


# --------------------------------------------------------------------------
# Tickets and events
# --------------------------------------------------------------------------


@hookspec
def helpdesk_ticket_event(helpdesk: HelpdeskState, event: Event) -> None:
    """React to a change of a ticket, after it was committed.

    Called once per event by the event pipeline right after the service's
    transaction committed, in the process that made the change (web request,
    worker or CLI), inside an app context. A rolled-back change calls nothing.

    :param helpdesk: The helpdesk of the current app.
    :param event: The committed event. Read-only.
    :return: Ignored.

    Every implementation is called, even when another one raises (the error
    is logged). Slow work (HTTP calls, mail) belongs in a dramatiq job sent
    from here. Calling a service from here starts a new transaction whose
    events are dispatched in turn.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------
# Rules and automation
# --------------------------------------------------------------------------


@hookspec
def helpdesk_register_rule_actions() -> dict[str, dict[str, t.Any]]:
    """Add kinds of rule action.

    Called whenever rules are validated or applied (saving a rule, running
    one), in the web process, a worker or the CLI, inside an app context.

    :return: ``{name: {"validate": fn, "apply": fn}}``. ``validate(action)``
        takes the action dict (``{"type": name, ...}``) and returns it
        normalized, or raises :class:`~flask_helpdesk.errors.ValidationError`
        so that a bad rule is refused when it is saved. ``apply(ticket_id,
        actor, action)`` changes the ticket through the public services with
        ``actor`` (the rule's :class:`~flask_helpdesk.services.SystemActor`).

    All results are collected. A name that is already taken (a core action
    or another plugin's) raises :class:`RuntimeError`. The core's own
    actions live in ``services/rule_actions.py``.

    ``apply`` runs inside the rule's transaction: it must not commit, and
    raising undoes every action of the rule on that ticket. Slow work (HTTP
    calls) belongs in a job sent with ``helpdesk.jobs.send``.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------
# UI contributions
# --------------------------------------------------------------------------


@hookspec
def helpdesk_customer_sidebar_html(
    helpdesk: HelpdeskState, customer: Customer, agent: Agent | None
) -> str | Markup | None:
    """Add a block of HTML about a customer to the agent's sidebar.

    Called while a web request renders the partial
    ``helpdesk/_customer_sidebar.html``: on the customer profile and beside a
    ticket, inside the request's app context, once per page. Nothing is
    being committed.

    :param helpdesk: The helpdesk of the current app.
    :param customer: The customer shown, with ``customer.identities`` loaded
        (match your own records on their ``kind`` and normalized ``value``).
        Read-only.
    :param agent: The agent looking at the page (``None`` outside the agent
        pages). Use it to hide data the agent should not see.
    :return: An HTML fragment (``str`` or :class:`markupsafe.Markup`), or
        ``None`` to show nothing. The fragment is inserted as it is, in a
        ``<section>`` of its own: it is trusted HTML from the host, so the
        plugin must escape every value it puts in it, e.g. with
        ``markupsafe.Markup("<li>{}</li>").format(value)`` or a template
        rendered with ``render_template``.

    All results are collected, each non-None one shown as a block, in
    pluggy's call order (the plugin registered last first; mark the hookimpl
    ``tryfirst=True`` or ``trylast=True`` to move its block). An
    implementation that raises (or returns something other than text) is
    logged on the ``flask_helpdesk.plugins`` logger and its block is replaced
    by a short "this block failed" note; the page still renders. There is no default implementation.

    Runs on every page view: keep it fast (one indexed query, or a cache for
    remote systems), never block on a slow service, and never write or
    commit.

    .. versionadded:: 0.1
    """
