"""One ticket: the conversation, its history and the forms that change it."""

from __future__ import annotations

import html
import io
import re
import typing as t
from urllib.parse import unquote

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import send_file
from flask import url_for

from ...errors import Conflict
from ...errors import HelpdeskError
from ...errors import NotFound
from ...errors import ValidationError
from ...i18n import _
from ...models import Ticket
from ...models.ticket import STATUSES
from ...models.ticket import TRANSITIONS
from ...services import UNSET
from ...services import TicketChanges
from ...services import agents
from ...services import drafts
from ...services import messages
from ...services import permissions
from ...services import tickets
from ._common import THREAD_LIMIT
from ._common import bp
from ._common import current_agent
from ._common import optional_int
from ._common import uploaded_files

if t.TYPE_CHECKING:
    from werkzeug import Response


@bp.get("/tickets/<helpdesk_id:ticket_id>")
def ticket(ticket_id: int) -> t.Any:
    return _render_ticket(ticket_id)


def _render_ticket(ticket_id: int, *, form: str | None = None, error: HelpdeskError | None =
                   None, status: int = 200) -> t.Any:
    """The ticket page; ``form`` names the form ``error`` belongs to (typed text kept)."""
    actor = current_agent()
    item = tickets.get_ticket(ticket_id, actor=actor)
    thread = messages.list_messages(ticket_id, actor=actor, limit=THREAD_LIMIT)
    history = tickets.list_events(ticket_id, actor=actor, limit=THREAD_LIMIT)
    team = agents.list_agents()
    groups = agents.list_groups()
    mine = drafts.get_drafts(ticket_id, actor=actor)
    seen = optional_int("seen_event_id") if isinstance(error, Conflict) else None
    if seen is None and form != "reply" and "reply" in mine:
        seen = mine["reply"].seen_event_id  # what arrived since the draft was written
    bodies, shown = inline_images(thread)
    body = render_template(
        "helpdesk/ticket.html", ticket=item, thread=thread, history=history,
        bodies=bodies, shown_inline=shown,
        related=tickets.related_tickets(item, actor=actor), preview_types=PREVIEW_TYPES,
        new_since=_new_since(history, seen, actor.id), drafts=_draft_values(mine),
        draft_rows=mine,
        agents=team, groups=groups, agent_names={a.id: a.name for a in team},
        group_names={g.id: g.name for g in groups},
        statuses=[item.status, *sorted(TRANSITIONS[item.status], key=STATUSES.index)],
        seen_event_id=history[-1].id if history else 0,
        form=form, error=error, values=request.form if form else {},
        conflict=isinstance(error, Conflict),
    )
    return (body, status) if status != 200 else body


def _new_since(history: t.Sequence[t.Any], seen: int | None, me: int) -> set[int]:
    """Ids of others' messages that arrived after the event the author had seen."""
    return {e.data.get("message_id") for e in history
            if seen is not None and e.id > seen and e.data.get("message_id")
            and e.actor_agent_id != me}


def _draft_values(mine: dict[str, t.Any]) -> dict[str, dict[str, str]]:
    """The agent's drafts as the values of the reply and note forms."""
    return {kind: {"text": d.text, "html": d.html or "", "status": d.status or "",
                   "template_id": str(d.template_id or ""),
                   "seen_event_id": "" if d.seen_event_id is None else str(d.seen_event_id)}
            for kind, d in mine.items()}


def _act(ticket_id: int, form: str, action: t.Callable[[], t.Any], done: str) -> t.Any:
    """Run a service call for a form; on error show the page again with the form filled.

    After success the agent goes back to the ticket, or to the inbox when the
    change took the ticket out of their sight (handed to another group).
    """
    try:
        result = action()
    except HelpdeskError as exc:
        if not isinstance(exc, ValidationError | Conflict):
            raise
        return _render_ticket(ticket_id, form=form, error=exc, status=exc.http_status)
    flash(done, "success")
    if isinstance(result, Ticket) and not permissions.can_see_ticket(current_agent(), result):
        return redirect(url_for(".tickets"))
    return redirect(url_for(".ticket", ticket_id=ticket_id, _anchor=form))


@bp.post("/tickets/<helpdesk_id:ticket_id>/reply")
def reply(ticket_id: int) -> t.Any:
    """Send a public reply, optionally setting the status."""
    return _act(ticket_id, "reply", lambda: messages.reply(
        ticket_id, actor=current_agent(), text=request.form.get("text", ""),
        html=request.form.get("html") or None, attachments=uploaded_files(),
        status=request.form.get("status") or None, template_id=optional_int("template_id"),
        seen_event_id=optional_int("seen_event_id"), confirm=bool(request.form.get("confirm")),
    ), _("Reply sent."))


@bp.post("/tickets/<helpdesk_id:ticket_id>/note")
def note(ticket_id: int) -> t.Any:
    """Add an internal note."""
    return _act(ticket_id, "note", lambda: messages.add_note(
        ticket_id, actor=current_agent(), text=request.form.get("text", ""),
        html=request.form.get("html") or None, attachments=uploaded_files(),
        seen_event_id=optional_int("seen_event_id"), confirm=bool(request.form.get("confirm")),
    ), _("Note added."))


