"""The inbox: views with live counts, the filtered list, bulk actions, quick search.

The list is keyset-paginated: "Load more" fetches the next rows as an HTML
fragment (``?partial=rows``) and appends them; without JavaScript the same
link opens the next page. Counts of the sidebar are also served as JSON
(``/tickets/counts``) so the page can refresh them without a reload.
"""

from __future__ import annotations

import re
import typing as t

from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from ...errors import HelpdeskError
from ...errors import ValidationError
from ...i18n import _
from ...i18n import ngettext
from ...models.ticket import STATUSES
from ...models.ticket import TRANSITIONS
from ...services import UNSET
from ...services import TicketChanges
from ...services import TicketFilter
from ...services import agents
from ...services import bulk_edit
from ...services import views
from ...services import whole_number
from ._common import FILTER_ARGS
from ._common import bp
from ._common import current_agent
from ._common import int_arg

if t.TYPE_CHECKING:
    from werkzeug import Response

    from ...models import Agent
    from ...models import SavedView

#: Sort choices offered in the list's controls, in menu order.
SORT_CHOICES = ("-updated", "updated", "priority", "-priority", "-created", "created",
                "last_customer_message", "-last_customer_message")

#: A quick search that is a ticket number: "123" or "#123".
TICKET_NUMBER = re.compile(r"^#?\s*(\d{1,9})$")


@bp.get("/")
def index() -> Response:
    return redirect(url_for(".tickets"))


@bp.get("/tickets", endpoint="tickets")
def tickets_list() -> t.Any:
    """The inbox: a saved view or ad-hoc filters, keyset-paginated."""
    actor = current_agent()
    error, view, page = None, None, views.Page([], None)
    sort = request.args.get("sort") or "-updated"
    filters = TicketFilter()
    try:
        if request.args.get("view"):
            view = views.get_view(int_arg("view"), actor=actor)
            filters, sort = TicketFilter.from_dict(view.filters), view.sort
        else:
            filters = _filters_from_args()
        page = views.list_tickets(actor=actor, filters=filters, sort=sort,
                                  cursor=request.args.get("cursor") or None)
    except ValidationError as exc:
        error, filters = exc, TicketFilter()
    if request.args.get("partial") == "rows":
        body = render_template("helpdesk/_ticket_rows.html", page=page,
                               next_url=_next_url(page.next_cursor))
        return (body, 422) if error else body
    body = render_template(
        "helpdesk/tickets.html", page=page, filters=filters, sort=sort, view=view,
        error=error, next_url=_next_url(page.next_cursor), sorts=SORT_CHOICES,
        groups=agents.list_groups(), agents=agents.list_agents(),
        bulk_statuses=[s for s in STATUSES if any(s in to for to in TRANSITIONS.values())],
        **_sidebar(actor),
    )
    return (body, 422) if error else body


def _sidebar(actor: Agent) -> dict[str, t.Any]:
    saved = views.list_views(actor=actor)
    counts = views.sidebar_counts(actor=actor, views=saved)
    return {"views": saved, "counts": {k: _count_label(n, counts.view_limit)
                                       for k, n in counts.views.items()},
            "group_counts": counts.groups, "tag_counts": counts.tags}


def _count_label(n: int, limit: int | None) -> str:
    """A view count as shown: "1000+" once it passes HELPDESK_VIEW_COUNT_LIMIT."""
    if limit is not None and n > limit:
        return str(_("%(count)s+", count=limit))
    return str(n)


@bp.get("/tickets/counts")
def counts() -> Response:
    """The sidebar's counts as JSON, for refreshing them in place."""
    data = _sidebar(current_agent())
    return jsonify({
        "views": {str(k): n for k, n in data["counts"].items()},
        "groups": {str(k if k is not None else "none"): n
                   for k, n in data["group_counts"].items()},
        "tags": dict(data["tag_counts"]),
    })


def _filters_from_args() -> TicketFilter:
    # The filter form sends every field; an empty one ("any") does not filter.
    data: dict[str, t.Any] = {name: [x for x in request.args.getlist(name) if x.strip()]
                              for name in FILTER_ARGS}
    data["tags"] = [tag for value in data["tags"] for tag in value.replace(",", " ").split()]
    data["q"] = request.args.get("q") or None
    return TicketFilter.from_dict({k: v for k, v in data.items() if v})


