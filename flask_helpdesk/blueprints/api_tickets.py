"""REST API endpoints of tickets, their messages, history and attachments."""

from __future__ import annotations

import io
import typing as t

from flask import Blueprint
from flask import send_file

from ..errors import NotFound
from ..i18n import _
from ..services import TicketChanges
from ..services import TicketFilter
from ..services import drafts
from ..services import messages
from ..services import outbox
from ..services import tickets
from ..services import views
from . import _serialize as serialize
from . import api_input as inp
from ._converters import ID_CONVERTER
from .api_auth import actor
from .api_openapi import TICKET_FILTERS

if t.TYPE_CHECKING:
    from flask import Response

    from ..models import Message
    from ..services import Page

bp = Blueprint("tickets", __name__)

#: URL converter of ids: 32-bit and positive; anything else falls to the JSON 404.
ID = ID_CONVERTER
#: URL converter of draft kinds.
KIND = "any(reply, note)"


def ticket_filter(params: dict[str, t.Any]) -> TicketFilter:
    """The :class:`TicketFilter` of checked query parameters."""
    given = {name: params[name] for name in TICKET_FILTERS if name in params}
    for name in ("created_after", "created_before", "updated_after", "updated_before"):
        if name in given:
            given[name] = inp.parse_datetime(given[name])
    return TicketFilter.from_dict(given)


def ticket_page(page: Page) -> dict[str, t.Any]:
    return {"items": [serialize.ticket(row) for row in page.items],
            "next_cursor": page.next_cursor}


def _full(message: Message) -> Message:
    """The message again, with its attachments loaded (after a change committed)."""
    return messages.list_messages(message.ticket_id, actor=actor(), after=message.id - 1,
                                  limit=1)[0]


@bp.get("/tickets", endpoint="list")
def list_tickets() -> dict[str, t.Any]:
    params = inp.query("listTickets")
    page = views.list_tickets(actor=actor(), filters=ticket_filter(params),
                              sort=params.get("sort", "-updated"), cursor=params.get("cursor"),
                              limit=inp.limit(params))
    return ticket_page(page)


@bp.post("/tickets", endpoint="create")
def create_ticket() -> tuple[dict[str, t.Any], int]:
    data, files = inp.message_body("createTicket")
    ticket = tickets.create_ticket(actor=actor(), attachments=files, **data)
    return serialize.ticket(ticket), 201


@bp.get(f"/tickets/<{ID}:ticket_id>", endpoint="get")
def get_ticket(ticket_id: int) -> dict[str, t.Any]:
    return serialize.ticket(tickets.get_ticket(ticket_id, actor=actor()))


@bp.patch(f"/tickets/<{ID}:ticket_id>", endpoint="update")
def update_ticket(ticket_id: int) -> dict[str, t.Any]:
    changes = TicketChanges(**inp.body("updateTicket"))
    return serialize.ticket(tickets.update_ticket(ticket_id, actor=actor(), changes=changes))


@bp.post(f"/tickets/<{ID}:ticket_id>/reply", endpoint="reply")
def reply(ticket_id: int) -> tuple[dict[str, t.Any], int]:
    data, files = inp.message_body("replyToTicket")
    message = messages.reply(ticket_id, actor=actor(), attachments=files, **data)
    return serialize.message(_full(message)), 201


@bp.post(f"/tickets/<{ID}:ticket_id>/notes", endpoint="note")
def add_note(ticket_id: int) -> tuple[dict[str, t.Any], int]:
    data, files = inp.message_body("addNote")
    message = messages.add_note(ticket_id, actor=actor(), attachments=files, **data)
    return serialize.message(_full(message)), 201


@bp.get(f"/tickets/<{ID}:ticket_id>/drafts/<{KIND}:kind>", endpoint="draft")
def get_draft(ticket_id: int, kind: str) -> dict[str, t.Any]:
    draft = drafts.get_draft(ticket_id, actor=actor(), kind=kind)
    if draft is None:
        raise NotFound(_("You have no reply draft on ticket #%(id)s.", id=ticket_id)
                       if kind == "reply" else
                       _("You have no note draft on ticket #%(id)s.", id=ticket_id))
    return serialize.draft(draft)


@bp.put(f"/tickets/<{ID}:ticket_id>/drafts/<{KIND}:kind>", endpoint="save_draft")
def save_draft(ticket_id: int, kind: str) -> tuple[dict[str, t.Any] | str, int]:
    draft = drafts.save_draft(ticket_id, actor=actor(), kind=kind, **inp.body("saveDraft"))
    return (serialize.draft(draft), 200) if draft is not None else ("", 204)


@bp.delete(f"/tickets/<{ID}:ticket_id>/drafts/<{KIND}:kind>", endpoint="delete_draft")
def delete_draft(ticket_id: int, kind: str) -> tuple[str, int]:
    drafts.discard_draft(ticket_id, actor=actor(), kind=kind)
    return "", 204


@bp.post(f"/tickets/<{ID}:ticket_id>/reassign", endpoint="reassign")
def reassign(ticket_id: int) -> dict[str, t.Any]:
    data = inp.body("reassignTicket")
    return serialize.ticket(tickets.reassign(ticket_id, actor=actor(), **data))


@bp.post(f"/tickets/<{ID}:ticket_id>/merge", endpoint="merge")
def merge(ticket_id: int) -> dict[str, t.Any]:
    into_id = inp.body("mergeTicket")["into_id"]
    return serialize.ticket(tickets.merge_tickets(ticket_id, into_id, actor=actor()))


@bp.get(f"/tickets/<{ID}:ticket_id>/messages", endpoint="messages")
def list_messages(ticket_id: int) -> dict[str, t.Any]:
    params = inp.query("listTicketMessages")
    size = inp.limit(params)
    rows = messages.list_messages(ticket_id, actor=actor(), cursor=params.get("cursor"),
                                  limit=size + 1)
    items, cursor = inp.page(rows, size)
    return {"items": [serialize.message(m) for m in items], "next_cursor": cursor}


@bp.get(f"/tickets/<{ID}:ticket_id>/events", endpoint="events")
def list_events(ticket_id: int) -> dict[str, t.Any]:
    params = inp.query("listTicketEvents")
    size = inp.limit(params)
    rows = tickets.list_events(ticket_id, actor=actor(), cursor=params.get("cursor"),
                               limit=size + 1)
    items, cursor = inp.page(rows, size)
    return {"items": [serialize.event(e) for e in items], "next_cursor": cursor}


@bp.get(f"/attachments/<{ID}:attachment_id>", endpoint="attachment")
def download(attachment_id: int) -> Response:
    """The file, always as a download: never rendered by the browser in our origin."""
    row, data = messages.get_attachment(attachment_id, actor=actor())
    response = send_file(io.BytesIO(data), mimetype=row.content_type, as_attachment=True,
                         download_name=row.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.post(f"/messages/<{ID}:message_id>/retry", endpoint="retry")
def retry(message_id: int) -> dict[str, t.Any]:
    return serialize.message(_full(outbox.retry(message_id, actor=actor())))
