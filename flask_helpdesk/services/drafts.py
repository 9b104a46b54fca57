"""Drafts: an agent's unsent reply or note, kept on the server.

One draft per ticket, agent and kind (``reply`` or ``note``). A draft is
private to its author: only they read, change or discard it, with the same
permission as seeing the ticket; it records no history event and is never
broadcast. Sending the reply or note (:func:`~.messages.reply`,
:func:`~.messages.add_note`) deletes the author's draft of that kind in the
same transaction, so a failed send (a :class:`~flask_helpdesk.Conflict`, a
file too large) keeps it.

Attachments are not kept in drafts: files chosen for a reply must be chosen
again after a reload.
"""

from __future__ import annotations

import typing as t

import nh3
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from ..errors import Conflict
from ..errors import PermissionDenied
from ..errors import ValidationError
from ..extension import get_state
from ..i18n import _
from ..models import Agent
from ..models import Draft
from ..models import Ticket
from ..models import TicketEvent
from ..models import utcnow
from ..models.draft import DRAFT_KINDS
from ..models.ticket import STATUSES
from . import _validate as v
from ._uow import Actor
from ._uow import session
from ._uow import transaction
from .markup import simplify_html
from .tickets import require_visible

#: The history event a sent draft of each kind becomes.
SENT_EVENTS = {"reply": "message.replied", "note": "note.added"}


def get_draft(ticket_id: int, *, actor: Actor, kind: str) -> Draft | None:
    """The actor's own draft of ``kind`` on the ticket, or ``None``.

    :raises NotFound: No such ticket.
    :raises PermissionDenied: ``actor`` may not see the ticket, or is not an agent.
    :raises ValidationError: ``kind`` is not ``reply`` or ``note``.
    """
    agent = _author(actor)
    kind = v.one_of(kind, "kind", DRAFT_KINDS)
    require_visible(ticket_id, actor=agent)
    return t.cast("Draft | None", session().scalar(_mine(ticket_id, agent, kind)))


def get_drafts(ticket_id: int, *, actor: Actor) -> dict[str, Draft]:
    """The actor's drafts on the ticket by kind (one query), for the ticket page.

    :raises NotFound: No such ticket.
    :raises PermissionDenied: ``actor`` may not see the ticket, or is not an agent.
    """
    agent = _author(actor)
    require_visible(ticket_id, actor=agent)
    rows = session().scalars(select(Draft).where(Draft.ticket_id == ticket_id,
                                                 Draft.agent_id == agent.id))
    return {row.kind: row for row in rows}


def save_draft(
    ticket_id: int, *, actor: Actor, kind: str, text: str = "", html: str | None = None,
    status: str | None = None, template_id: int | None = None,
    seen_event_id: int | None = None,
) -> Draft | None:
    """Keep what the actor is writing, replacing their previous draft of ``kind``.

    A draft with neither text nor HTML text is discarded instead (the agent
    emptied the box), and ``None`` is returned.

    :param text: The plain text of the editor.
    :param html: The editor's HTML, kept as given (it is sanitized when sent).
    :param status: The reply's "and set status" choice (replies only).
    :param template_id: The reply template chosen (replies only).
    :param seen_event_id: The newest event the author had seen while writing.
    :raises ValidationError: A wrong kind or status, a status or template on a
        note, or text and HTML together longer than
        :data:`HELPDESK_DRAFT_MAX_CHARS`.
    :raises NotFound: No such ticket, or ``template_id`` is not a template the
        actor sees.
    :raises PermissionDenied: ``actor`` may not see the ticket, or is not an agent.
    :raises Conflict: The actor sent a reply (or note) after the event
        ``seen_event_id``: this save comes from a page that has already sent
        it (an autosave that arrived late), and keeping it would bring the
        sent text back.
    """
    agent = _author(actor)
    kind = v.one_of(kind, "kind", DRAFT_KINDS)
    text, html = _body(text, html)
    if kind == "note" and (status is not None or template_id is not None):
        raise ValidationError(_("A note has no status or template."), field="status")
    if status is not None:
        v.one_of(status, "status", STATUSES)
    if seen_event_id is not None:
        v.integer(seen_event_id, "seen_event_id", minimum=0)
    with transaction() as s:
        _lock_against_sending(ticket_id, agent)
        if template_id is not None:
            from .templates import get_template  # templates imports messages, which imports us

            get_template(template_id, actor=agent)
        if seen_event_id is not None:
            _refuse_if_sent_since(ticket_id, agent, kind, seen_event_id)
        if not text.strip() and not _has_text(html):
            s.execute(_delete(ticket_id, agent, kind))
            return None
        values = {"text": text, "html": html, "status": status, "template_id": template_id,
                  "seen_event_id": seen_event_id, "updated_at": utcnow()}
        _upsert(s, {"ticket_id": ticket_id, "agent_id": agent.id, "kind": kind}, values)
        draft = s.scalar(_mine(ticket_id, agent, kind).execution_options(
            populate_existing=True))
    return t.cast("Draft | None", draft)


