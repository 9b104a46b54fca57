"""Admin pages of channel accounts (forms from the plugins) and the quarantine.

Each channel's account form is described by its plugin through the
``helpdesk_channel_settings`` hook and rendered here; secrets are never
shown back, not even the ones just typed into a form that failed.
"""

from __future__ import annotations

import typing as t

from flask import flash
from flask import redirect
from flask import request
from flask import url_for

from ...errors import HelpdeskError
from ...errors import NotFound
from ...errors import RetryFailed
from ...errors import ValidationError
from ...extension import get_state
from ...i18n import _
from ...services import agents
from ...services import channels
from ...services import quarantine
from ...services import whole_number
from ._common import bp
from .admin import admin
from .admin import render_admin
from .admin import submit

if t.TYPE_CHECKING:
    from ...models import ChannelAccount

#: Quarantined messages shown per page.
QUARANTINE_PAGE = 50


@bp.get("/admin/channels")
def admin_channels() -> t.Any:
    """Every account with its health and quarantine count; links to add accounts."""
    actor = admin()
    return render_admin(
        "channels.html", accounts=channels.list_accounts(actor=actor),
        forms=channels.channel_forms(), channel_labels=get_state().channels,
        group_names={g.id: g.name for g in agents.list_groups()},
        quarantined=channels.quarantine_counts(actor=actor))


@bp.get("/admin/channels/new/<channel>")
def admin_new_account(channel: str, *, error: HelpdeskError | None = None) -> t.Any:
    """The empty form of a new account of ``channel``."""
    admin()
    return _account_page(channel, None, error)


@bp.post("/admin/channels/new/<channel>")
def admin_create_account(channel: str) -> t.Any:
    return submit(lambda: channels.save_account_form(
        actor=admin(), channel=channel, data=request.form,
    ), _("Account created."), url_for(".admin_channels"),
        lambda e: admin_new_account(channel, error=e))


@bp.get("/admin/channels/<helpdesk_id:account_id>")
def admin_account(account_id: int, *, error: HelpdeskError | None = None) -> t.Any:
    """An account's form (secrets left empty), its health and quarantine."""
    account = channels.get_account(account_id, actor=admin())
    return _account_page(account.channel, account, error)


@bp.post("/admin/channels/<helpdesk_id:account_id>")
def admin_update_account(account_id: int) -> t.Any:
    account = channels.get_account(account_id, actor=admin())
    return submit(lambda: channels.save_account_form(
        actor=admin(), channel=account.channel, data=request.form, account_id=account_id,
    ), _("Account saved."), url_for(".admin_account", account_id=account_id),
        lambda e: admin_account(account_id, error=e))


def _account_page(channel: str, account: ChannelAccount | None,
                  error: HelpdeskError | None) -> t.Any:
    form = channels.channel_forms().get(channel)
    if form is None:
        raise NotFound(_("Channel %(channel)s has no settings form.", channel=channel))
    values = channels.form_values(form, account)
    if error is not None:  # keep what was typed, except secrets
        values.update({f.name: request.form.get(f.name, "") for f in form.fields
                       if not f.secret})
    quarantined = channels.quarantine_counts(actor=admin()) if account else {}
    return render_admin(
        "account.html", channel_form=form, account=account, fields=values,
        stored_secrets=channels.stored_secrets(account) if account else frozenset(),
        groups=agents.list_groups(), form="account" if error else None, error=error,
        quarantined=quarantined.get((channel, account.name), 0) if account else 0,
        status=error.http_status if error else 200)


# ------------------------------------------------------------------- quarantine


@bp.get("/admin/quarantine")
def admin_quarantine() -> t.Any:
    """Quarantined messages, newest first, optionally of one channel."""
    actor = admin()
    channel = request.args.get("channel") or None
    after = request.args.get("after", "")
    rows = quarantine.list_quarantine(actor=actor, channel=channel,
                                      after=whole_number(after),
                                      limit=QUARANTINE_PAGE + 1)
    more, rows = len(rows) > QUARANTINE_PAGE, rows[:QUARANTINE_PAGE]
    next_url = url_for(".admin_quarantine", channel=channel, after=rows[-1].id) if more else None
    return render_admin("quarantine.html", items=rows, channel=channel, next_url=next_url)


@bp.post("/admin/quarantine/<helpdesk_id:item_id>/discard")
def admin_discard_quarantined(item_id: int) -> t.Any:
    quarantine.discard_quarantined(item_id, actor=admin())
    flash(_("The message was discarded."), "success")
    return redirect(url_for(".admin_quarantine", channel=request.args.get("channel") or None))


@bp.post("/admin/quarantine/<helpdesk_id:item_id>/retry")
def admin_retry_quarantined(item_id: int) -> t.Any:
    """Read and ingest the message again; the flash message says how it went."""
    try:
        result = quarantine.retry_quarantined(item_id, actor=admin())
    except (RetryFailed, ValidationError) as exc:
        flash(exc.message, "error")
    else:
        flash(_("The message was ingested into ticket #%(id)s.", id=result.ticket_id),
              "success")
    return redirect(url_for(".admin_quarantine", channel=request.args.get("channel") or None))
