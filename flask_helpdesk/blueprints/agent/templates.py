"""Reply templates: the list, the form, and the picker's JSON on a ticket page.

Agents see the shared templates read-only and manage their personal ones;
managers and admins also manage the shared ones. A POST that changes a
template the agent may not change is answered with 403 by the services'
:class:`~flask_helpdesk.errors.PermissionDenied`.
"""

from __future__ import annotations

import itertools
import typing as t

from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from ...channels import InboundAttachment
from ...errors import Conflict
from ...errors import HelpdeskError
from ...errors import ValidationError
from ...i18n import _
from ...services import TemplateChanges
from ...services import agents
from ...services import templates
from ...services import tickets
from ...services import whole_number
from ...services.templates import PLACEHOLDERS
from .. import _serialize as serialize
from ._common import bp
from ._common import current_agent
from ._common import optional_int

if t.TYPE_CHECKING:
    from flask import Response

    from ...models import ReplyTemplate

#: Most templates the picker offers at once.
PICKER_LIMIT = 30


@bp.get("/templates", endpoint="reply_templates")
def reply_templates() -> str | tuple[str, int]:
    """The templates the agent sees, grouped by folder, with a search box."""
    actor = current_agent()
    q, folder = request.args.get("q", ""), request.args.get("folder", "")
    error, rows = None, []
    try:
        rows = templates.list_templates(actor=actor, q=q or None, folder=folder or None)
    except ValidationError as exc:
        error = exc
    by_folder = [(name, list(items)) for name, items in itertools.groupby(
        sorted(rows, key=lambda r: r.folder.casefold()), key=lambda r: r.folder)]
    body = render_template(
        "helpdesk/reply_templates.html", by_folder=by_folder, q=q, folder=folder,
        folders=templates.list_folders(actor=actor), error=error,
        manageable={r.id for r in rows if templates.can_manage(actor, r)},
        may_create=templates.can_manage(actor, shared=False),
    )
    return (body, 422) if error else body


@bp.route("/templates/new", methods=["GET", "POST"], endpoint="new_reply_template")
def new_reply_template() -> t.Any:
    """The form of a new template; saving it goes back to the list."""
    actor = current_agent()
    if request.method == "GET":
        return _form(None, {"visibility": "personal"})
    try:
        data, files = _parsed()
        row = templates.create_template(actor=actor, attachments=files, **data)
    except ValidationError as exc:
        return _form(None, request.form, exc)
    flash(_("Template %(name)s saved.", name=row.name), "success")
    return redirect(url_for(".reply_templates", _anchor=f"template-{row.id}"))


@bp.route("/templates/<helpdesk_id:template_id>/edit", methods=["GET", "POST"],
          endpoint="edit_reply_template")
def edit_reply_template(template_id: int) -> t.Any:
    """Change a template the agent may manage (403 for anyone else)."""
    actor = current_agent()
    row = templates.get_template(template_id, actor=actor)
    templates.require_manage(actor, row)
    if request.method == "GET":
        return _form(row, _values(row))
    try:
        data, files = _parsed()
        if "visibility" not in request.form:
            data.pop("shared")
        changes = TemplateChanges(**data, add_attachments=files, remove_attachments=[
            n for x in request.form.getlist("remove_attachments") if (n := whole_number(x))])
        row = templates.update_template(template_id, actor=actor, changes=changes)
    except ValidationError as exc:
        return _form(row, request.form, exc)
    flash(_("Template %(name)s saved.", name=row.name), "success")
    return redirect(url_for(".reply_templates", _anchor=f"template-{row.id}"))


@bp.post("/templates/<helpdesk_id:template_id>/delete", endpoint="delete_reply_template")
def delete_reply_template(template_id: int) -> t.Any:
    """Delete a template; a rule that sends it keeps it (the error is shown)."""
    try:
        templates.delete_template(template_id, actor=current_agent())
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(_("Template deleted."), "success")
    return redirect(url_for(".reply_templates"))


@bp.get("/tickets/<helpdesk_id:ticket_id>/templates", endpoint="template_picker")
def template_picker(ticket_id: int) -> tuple[Response, int] | Response:
    """JSON for the picker: the templates filled in for this ticket, most used first."""
    actor = current_agent()
    try:
        ticket = tickets.get_ticket(ticket_id, actor=actor)
        rows = templates.list_templates(actor=actor, q=request.args.get("q") or None,
                                        limit=PICKER_LIMIT)
        items = []
        for row in rows:
            item = serialize.rendered_template(templates.fill(row, ticket, actor))
            item["usage_count"] = row.usage_count
            item["will_also"] = (_("Will also: %(actions)s", actions=", ".join(item["summary"]))
                                 if item["summary"] else "")
            items.append(item)
    except HelpdeskError as exc:
        return jsonify({"error": exc.to_dict()}), exc.http_status
    return jsonify({"items": items})


# ------------------------------------------------------------------ helpers


def _words(name: str) -> list[str]:
    return request.form.get(name, "").replace(",", " ").split()


def _parsed() -> tuple[dict[str, t.Any], list[InboundAttachment]]:
    """The form as service arguments, and the uploaded files."""
    form = request.form
    actions = {
        "status": form.get("action_status") or None,
        "priority": form.get("action_priority") or None,
        "add_tags": _words("action_add_tags"), "remove_tags": _words("action_remove_tags"),
        "group_id": optional_int("action_group_id"),
        "assignee_id": optional_int("action_assignee_id"),
    }
    files = [InboundAttachment(f.filename or "attachment",
                               f.mimetype or "application/octet-stream", f.read())
             for f in request.files.getlist("attachments") if f.filename]
    return {"name": form.get("name", ""), "folder": form.get("folder", "").strip(),
            "body": form.get("body", ""), "body_html": form.get("body_html") or None,
            "shared": form.get("visibility") == "shared", "actions": actions}, files


def _values(row: ReplyTemplate) -> dict[str, t.Any]:
    """A saved template as the form's field values."""
    actions = row.actions or {}
    return {
        "name": row.name, "folder": row.folder, "body": row.body,
        "body_html": row.body_html or "", "visibility": "shared" if row.shared else "personal",
        "action_status": actions.get("status", ""), "action_priority": actions.get(
            "priority", ""),
        "action_add_tags": " ".join(t.cast(list[str], actions.get("add_tags", []))),
        "action_remove_tags": " ".join(t.cast(list[str], actions.get("remove_tags", []))),
        "action_group_id": str(actions.get("group_id") or ""),
        "action_assignee_id": str(actions.get("assignee_id") or ""),
    }


def _form(row: ReplyTemplate | None, values: t.Mapping[str, t.Any],
          error: HelpdeskError | None = None) -> tuple[str, int] | str:
    actor = current_agent()
    body = render_template(
        "helpdesk/reply_template_form.html", template=row, values=values, error=error,
        placeholders=PLACEHOLDERS, may_share=templates.can_manage(actor, shared=True),
        agents=agents.list_agents(), groups=agents.list_groups(),
        folders=templates.list_folders(actor=actor),
    )
    return (body, error.http_status) if error else body