@bp.post("/tickets/<helpdesk_id:ticket_id>/drafts/<any(reply, note):kind>")
def save_draft(ticket_id: int, kind: str) -> t.Any:
    """Autosave of the reply or note box by the page's script (a JSON answer)."""
    reply = kind == "reply"
    try:
        draft = drafts.save_draft(
            ticket_id, actor=current_agent(), kind=kind, text=request.form.get("text", ""),
            html=request.form.get("html") or None,
            status=(request.form.get("status") or None) if reply else None,
            template_id=optional_int("template_id") if reply else None,
            seen_event_id=optional_int("seen_event_id"))
    except (ValidationError, Conflict, NotFound) as exc:
        return {"saved": False, "error": exc.message}, exc.http_status
    return {"saved": draft is not None}


@bp.post("/tickets/<helpdesk_id:ticket_id>/properties")
def properties(ticket_id: int) -> t.Any:
    """Change status, priority, group, assignee and tags in one go."""

    def change() -> None:
        current = {tag.name for tag in tickets.get_ticket(ticket_id, actor=current_agent()).tags}
        wanted = {tickets.normalize_tag(x) for x in
                  request.form.get("tags", "").replace(",", " ").split()}
        tickets.update_ticket(ticket_id, actor=current_agent(), changes=TicketChanges(
            status=request.form.get("status") or UNSET,
            priority=request.form.get("priority") or UNSET,
            group_id=optional_int("group_id"), assignee_id=optional_int("assignee_id"),
            add_tags=sorted(wanted - current), remove_tags=sorted(current - wanted),
        ))

    return _act(ticket_id, "properties", change, _("Ticket updated."))


@bp.post("/tickets/<helpdesk_id:ticket_id>/reassign")
def reassign(ticket_id: int) -> t.Any:
    """Hand the ticket to another group or agent, with an internal note."""
    return _act(ticket_id, "reassign", lambda: tickets.reassign(
        ticket_id, actor=current_agent(), group_id=optional_int("group_id"),
        assignee_id=optional_int("assignee_id"), note=request.form.get("note", ""),
    ), _("Ticket reassigned."))


@bp.post("/tickets/<helpdesk_id:ticket_id>/merge")
def merge(ticket_id: int) -> t.Any:
    """Merge this ticket into another ticket of the same customer."""
    try:
        into = optional_int("into")
        if into is None:
            raise ValidationError(_("Give the number of the ticket to merge into."),
                                  field="into")
        tickets.merge_tickets(ticket_id, into, actor=current_agent())
    except (ValidationError, Conflict) as exc:
        return _render_ticket(ticket_id, form="merge", error=exc, status=exc.http_status)
    flash(_("Ticket #%(source)s was merged into this one.", source=ticket_id), "success")
    return redirect(url_for(".ticket", ticket_id=into))


# -------------------------------------------------------------- attachments

#: Types shown inside the page; every other file is only downloaded (never
#: rendered by the browser: an HTML or SVG file could run script).
PREVIEW_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


#: ``src="cid:..."`` as nh3 writes it: attributes always in double quotes,
#: a ``"`` inside a value escaped, so it can only end the attribute.
_CID_SRC = re.compile(r'(?<=\s)src="cid:([^"]*)"', re.IGNORECASE)


def inline_images(thread: t.Sequence[t.Any]) -> tuple[dict[int, str], set[int]]:
    """The HTML of each message with its ``cid:`` images pointed at their files.

    Only a message's own image attachments are used (the type stored was
    sniffed from the bytes; the download sniffs them again). Each
    replacement is a URL of ours, HTML-escaped, as the value of an attribute
    the sanitizer already allowed, so the sanitized HTML stays as safe as it
    was. Done when the page is drawn: the stored HTML keeps the ``cid:``
    references, as the REST API returns them next to the attachments.

    :return: message id to HTML, and the ids of the attachments now shown
        in their message's HTML (the page does not list them again).
    """
    bodies: dict[int, str] = {}
    shown: set[int] = set()
    for message in thread:
        if not message.html:
            continue
        images = {a.content_id.strip("<>").lower(): a for a in message.attachments
                  if a.content_id and a.content_type in PREVIEW_TYPES}

        def point(match: re.Match[str], images: dict[str, t.Any] = images) -> str:
            cid = unquote(html.unescape(match[1])).strip("<>").lower()
            found = images.get(cid)
            if found is None:
                return match[0]
            shown.add(found.id)
            url = url_for(".attachment", attachment_id=found.id, inline=1)
            return f'src="{html.escape(url, quote=True)}"'

        bodies[message.id] = _CID_SRC.sub(point, message.html) if images else message.html
    return bodies, shown


@bp.get("/attachments/<helpdesk_id:attachment_id>")
def attachment(attachment_id: int) -> Response:
    """An attachment: images inline with ``?inline=1``, everything else as a download.

    Whether a file is an image is decided from its bytes, whatever type was
    declared or stored: only PNG, JPEG, GIF and WebP are ever shown by the
    browser, and then with the type the bytes have.
    """
    row, data = messages.get_attachment(attachment_id, actor=current_agent())
    sniffed = messages.sniff_content_type(data, "", "")
    inline = request.args.get("inline") == "1" and sniffed in PREVIEW_TYPES
    response = send_file(io.BytesIO(data), mimetype=sniffed if inline else row.content_type,
                         as_attachment=not inline, download_name=row.filename, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
