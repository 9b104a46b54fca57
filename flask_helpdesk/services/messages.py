"""Messages: customer messages, public replies (delivered through the outbox) and notes.

Internal notes (``kind="note"``) are for agents only: they are never
delivered, never returned by :func:`public_messages`, and their text is never
put into an event.
"""

from __future__ import annotations

import dataclasses
import mimetypes
import os
import re
import typing as t
import unicodedata

import filetype
import nh3
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..channels import InboundAttachment
from ..errors import Conflict
from ..errors import NotFound
from ..errors import ValidationError
from ..events import PUBLIC_MESSAGE_TYPES
from ..extension import get_state
from ..i18n import _
from ..models import Agent
from ..models import Attachment
from ..models import ContactIdentity
from ..models import Customer
from ..models import Message
from ..models import Ticket
from ..models import TicketEvent
from ..models import utcnow
from . import _validate as v
from . import drafts
from ._uow import Actor
from ._uow import record
from ._uow import session
from ._uow import transaction
from .markup import URL_SCHEMES
from .markup import Simplified
from .markup import filter_attribute
from .markup import simplify_html
from .permissions import require_role
from .search import touch
from .tickets import get_ticket
from .tickets import require_visible
from .tickets import set_status

if t.TYPE_CHECKING:
    from ..storage import Storage

#: Longest message text accepted (characters).
TEXT_MAX = 200_000
#: Longest HTML accepted before sanitizing (characters).
HTML_MAX = 1_000_000


def clean_html(html: str) -> Simplified:
    """Sanitize ``html``, and say what was simplified first.

    The markup is first rewritten by :func:`~flask_helpdesk.services.markup.simplify_html`
    (linear time: elements nested deeper than
    :data:`~flask_helpdesk.services.markup.MAX_DEPTH` are left out, their
    text kept), then sanitized with nh3 (an allow-list): scripts, event
    handlers and anything unsafe go; links and images keep only the
    :data:`~flask_helpdesk.services.markup.URL_SCHEMES` (``cid:`` sources stay
    so inline images can be resolved).

    :return: The sanitized HTML, with the counts of what was left out.
    """
    simple = simplify_html(html)
    return dataclasses.replace(simple, html=nh3.clean(
        simple.html, url_schemes=set(URL_SCHEMES), link_rel="noopener noreferrer nofollow",
        attribute_filter=filter_attribute))


def sanitize_html(html: str) -> str:
    """Remove scripts, event handlers and anything unsafe (see :func:`clean_html`)."""
    return clean_html(html).html


def html_to_text(html: str) -> str:
    """A plain-text rendering of sanitized HTML, for search and previews."""
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</tr>|</h\d>", "\n", html)
    text = nh3.clean(simplify_html(text).html, tags=set())
    import html as _html

    return re.sub(r"\n{3,}", "\n\n", _html.unescape(text)).strip()


def safe_filename(name: str | None) -> str:
    """A filename without paths, control characters or leading dots."""
    name = unicodedata.normalize("NFC", name or "")
    name = os.path.basename(name.replace("\\", "/"))
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip(" .")
    return name[:255] or "attachment"


def sniff_content_type(data: bytes, declared: str, filename: str) -> str:
    """The content type the bytes really are, falling back to the declared one."""
    kind = filetype.guess(data[:8192])
    if kind is not None:
        return str(kind.mime)
    declared = (declared or "").split(";")[0].strip().lower()
    if re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", declared) and not declared.startswith(
        ("image/", "video/", "audio/")
    ):
        return declared
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def check_attachments(files: t.Sequence[InboundAttachment]) -> None:
    """Refuse files over the limits, before anything is stored.

    :raises ValidationError: Too many files, a file too large or not bytes.
    """
    state = get_state()
    limit = state.config.max_attachment_size
    if len(files) > state.config.max_attachments_per_message:
        raise ValidationError(
            _("Too many attachments (%(count)d, at most %(max)d).", count=len(files),
              max=state.config.max_attachments_per_message), field="attachments")
    for item in files:
        if not isinstance(item.data, bytes | bytearray):
            raise ValidationError(_("An attachment has no content."), field="attachments")
        if len(item.data) > limit:
            raise ValidationError(
                _("%(name)s is too large (%(size)s, at most %(max)s).",
                  name=safe_filename(item.filename), size=_size(len(item.data)),
                  max=_size(limit)), field="attachments")


