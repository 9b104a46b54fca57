"""REST API endpoints of reply templates and their preview on a ticket."""

from __future__ import annotations

import typing as t

from flask import Blueprint

from ..errors import ValidationError
from ..i18n import _
from ..services import TemplateChanges
from ..services import templates
from . import _serialize as serialize
from . import api_input as inp
from .api_auth import actor
from .api_tickets import ID

bp = Blueprint("templates", __name__)

Json = dict[str, t.Any]


@bp.get("/templates", endpoint="list")
def list_templates() -> Json:
    params = inp.query("listTemplates")
    rows = templates.list_templates(actor=actor(), q=params.get("q"),
                                    folder=params.get("folder") or None)
    return {"items": [serialize.reply_template(r) for r in rows]}


@bp.post("/templates", endpoint="create")
def create_template() -> tuple[Json, int]:
    data, files = inp.message_body("createTemplate")
    row = templates.create_template(actor=actor(), attachments=files, **data)
    return serialize.reply_template(row), 201


@bp.get(f"/templates/<{ID}:template_id>", endpoint="get")
def get_template(template_id: int) -> Json:
    return serialize.reply_template(templates.get_template(template_id, actor=actor()))


@bp.patch(f"/templates/<{ID}:template_id>", endpoint="update")
def update_template(template_id: int) -> Json:
    data, files = inp.message_body("updateTemplate")
    changes = TemplateChanges(add_attachments=files, **data)
    return serialize.reply_template(
        templates.update_template(template_id, actor=actor(), changes=changes))


@bp.delete(f"/templates/<{ID}:template_id>", endpoint="delete")
def delete_template(template_id: int) -> tuple[str, int]:
    templates.delete_template(template_id, actor=actor())
    return "", 204


@bp.get(f"/templates/<{ID}:template_id>/render", endpoint="render")
def render_template(template_id: int) -> Json:
    params = inp.query("renderTemplate")
    if "ticket_id" not in params:
        raise ValidationError(_("ticket_id is required."), field="ticket_id")
    filled = templates.render(template_id, ticket_id=params["ticket_id"], actor=actor())
    return serialize.rendered_template(filled)
