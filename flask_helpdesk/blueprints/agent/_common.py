"""What every agent page shares: the blueprint, the agent and CSRF checks,
template globals, the error page and small request parsers."""

from __future__ import annotations

import datetime as dt
import typing as t

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import render_template
from flask import request
from flask_babel import format_timedelta
from flask_babel import get_locale
from flask_login import current_user

from ...channels import InboundAttachment
from ...errors import HelpdeskError
from ...errors import ValidationError
from ...extension import current_agent_or_none
from ...extension import get_state
from ...i18n import _
from ...i18n import gettext
from ...i18n import lazy_gettext
from ...i18n import ngettext
from ...models import utcnow
from ...models.ticket import PRIORITIES
from ...models.ticket import STATUSES
from ...services import tickets
from ...services import whole_number

if t.TYPE_CHECKING:
    from werkzeug import Response

    from ...models import Agent

bp = Blueprint("agent", __name__)
bp.add_app_template_global(gettext, "_hd")
bp.add_app_template_global(ngettext, "_hdn")

#: Seconds a form's CSRF token stays valid: a working day, so a long reply
#: written slowly is not refused.
CSRF_TIME_LIMIT = 8 * 3600

#: Most messages and history events shown on a ticket page.
THREAD_LIMIT = 500

#: The filters of the ticket list, as query-string names.
FILTER_ARGS = ("status", "priority", "assignee", "group", "channel", "tags", "q")


@bp.before_request
def _require_agent() -> Response | None:
    if not current_user.is_authenticated:
        return t.cast("Response", current_app.login_manager.unauthorized())  # type: ignore
    if _agent_or_none() is None:
        abort(403)
    if request.method == "POST":
        # Flask-WTF and WTForms are imported by the first form, not by every
        # process that creates the app (the CLI, the workers).
        from flask_wtf.csrf import validate_csrf
        from wtforms import ValidationError as CsrfError

        try:
            validate_csrf(request.form.get("csrf_token"), time_limit=CSRF_TIME_LIMIT)
        except CsrfError as exc:
            abort(400, description=str(exc))
    return None


def csrf_token() -> str:
    """A CSRF token for the agent pages' forms (template global ``hd_csrf_token``)."""
    from flask_wtf.csrf import generate_csrf

    return t.cast(str, generate_csrf())


@bp.context_processor
def _context() -> dict[str, t.Any]:
    return {
        "hd_agent": _agent_or_none(), "hd_csrf_token": csrf_token,
        "hd_locale": str(get_locale() or "en"), "hd_status_label": tickets.status_label,
        "hd_priority_label": _priority_label, "STATUSES": STATUSES, "PRIORITIES": PRIORITIES,
        "hd_channels": get_state().channels, "hd_ago": ago,
        "hd_realtime": get_state().extension.socketio is not None, "hd_live_text": live_text,
        "hd_editor_labels": editor_labels,
        "hd_status_labels": lambda: {k: str(v) for k, v in tickets.STATUS_LABELS.items()},
        "hd_priority_labels": lambda: {k: str(v) for k, v in PRIORITY_LABELS.items()},
    }


def editor_labels() -> dict[str, str]:
    """The rich-text editor's toolbar labels, in the agent's language."""
    return {
        "toolbar": _("Formatting"), "bold": _("Bold"), "italic": _("Italic"),
        "link": _("Link"), "bullet": _("Bulleted list"), "ordered": _("Numbered list"),
        "blockquote": _("Quote"), "linkUrl": _("Link address"),
    }


def live_text() -> dict[str, str]:
    """The sentences the live pages' script shows, in the agent's language."""
    return {
        "viewing": _("%(name)s is viewing"), "replying": _("%(name)s is replying"),
        "noting": _("%(name)s is writing a note"),
        "customer_wrote": _("The customer wrote a new message."),
        "agent_replied": _("%(name)s replied."), "agent_noted": _("%(name)s added a note."),
        "changed": _("%(name)s changed the ticket."),
        "notified": _("New notification: %(message)s"),
        "notified_many": _("New notifications: %(count)s."),
    }


def ago(value: dt.datetime | None) -> str:
    """How long ago ``value`` (naive UTC) was, in the agent's language ("3 hours")."""
    if value is None:
        return ""
    return str(format_timedelta(utcnow() - value, threshold=1.1, granularity="minute"))


@bp.errorhandler(HelpdeskError)
def _helpdesk_error(exc: HelpdeskError) -> tuple[str, int]:
    return render_template("helpdesk/error.html", error=exc), exc.http_status


def current_agent() -> Agent:
    """The agent of this request (checked before every view)."""
    agent = _agent_or_none()
    assert agent is not None  # checked before every request
    return agent


def _agent_or_none() -> Agent | None:
    return current_agent_or_none()


#: Priority names as people read them (translated when shown).
PRIORITY_LABELS = {"low": lazy_gettext("low"), "normal": lazy_gettext("normal"),
                   "high": lazy_gettext("high"), "urgent": lazy_gettext("urgent")}


def _priority_label(name: str) -> str:
    label = PRIORITY_LABELS.get(name)
    return name if label is None else str(label)




def int_arg(name: str) -> int:
    """The query-string argument ``name`` as a number, or a ValidationError."""
    value = whole_number(request.args.get(name, ""))
    if value is None:
        raise ValidationError(_("%(field)s must be a number.", field=name), field=name)
    return value


def optional_int(name: str) -> int | None:
    """The form field ``name`` as a number, ``None`` when empty."""
    value = request.form.get(name, "").strip()
    if not value:
        return None
    number = whole_number(value)
    if number is None:
        raise ValidationError(_("%(field)s must be a number.", field=name), field=name)
    return number


def uploaded_files() -> list[InboundAttachment]:
    """The files of the form's ``attachments`` field (empty file inputs skipped)."""
    return [InboundAttachment(filename=f.filename or "file",
                              content_type=f.mimetype or "application/octet-stream",
                              data=f.read())
            for f in request.files.getlist("attachments") if f.filename]
