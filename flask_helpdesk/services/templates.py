"""Reply templates ("macros"): canned replies with placeholders, actions and files.

A template is shared (every agent sees it; only managers and admins create,
change or delete it) or personal (its owner's alone). Agents search the
templates they see, insert one into a reply, edit the text and send it; the
reply then also applies the template's actions to the ticket, gets copies of
its files and counts as one use (see :func:`flask_helpdesk.services.messages.reply`
with ``template_id``). Placeholders such as ``{{ customer.first_name }}`` are
Jinja, sandboxed; :data:`~._placeholders.PLACEHOLDERS` lists them.

Everything a template could not be sent with is refused when it is saved:
an empty or too long name or body, an unknown placeholder, an unknown status
or priority, a deleted group, a deleted or deactivated agent, a bad tag.
"""

from __future__ import annotations

import dataclasses
import typing as t

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import selectinload

from ..channels import InboundAttachment
from ..errors import Conflict
from ..errors import NotFound
from ..errors import PermissionDenied
from ..errors import ValidationError
from ..extension import get_state
from ..i18n import _
from ..models import Agent
from ..models import Draft
from ..models import ReplyTemplate
from ..models import Rule
from ..models import TemplateAttachment
from ..models import utcnow
from . import _placeholders
from . import _template_actions as acts
from . import _validate as v
from ._placeholders import PLACEHOLDERS
from ._uow import Actor
from ._uow import session
from ._uow import transaction
from .messages import safe_filename
from .messages import sanitize_html
from .messages import sniff_content_type
from .search import fold

__all__ = [
    "PLACEHOLDERS", "Rendered", "TemplateChanges", "can_manage", "create_template",
    "delete_template", "fill", "get_template", "list_folders", "list_templates", "render",
    "require_manage", "update_template",
]

#: Longest name, folder path, text body and HTML body.
NAME_MAX, FOLDER_MAX, BODY_MAX, HTML_MAX = 100, 200, 20_000, 100_000

#: Most templates one list returns.
LIST_MAX = 500


@dataclasses.dataclass
class TemplateChanges:
    """What to change on a template; fields left :data:`~flask_helpdesk.services.UNSET` stay.

    ``add_attachments`` are stored as new files; ``remove_attachments`` are
    ids of the template's files to delete.
    """

    name: str = v.UNSET
    folder: str = v.UNSET
    body: str = v.UNSET
    body_html: str | None = v.UNSET
    shared: bool = v.UNSET
    actions: dict[str, t.Any] = v.UNSET
    add_attachments: t.Sequence[InboundAttachment] = ()
    remove_attachments: t.Sequence[int] = ()


@dataclasses.dataclass(frozen=True)
class Rendered:
    """A template filled in for one ticket, as the picker and the API preview show it.

    :ivar text: The reply text with every placeholder filled.
    :ivar html: The HTML version, or ``None`` when the template has none.
    :ivar actions: The template's actions (normalized).
    :ivar summary: The actions in words (``["set status pending", "add tags refund"]``).
    :ivar attachments: File names sent with the reply.
    """

    template: ReplyTemplate
    text: str
    html: str | None
    actions: dict[str, t.Any]
    summary: list[str]
    attachments: list[str]


# ------------------------------------------------------------------ reading


def _visible(actor: Actor) -> t.Any:
    if not isinstance(actor, Agent):
        return ReplyTemplate.owner_agent_id.is_(None)
    return or_(ReplyTemplate.owner_agent_id.is_(None), ReplyTemplate.owner_agent_id == actor.id)


def list_templates(
    *, actor: Actor, q: str | None = None, folder: str | None = None, limit: int = LIST_MAX,
) -> list[ReplyTemplate]:
    """The shared templates and the actor's own, most used first, then by name.

    :param q: Words that must all appear in the name, folder or text
        (case- and accent-insensitive, any script).
    :param folder: Only this folder and its subfolders.
    """
    query = (select(ReplyTemplate).where(_visible(actor))
             .options(selectinload(ReplyTemplate.attachments))
             .order_by(ReplyTemplate.usage_count.desc(), ReplyTemplate.name, ReplyTemplate.id))
    for word in fold(v.text(q or "", "q", max_length=200, required=False)).split():
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(ReplyTemplate.search_text.like(f"%{escaped}%", escape="\\"))
    if folder:
        path = _folder(folder)
        query = query.where(or_(ReplyTemplate.folder == path,
                                ReplyTemplate.folder.startswith(f"{path}/", autoescape=True)))
    return list(session().scalars(query.limit(max(1, min(limit, LIST_MAX)))))


def list_folders(*, actor: Actor) -> list[str]:
    """Every folder holding a template the actor sees, with parent folders, sorted."""
    found: set[str] = set()
    for path in session().scalars(select(ReplyTemplate.folder).where(_visible(actor)).distinct()):
        parts = path.split("/") if path else []
        found.update("/".join(parts[:n]) for n in range(1, len(parts) + 1))
    return sorted(found, key=lambda p: fold(p))


