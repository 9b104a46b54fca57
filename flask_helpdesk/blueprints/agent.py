"""The agent's HTML pages: the ticket list, a ticket, a customer.

Each view parses the request, calls services and renders a template under
``helpdesk/`` (a host template at the same path wins). Every page needs a
logged-in host user who is an agent: anonymous visitors are sent to the host's
login view (``login_manager.login_view``), other users get 403. Every POST
carries a CSRF token (Flask-WTF's, so a host's ``CSRFProtect`` accepts it too);
a POST without a valid one is refused with 400.

Errors from services are shown next to the form that caused them, with what
the agent typed kept in the form.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError as CsrfError

from ..errors import Conflict
from ..errors import HelpdeskError
from ..errors import ValidationError
from ..extension import current_agent_or_none
from ..extension import get_state
from ..i18n import _
from ..i18n import gettext
from ..i18n import ngettext
from ..models.ticket import PRIORITIES
from ..models.ticket import STATUSES
from ..models.ticket import TRANSITIONS
from ..services import UNSET
from ..services import TicketChanges
from ..services import TicketFilter
from ..services import agents
from ..services import customers
from ..services import messages
from ..services import tickets
from ..services import views

if t.TYPE_CHECKING:
    from werkzeug import Response

    from ..models import Agent

bp = Blueprint("agent", __name__)
bp.add_app_template_global(gettext, "_hd")
bp.add_app_template_global(ngettext, "_hdn")

#: Seconds a form's CSRF token stays valid: a working day, so a long reply
#: written slowly is not refused.
CSRF_TIME_LIMIT = 8 * 3600

#: Most messages and history events shown on a ticket page.
THREAD_LIMIT = 500

#: The filters of the ticket list, as query-string names.
FILTER_ARGS = ("status", "priority", "assignee", "group", "tags", "q")


@bp.before_request
def _require_agent() -> Response | None:
    if not current_user.is_authenticated:
        return t.cast("Response", current_app.login_manager.unauthorized())  # type: ignore
    if _agent_or_none() is None:
        abort(403)
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"), time_limit=CSRF_TIME_LIMIT)
        except CsrfError as exc:
            abort(400, description=str(exc))
    return None


@bp.context_processor
def _context() -> dict[str, t.Any]:
    return {
        "hd_agent": _agent_or_none(), "hd_csrf_token": generate_csrf,
        "hd_locale": str(get_locale() or "en"), "hd_status_label": tickets.status_label,
        "hd_priority_label": _priority_label, "STATUSES": STATUSES, "PRIORITIES": PRIORITIES,
    }


@bp.errorhandler(HelpdeskError)
def _helpdesk_error(exc: HelpdeskError) -> tuple[str, int]:
    return render_template("helpdesk/error.html", error=exc), exc.http_status


def _agent() -> Agent:
    agent = _agent_or_none()
    assert agent is not None  # checked before every request
    return agent


def _agent_or_none() -> Agent | None:
    return current_agent_or_none()


def _priority_label(name: str) -> str:
    labels = {"low": _("low"), "normal": _("normal"), "high": _("high"),
              "urgent": _("urgent")}
    return str(labels.get(name, name))


# ------------------------------------------------------------------ the list


@bp.get("/")
def index() -> Response:
    return redirect(url_for(".tickets"))


@bp.get("/tickets", endpoint="tickets")
def tickets_list() -> str | tuple[str, int]:
    """The ticket list: a saved view or ad-hoc filters, keyset-paginated."""
    actor = _agent()
    error, view, page = None, None, views.Page([], None)
    sort = request.args.get("sort", "-updated")
    try:
        if request.args.get("view"):
            view = views.get_view(_int_arg("view"), actor=actor)
            filters, sort = TicketFilter.from_dict(view.filters), view.sort
        else:
            filters = _filters_from_args()
        page = views.list_tickets(actor=actor, filters=filters, sort=sort,
                                  cursor=request.args.get("cursor") or None)
    except ValidationError as exc:
        error, filters = exc, TicketFilter()
    saved = views.list_views(actor=actor)
    body = render_template(
        "helpdesk/tickets.html", page=page, filters=filters, sort=sort, view=view,
        views=saved, counts=views.view_counts(actor=actor, views=saved), error=error,
        groups=agents.list_groups(), agents=agents.list_agents(),
        next_url=_next_url(page.next_cursor), sorts=list(views.SORTS),
    )
    return (body, 422) if error else body


def _int_arg(name: str) -> int:
    value = request.args.get(name, "")
    if not value.isdigit():
        raise ValidationError(_("%(field)s must be a number.", field=name), field=name)
    return int(value)


def _filters_from_args() -> TicketFilter:
    data: dict[str, t.Any] = {name: request.args.getlist(name) for name in FILTER_ARGS[:-1]}
    data["tags"] = [tag for value in data["tags"] for tag in value.replace(",", " ").split()]
    data["q"] = request.args.get("q") or None
    return TicketFilter.from_dict({k: v for k, v in data.items() if v})


def _next_url(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    args: dict[str, t.Any] = request.args.to_dict(flat=False)
    args["cursor"] = [cursor]
    return url_for(".tickets", **args)


# ---------------------------------------------------------------- one ticket


@bp.get("/tickets/<int:ticket_id>")
def ticket(ticket_id: int) -> t.Any:
    return _render_ticket(ticket_id)


def _render_ticket(ticket_id: int, *, form: str | None = None, error: HelpdeskError | None =
                   None, status: int = 200) -> t.Any:
    """The ticket page; ``form`` names the form ``error`` belongs to (typed text kept)."""
    actor = _agent()
    item = tickets.get_ticket(ticket_id, actor=actor)
    thread = messages.list_messages(ticket_id, actor=actor, limit=THREAD_LIMIT)
    history = tickets.list_events(ticket_id, actor=actor, limit=THREAD_LIMIT)
    team = agents.list_agents()
    groups = agents.list_groups()
    body = render_template(
        "helpdesk/ticket.html", ticket=item, thread=thread, history=history,
        agents=team, groups=groups, agent_names={a.id: a.name for a in team},
        group_names={g.id: g.name for g in groups},
        statuses=[item.status, *sorted(TRANSITIONS[item.status], key=STATUSES.index)],
        seen_event_id=history[-1].id if history else 0,
        form=form, error=error, values=request.form if form else {},
        conflict=isinstance(error, Conflict),
    )
    return (body, status) if status != 200 else body


def _act(ticket_id: int, form: str, action: t.Callable[[], t.Any], done: str) -> t.Any:
    """Run a service call for a form; on error show the page again with the form filled."""
    try:
        action()
    except HelpdeskError as exc:
        if not isinstance(exc, ValidationError | Conflict):
            raise
        return _render_ticket(ticket_id, form=form, error=exc, status=exc.http_status)
    flash(done, "success")
    return redirect(url_for(".ticket", ticket_id=ticket_id, _anchor=form))


def _optional_int(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValidationError(_("%(field)s must be a number.", field=name), field=name)
    return int(value)


@bp.post("/tickets/<int:ticket_id>/reply")
def reply(ticket_id: int) -> t.Any:
    """Send a public reply, optionally setting the status."""
    return _act(ticket_id, "reply", lambda: messages.reply(
        ticket_id, actor=_agent(), text=request.form.get("text", ""),
        status=request.form.get("status") or None,
        seen_event_id=_optional_int("seen_event_id"), confirm=bool(request.form.get("confirm")),
    ), _("Reply sent."))


@bp.post("/tickets/<int:ticket_id>/note")
def note(ticket_id: int) -> t.Any:
    """Add an internal note."""
    return _act(ticket_id, "note", lambda: messages.add_note(
        ticket_id, actor=_agent(), text=request.form.get("text", ""),
    ), _("Note added."))


@bp.post("/tickets/<int:ticket_id>/properties")
def properties(ticket_id: int) -> t.Any:
    """Change status, priority, group, assignee and tags in one go."""

    def change() -> None:
        current = {tag.name for tag in tickets.get_ticket(ticket_id, actor=_agent()).tags}
        wanted = {tickets.normalize_tag(x) for x in
                  request.form.get("tags", "").replace(",", " ").split()}
        tickets.update_ticket(ticket_id, actor=_agent(), changes=TicketChanges(
            status=request.form.get("status") or UNSET,
            priority=request.form.get("priority") or UNSET,
            group_id=_optional_int("group_id"), assignee_id=_optional_int("assignee_id"),
            add_tags=sorted(wanted - current), remove_tags=sorted(current - wanted),
        ))

    return _act(ticket_id, "properties", change, _("Ticket updated."))


@bp.post("/tickets/<int:ticket_id>/reassign")
def reassign(ticket_id: int) -> t.Any:
    """Hand the ticket to another group or agent, with an internal note."""
    return _act(ticket_id, "reassign", lambda: tickets.reassign(
        ticket_id, actor=_agent(), group_id=_optional_int("group_id"),
        assignee_id=_optional_int("assignee_id"), note=request.form.get("note", ""),
    ), _("Ticket reassigned."))


@bp.post("/tickets/<int:ticket_id>/merge")
def merge(ticket_id: int) -> t.Any:
    """Merge this ticket into another ticket of the same customer."""
    try:
        into = _optional_int("into")
        if into is None:
            raise ValidationError(_("Give the number of the ticket to merge into."),
                                  field="into")
        tickets.merge_tickets(ticket_id, into, actor=_agent())
    except (ValidationError, Conflict) as exc:
        return _render_ticket(ticket_id, form="merge", error=exc, status=exc.http_status)
    flash(_("Ticket #%(source)s was merged into this one.", source=ticket_id), "success")
    return redirect(url_for(".ticket", ticket_id=into))


# ------------------------------------------------------------------ customers


@bp.get("/customers/<int:customer_id>")
def customer(customer_id: int) -> str:
    """A customer: identities, attributes and the tickets the agent may see."""
    actor = _agent()
    person = customers.get_customer(customer_id)
    if person.merged_into_id is not None:
        return t.cast(str, redirect(url_for(".customer", customer_id=person.merged_into_id)))
    page = views.list_tickets(actor=actor, filters=TicketFilter(customer=customer_id),
                              sort="-created", limit=get_state().config.max_page_size)
    return render_template("helpdesk/customer.html", customer=person, page=page)