def save_attachment(item: InboundAttachment, storage: Storage | None = None
                    ) -> dict[str, t.Any]:
    """Put one checked file in the storage; the columns of its attachment row.

    :param storage: The app's storage (default); pass it to call this from a
        thread without an app context.
    """
    from ..storage import sha256

    data = bytes(item.data)
    filename = safe_filename(item.filename)
    store = storage if storage is not None else get_state().storage
    return {
        "filename": filename, "content_type": sniff_content_type(data, item.content_type,
                                                                 filename),
        "size": len(data), "sha256": sha256(data), "content_id": item.content_id,
        "inline": bool(item.inline),
        "storage_key": store.save(data, filename=filename),
    }


def store_attachments(message: Message, files: t.Sequence[InboundAttachment]) -> list[Attachment]:
    """Check and store files for ``message`` in the attachment storage.

    :raises ValidationError: Too many files, a file too large or not bytes.
    """
    check_attachments(files)
    stored = []
    for item in files:
        row = Attachment(message=message, **save_attachment(item))
        session().add(row)
        stored.append(row)
    return stored


class Body(t.NamedTuple):
    """The text and sanitized HTML a message is stored with (see :func:`message_body`)."""

    text: str
    html: str | None
    #: What simplifying the HTML left out (``meta["html_simplified"]``); empty when nothing.
    simplified: dict[str, int]


def message_body(text: str, html: str | None, *, attachments: bool) -> Body:
    """The text and sanitized HTML a message is stored with.

    Without text, the text is rendered from the HTML.

    :param attachments: The message has files (it may then have no text).
    :raises ValidationError: Too long, or empty.
    """
    text = v.text(text or "", "text", max_length=TEXT_MAX, required=False)
    clean, simplified = None, {}
    if html:
        if not isinstance(html, str) or len(html) > HTML_MAX:
            raise ValidationError(_("html must be text of at most %(max)d characters.",
                                    max=HTML_MAX), field="html")
        result = clean_html(html)
        clean, simplified = result.html, result.summary()
        text = text or html_to_text(clean)
    if not text and not attachments:
        raise ValidationError(_("The message is empty."), field="text")
    return Body(text, clean, simplified)


def with_simplified(meta: dict[str, t.Any], simplified: dict[str, int]) -> dict[str, t.Any]:
    """``meta`` with ``html_simplified`` when the HTML was simplified.

    A channel that simplified the HTML itself (and noted it) keeps its note.
    """
    if simplified and "html_simplified" not in meta:
        meta = {**meta, "html_simplified": simplified}
    return meta


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


def add_message(
    ticket: Ticket, *, kind: str, actor: Actor | Customer, text: str = "",
    html: str | None = None, attachments: t.Sequence[InboundAttachment] = (),
    meta: dict[str, t.Any] | None = None, channel: str | None = None, account: str | None = None,
    external_id: str | None = None, created_at: t.Any = None, event_data: dict[str, t.Any]
    | None = None,
) -> Message:
    """Add a message to ``ticket`` inside the current transaction (for services)."""
    text, clean, simplified = message_body(text, html, attachments=bool(attachments))
    now = utcnow()
    message = Message(
        ticket_id=ticket.id, kind=kind, channel=channel or ticket.channel,
        account=ticket.account if account is None else account, external_id=external_id,
        text=text, html=clean, meta=with_simplified(dict(meta or {}), simplified),
        created_at=created_at or now,
        attempts=0,
    )
    if isinstance(actor, Agent):
        message.author_agent_id, message.author_name = actor.id, actor.name
    elif isinstance(actor, Customer):
        message.author_customer_id, message.author_name = actor.id, actor.name
    else:
        message.author_name = actor.name
    if kind == "reply":
        message.delivery_state, message.next_attempt_at = "queued", now
        if not isinstance(actor, Agent | Customer):
            message.meta["automatic"] = True  # written by the system or a rule
    s = session()
    s.add(message)
    s.flush()
    store_attachments(message, attachments)
    event_type = {"inbound": "message.received", "reply": "message.replied",
                  "note": "note.added"}[kind]
    data = {"message_id": message.id, "channel": message.channel, **(event_data or {})}
    if kind == "reply":
        data["delivery"] = "queued"
    record(ticket, event_type, actor, data)
    touch(ticket.id)
    return message