def get_template(template_id: int, *, actor: Actor) -> ReplyTemplate:
    """One template the actor sees, with its files.

    :raises NotFound: No such template, or another agent's personal one.
    """
    row = None
    if isinstance(template_id, int) and not isinstance(template_id, bool):
        row = session().scalar(select(ReplyTemplate).where(
            ReplyTemplate.id == template_id, _visible(actor) if isinstance(actor, Agent)
            else ReplyTemplate.id.is_not(None)).options(selectinload(ReplyTemplate.attachments)))
    if row is None:
        raise NotFound(_("Reply template %(id)s does not exist.", id=template_id))
    return row


def can_manage(actor: Actor, template: ReplyTemplate | None = None, *,
               shared: bool | None = None) -> bool:
    """Whether ``actor`` may create (``template`` None) or change a template.

    Managers and admins manage shared templates; every agent manages their
    own personal ones.
    """
    if not isinstance(actor, Agent):
        return shared is not False and (template is None or template.shared)
    if not actor.active:
        return False
    is_shared = template.shared if template is not None else bool(shared)
    if is_shared or shared:
        return actor.has_role("manager")
    return template is None or template.owner_agent_id == actor.id


def require_manage(actor: Actor, template: ReplyTemplate | None,
                   shared: bool | None = None) -> None:
    """Raise :class:`PermissionDenied` unless :func:`can_manage` says yes."""
    if can_manage(actor, template, shared=shared):
        return
    if template is not None and not template.shared and shared is None:
        raise PermissionDenied(_("This is another agent's personal template."))
    if not isinstance(actor, Agent):
        raise PermissionDenied(_("Personal templates belong to an agent."))
    raise PermissionDenied(_("Only managers and administrators may change shared templates."))


# ------------------------------------------------------------------ writing


def create_template(
    *, actor: Actor, name: str, body: str, folder: str = "", body_html: str | None = None,
    shared: bool = False, actions: dict[str, t.Any] | None = None,
    attachments: t.Sequence[InboundAttachment] = (),
) -> ReplyTemplate:
    """Save a new template, personal to ``actor`` unless ``shared``.

    :raises PermissionDenied: An agent asked for a shared template.
    :raises ValidationError: See the module docstring.
    """
    require_manage(actor, None, bool(shared))
    with transaction() as s:
        now = utcnow()
        row = ReplyTemplate(usage_count=0, created_at=now, actions={}, folder="",
                            created_by_id=actor.id if isinstance(actor, Agent) else None)
        _apply(row, actor, TemplateChanges(
            name=name, body=body, folder=folder, body_html=body_html, shared=shared,
            actions=actions or {}, add_attachments=attachments))
        s.add(row)
    return get_template(row.id, actor=actor)


def update_template(template_id: int, *, actor: Actor, changes: TemplateChanges) -> ReplyTemplate:
    """Change a template the actor may manage.

    :raises PermissionDenied: An agent changing a shared template or making theirs shared.
    :raises ValidationError: See the module docstring.
    """
    with transaction():
        row = get_template(template_id, actor=actor)
        require_manage(actor, row, None)
        if changes.shared is not v.UNSET and bool(changes.shared) != row.shared:
            require_manage(actor, None, bool(changes.shared))
            if not changes.shared:
                _not_sent_by_rules(row)
        removed = _apply(row, actor, changes)
    _forget_files(removed)
    return get_template(template_id, actor=actor)


def delete_template(template_id: int, *, actor: Actor) -> None:
    """Delete a template, its files and its usage rows (the replies keep their copies).

    :raises Conflict: A rule sends this template.
    """
    with transaction() as s:
        row = get_template(template_id, actor=actor)
        require_manage(actor, row, None)
        _not_sent_by_rules(row)
        keys = [a.storage_key for a in row.attachments]
        # Drafts that chose it forget it (SQLite does not enforce ON DELETE SET NULL).
        s.execute(update(Draft).where(Draft.template_id == row.id).values(template_id=None)
                  .execution_options(synchronize_session=False))
        s.delete(row)
    _forget_files(keys)


def _not_sent_by_rules(row: ReplyTemplate) -> None:
    for rule in session().scalars(select(Rule).order_by(Rule.id)):
        if any(a.get("type") == "send_template" and a.get("template_id") == row.id
               for a in rule.actions):
            raise Conflict(_("The rule %(rule)s sends this template; change the rule first.",
                             rule=rule.name))


def _apply(row: ReplyTemplate, actor: Actor, changes: TemplateChanges) -> list[str]:
    """Validate and set ``changes``; return the storage keys of removed files."""
    if changes.name is not v.UNSET:
        row.name = v.text(changes.name, "name", max_length=NAME_MAX)
    if changes.folder is not v.UNSET:
        row.folder = _folder(changes.folder) if changes.folder else ""
    if changes.body is not v.UNSET:
        body = v.text(changes.body, "body", max_length=BODY_MAX)
        _placeholders.check(body, field="body")
        row.body = body
    if changes.body_html is not v.UNSET:
        row.body_html = _html(changes.body_html)
    if changes.shared is not v.UNSET:
        if not isinstance(changes.shared, bool):
            raise ValidationError(_("shared must be true or false."), field="shared")
        row.owner_agent_id = None if changes.shared else t.cast(Agent, actor).id
    if changes.actions is not v.UNSET:
        row.actions = acts.validate(changes.actions)
    removed = _change_files(row, changes.add_attachments, changes.remove_attachments)
    row.search_text = fold(f"{row.name}\n{row.folder}\n{row.body}")
    row.updated_at = utcnow()
    return removed