def _next_url(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    args: dict[str, t.Any] = request.args.to_dict(flat=False)
    args.pop("partial", None)
    args["cursor"] = [cursor]
    return url_for(".tickets", **args)


@bp.get("/search")
def search() -> Response:
    """Quick search: a ticket number opens the ticket, other text searches the list."""
    q = request.args.get("q", "").strip()
    number = TICKET_NUMBER.match(q)
    if number:
        return redirect(url_for(".ticket", ticket_id=int(number.group(1))))
    return redirect(url_for(".tickets", q=q) if q else url_for(".tickets"))


# -------------------------------------------------------------- bulk actions


@bp.post("/tickets/bulk")
def bulk() -> Response:
    """Apply one action (status, assignee, group, tags, merge) to the ticked tickets."""
    actor = current_agent()
    back = _safe_back(request.form.get("next"))
    try:
        ids = [n for x in request.form.getlist("ticket_ids") if (n := whole_number(x))]
        result = _bulk_action(actor, request.form.get("action", ""), ids)
    except HelpdeskError as exc:
        flash(exc.message, "error")
        return redirect(back)
    if result.changed:
        flash(ngettext("%(num)d ticket changed.", "%(num)d tickets changed.",
                       len(result.changed)), "success")
    for ticket_id, message in sorted(result.failed.items()):
        flash(_("Ticket #%(id)s was not changed: %(error)s", id=ticket_id, error=message),
              "error")
    return redirect(back)


def _bulk_action(actor: Agent, action: str, ids: list[int]) -> bulk_edit.BulkResult:
    form = request.form
    if action == "merge":
        into = _form_int("into")
        if into is None:
            raise ValidationError(_("Give the number of the ticket to merge into."),
                                  field="into")
        return bulk_edit.merge_into(ids, into, actor=actor)
    changes = TicketChanges()
    if action == "status":
        changes.status = form.get("status") or UNSET
    elif action == "assign":
        value = form.get("assignee_id", "")
        changes.assignee_id = (None if value == "none" else actor.id if value == "me"
                               else _form_int("assignee_id") or UNSET)
    elif action == "group":
        value = form.get("group_id", "")
        changes.group_id = None if value == "none" else _form_int("group_id") or UNSET
    elif action == "tags":
        changes.add_tags = form.get("add_tags", "").replace(",", " ").split()
        changes.remove_tags = form.get("remove_tags", "").replace(",", " ").split()
    else:
        raise ValidationError(_("Choose what to change."), field="action")
    return bulk_edit.update_tickets(ids, actor=actor, changes=changes)


def _form_int(name: str) -> int | None:
    value = request.form.get(name, "").strip().lstrip("#")
    if not value:
        return None
    number = whole_number(value)
    if number is None:
        raise ValidationError(_("%(field)s must be a number.", field=name), field=name)
    return number


def _safe_back(url: str | None) -> str:
    """Only a path of this site (no scheme, no host) is followed back."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return url_for(".tickets")


# ------------------------------------------------------------- saved views


@bp.post("/views")
def save_view() -> Response:
    """Save the current filters and sort as a view (shared: managers and admins)."""
    actor = current_agent()
    try:
        filters = TicketFilter.from_dict(_json_filters())
        view: SavedView = views.create_view(
            actor=actor, name=request.form.get("name", ""), filters=filters.to_dict(),
            sort=request.form.get("sort") or "-updated",
            shared=bool(request.form.get("shared")))
    except HelpdeskError as exc:
        flash(exc.message, "error")
        return redirect(_safe_back(request.form.get("next")))
    flash(_("View “%(name)s” saved.", name=view.name), "success")
    return redirect(url_for(".tickets", view=view.id))


def _json_filters() -> dict[str, t.Any]:
    data: dict[str, t.Any] = {}
    for name in FILTER_ARGS:
        values = [x for x in request.form.getlist(name) if x]
        if name == "tags":
            values = [tag for x in values for tag in x.replace(",", " ").split()]
        if values:
            data[name] = values[0] if name == "q" else values
    return data


@bp.post("/views/<helpdesk_id:view_id>/delete")
def delete_view(view_id: int) -> Response:
    """Delete a saved view (a shared one: managers and admins)."""
    try:
        views.delete_view(view_id, actor=current_agent())
    except HelpdeskError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".tickets", view=view_id))
    flash(_("View deleted."), "success")
    return redirect(url_for(".tickets"))