def may_reply_automatically(ticket: Ticket, *, actor: Actor | None = None) -> bool:
    """Whether the helpdesk may answer the ticket's customer on its own, now.

    Asks every ``helpdesk_allow_automatic_reply`` implementation (the channel
    plugins' loop guards) about the customer's last message; one ``False``
    refuses. A refusal is recorded on the ticket's history as a
    ``message.automatic_reply_refused`` event. Rule actions that reply (and
    plugins' automatic answers) call this before :func:`reply`.

    :param actor: Who would reply (the rule), for the history; the system
        by default.
    """
    from ._uow import SYSTEM
    from .outbox import recipient_of

    s = session()
    last = s.scalar(select(Message).where(Message.ticket_id == ticket.id,
                                          Message.kind == "inbound")
                    .order_by(Message.id.desc()).limit(1))
    state = get_state()
    answers = state.pm.hook.helpdesk_allow_automatic_reply(
        helpdesk=state, ticket=ticket, message=last,
        recipient=recipient_of(ticket, ticket.channel))
    if not any(answer is False for answer in answers):
        return True
    record(ticket, "message.automatic_reply_refused", actor or SYSTEM,
           {"message_id": last.id if last is not None else None})
    return False


def count_automatic_replies(customer_id: int, *, since: t.Any) -> int:
    """Automatic replies (written by the system or a rule) queued to a customer since ``since``.

    A loop guard's per-hour limit counts them: every ticket of the customer,
    every channel, whether delivered yet or not.
    """
    from sqlalchemy import func

    return int(session().scalar(
        select(func.count(Message.id)).join(Ticket, Ticket.id == Message.ticket_id).where(
            Ticket.customer_id == customer_id, Message.kind == "reply",
            Message.author_agent_id.is_(None), Message.created_at >= since)) or 0)


def _check_collision(ticket: Ticket, actor: Actor, seen_event_id: int | None) -> None:
    """Refuse a reply written without having seen a newer public message."""
    if seen_event_id is None:
        return
    newer = list(session().scalars(
        select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.id > seen_event_id,
            TicketEvent.type.in_(sorted(PUBLIC_MESSAGE_TYPES)),
        ).order_by(TicketEvent.id).limit(20)
    ))
    newer = [e for e in newer if not (isinstance(actor, Agent) and e.actor_agent_id == actor.id
                                      and e.type == "message.replied")]
    if newer:
        raise Conflict(
            _("New messages arrived on ticket #%(id)s since you opened it. Review them, then"
              " send again to confirm.", id=ticket.id),
            details={"events": [{"id": e.id, "type": e.type, "actor": e.actor_name,
                                 "message_id": e.data.get("message_id")} for e in newer]},
        )