def _folder(value: object) -> str:
    path = v.text(value, "folder", max_length=FOLDER_MAX)
    parts = [part.strip() for part in path.split("/")]
    if any(not part for part in parts):
        raise ValidationError(_('A folder is a path like "Billing/Refunds", without empty'
                                " parts."), field="folder")
    return "/".join(parts)


def _html(value: object) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    html = v.text(value, "body_html", max_length=HTML_MAX)
    clean = sanitize_html(html)
    _placeholders.check(clean, field="body_html", html=True)
    return clean


def _change_files(row: ReplyTemplate, add: t.Sequence[InboundAttachment],
                  remove: t.Sequence[int]) -> list[str]:
    state = get_state()
    current = list(row.attachments) if row.id is not None else []
    unknown = sorted(set(remove) - {a.id for a in current})
    if unknown:
        raise ValidationError(_("The template has no file %(id)s.", id=unknown[0]),
                              field="remove_attachments")
    kept = [a for a in current if a.id not in set(remove)]
    if len(kept) + len(add) > state.config.max_attachments_per_message:
        raise ValidationError(_("Too many attachments (%(count)d, at most %(max)d).",
                                count=len(kept) + len(add),
                                max=state.config.max_attachments_per_message),
                              field="attachments")
    row.attachments = kept + [_stored(item) for item in add]
    return [a.storage_key for a in current if a.id in set(remove)]


def _stored(item: InboundAttachment) -> TemplateAttachment:
    from ..storage import sha256

    state = get_state()
    if not isinstance(item.data, bytes | bytearray) or not item.data:
        raise ValidationError(_("An attachment has no content."), field="attachments")
    name, data = safe_filename(item.filename), bytes(item.data)
    if len(data) > state.config.max_attachment_size:
        raise ValidationError(_("%(name)s is too large (at most %(max)d bytes).", name=name,
                                max=state.config.max_attachment_size), field="attachments")
    return TemplateAttachment(
        filename=name, content_type=sniff_content_type(data, item.content_type, name),
        size=len(data), sha256=sha256(data), created_at=utcnow(),
        storage_key=state.storage.save(data, filename=name))


def _forget_files(keys: t.Iterable[str]) -> None:
    storage = get_state().storage
    for key in keys:
        storage.delete(key)


# ---------------------------------------------------------- rendering, use


def render(template_id: int, *, ticket_id: int, actor: Actor) -> Rendered:
    """Fill a template in for a ticket the actor sees, changing nothing.

    :raises NotFound: No such template or ticket.
    :raises PermissionDenied: The actor may not see the ticket.
    """
    from .tickets import get_ticket

    template = get_template(template_id, actor=actor)
    ticket = get_ticket(ticket_id, actor=actor)
    return fill(template, ticket, actor)


def fill(template: ReplyTemplate, ticket: t.Any, actor: Actor) -> Rendered:
    """:func:`render` for loaded rows (for services)."""
    values = _placeholders.context(ticket, actor if isinstance(actor, Agent) else None)
    html = (_placeholders.render(template.body_html, values, html=True)
            if template.body_html else None)
    return Rendered(
        template=template, text=_placeholders.render(template.body, values), html=html,
        actions=dict(template.actions or {}), summary=acts.summary(template.actions or {}),
        attachments=[a.filename for a in template.attachments])


def attachment_copies(template: ReplyTemplate) -> list[InboundAttachment]:
    """The template's files, read from the storage, to store again on a reply."""
    storage = get_state().storage
    try:
        return [InboundAttachment(a.filename, a.content_type, storage.open(a.storage_key))
                for a in template.attachments]
    except FileNotFoundError:
        raise ValidationError(_("A file of the template %(name)s is missing from storage.",
                                name=template.name), field="template_id") from None


def count_use(template: ReplyTemplate, *, ticket_id: int, actor: Actor,
              message_id: int | None) -> None:
    """Count one use of ``template`` inside the current transaction (for services)."""
    from ..models import TemplateUsage

    now = utcnow()
    s = session()
    s.execute(update(ReplyTemplate).where(ReplyTemplate.id == template.id).values(
        usage_count=ReplyTemplate.usage_count + 1, last_used_at=now)
        .execution_options(synchronize_session=False))
    s.add(TemplateUsage(template_id=template.id, ticket_id=ticket_id, message_id=message_id,
                        agent_id=actor.id if isinstance(actor, Agent) else None, at=now))
    s.expire(template, ["usage_count", "last_used_at"])


apply_actions = acts.apply