def discard_draft(ticket_id: int, *, actor: Actor, kind: str) -> None:
    """Delete the actor's draft of ``kind`` on the ticket, if there is one.

    Inside another service's transaction (a reply being sent) it joins it.

    :raises NotFound: No such ticket.
    :raises PermissionDenied: ``actor`` may not see the ticket, or is not an agent.
    :raises ValidationError: ``kind`` is not ``reply`` or ``note``.
    """
    agent = _author(actor)
    kind = v.one_of(kind, "kind", DRAFT_KINDS)
    with transaction() as s:
        require_visible(ticket_id, actor=agent)
        s.execute(_delete(ticket_id, agent, kind))


# ------------------------------------------------------------------ helpers


def _author(actor: Actor) -> Agent:
    if not isinstance(actor, Agent):
        raise PermissionDenied(_("Only agents have drafts."))
    return actor


def _mine(ticket_id: int, agent: Agent, kind: str) -> t.Any:
    return select(Draft).where(Draft.ticket_id == ticket_id, Draft.agent_id == agent.id,
                               Draft.kind == kind)


def _delete(ticket_id: int, agent: Agent, kind: str) -> t.Any:
    return delete(Draft).where(Draft.ticket_id == ticket_id, Draft.agent_id == agent.id,
                               Draft.kind == kind).execution_options(synchronize_session=False)


def _body(text: object, html: object) -> tuple[str, str | None]:
    """Check the draft's text and HTML (types, NUL characters, the size limit)."""
    if not isinstance(text, str):
        raise ValidationError(_("%(field)s must be text.", field="text"), field="text")
    if html is not None and not isinstance(html, str):
        raise ValidationError(_("%(field)s must be text.", field="html"), field="html")
    text, html = text.replace("\x00", ""), (html or "").replace("\x00", "") or None
    size, limit = len(text) + len(html or ""), get_state().config.draft_max_chars
    if size > limit:
        raise ValidationError(
            _("The draft is too long to keep (%(size)d characters, at most %(max)d):"
              " shorten it, or send it.", size=size, max=limit), field="text")
    return text, html


def _has_text(html: str | None) -> bool:
    if not html:
        return False
    text = nh3.clean(simplify_html(html).html, tags=set())  # linear whatever the nesting
    return bool(text.replace("&nbsp;", "").strip())


def _lock_against_sending(ticket_id: int, agent: Agent) -> None:
    """Wait for a reply or note being sent on the ticket to commit (PostgreSQL).

    Sending locks the ticket row ``FOR UPDATE``; ``FOR KEY SHARE`` waits for
    it but not for other drafts or ordinary ticket changes, so the check
    below sees a send that was under way. SQLite runs one writer at a time.
    """
    require_visible(ticket_id, actor=agent)
    session().execute(select(Ticket.id).where(Ticket.id == ticket_id)
                      .with_for_update(read=True, key_share=True))


def _refuse_if_sent_since(ticket_id: int, agent: Agent, kind: str, seen: int) -> None:
    newest = session().scalar(select(func.max(TicketEvent.id)).where(
        TicketEvent.ticket_id == ticket_id, TicketEvent.actor_agent_id == agent.id,
        TicketEvent.type == SENT_EVENTS[kind]))
    if newest is not None and newest > seen:
        raise Conflict(
            _("You sent this on ticket #%(id)s already; the draft was not kept.", id=ticket_id),
            details={"event_id": newest})


def _upsert_insert(dialect: str) -> t.Callable[[t.Any], t.Any] | None:
    """``INSERT ... ON CONFLICT`` of the databases that have it (the dialect imported here)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    return None


def _upsert(s: t.Any, key: dict[str, t.Any], values: dict[str, t.Any]) -> None:
    """Insert or update one draft atomically (two tabs may save at once)."""
    insert = _upsert_insert(s.get_bind(mapper=Draft).dialect.name)
    if insert is not None:
        statement = insert(Draft).values(**key, **values)
        s.execute(statement.on_conflict_do_update(
            index_elements=["ticket_id", "agent_id", "kind"], set_=values))
        return
    changed = s.execute(update(Draft).where(*(getattr(Draft, k) == key[k] for k in key))
                        .values(**values).execution_options(synchronize_session=False))
    if not changed.rowcount:
        s.add(Draft(**key, **values))