def reply(
    ticket_id: int, *, actor: Actor, text: str = "", html: str | None = None,
    attachments: t.Sequence[InboundAttachment] = (), status: str | None = None,
    seen_event_id: int | None = None, confirm: bool = False, template_id: int | None = None,
) -> Message:
    """Send a public reply to the ticket's customer, optionally setting the status.

    The reply is queued in the outbox and delivered by a job after commit.
    The author's reply draft (:mod:`~flask_helpdesk.services.drafts`) is
    deleted in the same transaction; when the reply is refused it stays.

    :param seen_event_id: The newest event the author saw. When a public
        message newer than it exists, :class:`Conflict` is raised unless
        ``confirm`` is true.
    :param template_id: The reply template the text was made from. In the
        same transaction the template's actions are applied to the ticket
        (before ``status``, which wins), copies of its files are attached, the
        use is counted and a ``template.applied`` event names it. ``text`` is
        still what is sent: the agent may have edited the inserted text.
    :raises ValidationError: The ticket is closed, or the reply is empty.
    :raises NotFound: ``template_id`` is not a template the actor sees.
    :raises Conflict: A newer public message exists (see ``seen_event_id``);
        the ticket row is locked while this is checked, so of concurrent
        replies with the same ``seen_event_id`` only one is sent.
    """
    from . import templates

    with transaction():
        ticket = get_ticket(ticket_id, actor=actor, for_update=True)
        _writable(ticket)
        if not confirm:
            _check_collision(ticket, actor, seen_event_id)
        template = None
        if template_id is not None:
            template = templates.get_template(template_id, actor=actor)
            attachments = [*attachments, *templates.attachment_copies(template)]
        message = add_message(ticket, kind="reply", actor=actor, text=text, html=html,
                              attachments=attachments,
                              event_data={"template_id": template_id} if template else None)
        ticket.last_agent_reply_at = ticket.updated_at = message.created_at
        if template is not None:
            record(ticket, "template.applied", actor, {
                "template_id": template.id, "name": template.name, "message_id": message.id})
            templates.apply_actions(template.actions or {}, ticket, actor)
            templates.count_use(template, ticket_id=ticket.id, actor=actor,
                                message_id=message.id)
        if status is not None:
            set_status(ticket, actor, status)
        _sent(ticket, actor, "reply")
    return message


def add_note(
    ticket_id: int, *, actor: Actor, text: str = "", html: str | None = None,
    attachments: t.Sequence[InboundAttachment] = (), seen_event_id: int | None = None,
    confirm: bool = False,
) -> Message:
    """Add an internal note, visible to agents only.

    ``seen_event_id`` and ``confirm`` work as for :func:`reply`; the author's
    note draft is deleted in the same transaction.
    """
    with transaction():
        ticket = get_ticket(ticket_id, actor=actor, for_update=True)
        if ticket.merged_into_id is not None:
            raise ValidationError(_("Ticket #%(id)s was merged into #%(into)s.",
                                    id=ticket.id, into=ticket.merged_into_id))
        if not confirm:
            _check_collision(ticket, actor, seen_event_id)
        message = add_message(ticket, kind="note", actor=actor, text=text, html=html,
                              attachments=attachments)
        ticket.updated_at = message.created_at
        _sent(ticket, actor, "note")
    return message


def _sent(ticket: Ticket, actor: Actor, kind: str) -> None:
    """The author's draft of what was just sent goes, in the same transaction."""
    if isinstance(actor, Agent):
        drafts.discard_draft(ticket.id, actor=actor, kind=kind)


def _writable(ticket: Ticket) -> None:
    if ticket.merged_into_id is not None:
        raise ValidationError(_("Ticket #%(id)s was merged into #%(into)s; reply there.",
                                id=ticket.id, into=ticket.merged_into_id))
    if ticket.status == "closed":
        raise ValidationError(_("Ticket #%(id)s is closed; closed tickets cannot be answered.",
                                id=ticket.id), field="status")


def list_messages(
    ticket_id: int, *, actor: Actor, include_notes: bool = True, after: int | None = None,
    cursor: str | None = None, limit: int = 100,
) -> list[Message]:
    """The ticket's messages with attachments, oldest first, keyset by id.

    :param cursor: The id of the previous page's last message as text (a
        request's ``cursor``), read after the permission check.
    :raises ValidationError: A cursor that is not an id.
    """
    require_visible(ticket_id, actor=actor)
    if cursor:
        after = v.id_cursor(cursor)
    return _messages(ticket_id, include_notes=include_notes, after=after, limit=limit)


def public_messages(ticket_id: int, *, after: int | None = None, limit: int = 100) -> list[
        Message]:
    """What the customer may see: their messages and public replies, never notes.

    Every customer-facing view and export must read messages through this.
    """
    return _messages(ticket_id, include_notes=False, after=after, limit=limit)


def _messages(ticket_id: int, *, include_notes: bool, after: int | None, limit: int) -> list[
        Message]:
    query = (select(Message).where(Message.ticket_id == ticket_id)
             .options(selectinload(Message.attachments)).order_by(Message.id).limit(limit))
    if not include_notes:
        query = query.where(Message.kind != "note")
    if after is not None:
        query = query.where(Message.id > after)
    return list(session().scalars(query))


def get_attachment(attachment_id: int, *, actor: Actor) -> tuple[Attachment, bytes]:
    """An attachment and its bytes, if ``actor`` may see its ticket."""
    row = session().get(Attachment, attachment_id)
    if row is None:
        raise NotFound(_("Attachment %(id)s does not exist.", id=attachment_id))
    message = session().get(Message, row.message_id)
    assert message is not None
    require_visible(message.ticket_id, actor=actor)
    try:
        return row, get_state().storage.open(row.storage_key)
    except FileNotFoundError:
        raise NotFound(_("The file of attachment %(id)s is missing from storage.",
                         id=attachment_id)) from None


@dataclasses.dataclass(frozen=True)
class StoredInbound:
    """An inbound message as stored, for a channel's maintenance commands.

    :ivar id: The message.
    :ivar ticket_id: Its ticket.
    :ivar account: The account it came through.
    :ivar meta: Its stored ``meta`` (see :func:`~flask_helpdesk.services.inbound.stored_meta`),
        or the keys asked for.
    :ivar author: The ``(kind, value)`` identities of the customer who wrote
        it; its sender is one of them.
    """

    id: int
    ticket_id: int
    account: str
    meta: dict[str, t.Any]
    author: tuple[tuple[str, str], ...]


def list_inbound(
    channel: str, *, actor: Actor, after: int | None = None, limit: int = 500,
    meta_keys: t.Sequence[str] | None = None,
) -> list[StoredInbound]:
    """Inbound messages of a channel, oldest first, keyset-paginated by id. Only admins may.

    For a channel that walks its stored messages again (e.g. the email
    channel's ``backfill-participants``): two queries a page, whatever its
    size, so memory stays bounded by ``limit``.

    :param after: The last id of the previous page.
    :param limit: Messages a page (at most 1,000).
    :param meta_keys: Read only these top-level keys of ``meta`` (a key the
        message lacks is left out), not the whole of it: the email channel's
        ``meta`` also holds the full quoted text.

    .. versionadded:: 0.2
    """
    require_role(actor, "admin")
    limit = min(v.integer(limit, "limit"), 1000)
    meta_columns = ([Message.meta] if meta_keys is None
                    else [Message.meta[key].label(f"m{n}") for n, key in enumerate(meta_keys)])
    query = select(Message.id, Message.ticket_id, Message.account, Message.author_customer_id,
                   *meta_columns).where(Message.channel == channel, Message.kind == "inbound")
    if after is not None:
        query = query.where(Message.id > after)
    s = session()
    rows = s.execute(query.order_by(Message.id).limit(limit)).all()
    authors: dict[int, list[tuple[str, str]]] = {}
    customer_ids = sorted({r.author_customer_id for r in rows if r.author_customer_id})
    if customer_ids:
        for row in s.execute(select(ContactIdentity.customer_id, ContactIdentity.kind,
                                    ContactIdentity.value).where(
                ContactIdentity.customer_id.in_(customer_ids)).order_by(ContactIdentity.id)):
            authors.setdefault(row.customer_id, []).append((row.kind, row.value))
    out = []
    for row in rows:
        if meta_keys is None:
            meta = dict(row.meta or {})
        else:
            meta = {key: row[4 + n] for n, key in enumerate(meta_keys) if row[4 + n] is not None}
        out.append(StoredInbound(row.id, row.ticket_id, row.account, meta,
                                 tuple(authors.get(row.author_customer_id or 0, ()))))
    return out
