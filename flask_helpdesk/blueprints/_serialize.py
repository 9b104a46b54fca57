"""Models as JSON-ready dicts, for the REST API.

Each function reads only columns and relationships already loaded by the
service that returned the object, so serializing a page costs no query per
row. The shapes are described, field by field, by the schemas of
:mod:`flask_helpdesk.blueprints.api_openapi`; a change here needs a change
there (the schemathesis test catches a mismatch).
"""

from __future__ import annotations

import typing as t

from flask import url_for

if t.TYPE_CHECKING:
    import datetime as dt

    from ..models import Agent
    from ..models import ApiToken
    from ..models import Attachment
    from ..models import BusinessCalendar
    from ..models import ChannelAccount
    from ..models import ContactIdentity
    from ..models import Customer
    from ..models import Draft
    from ..models import Group
    from ..models import Message
    from ..models import QuarantinedMessage
    from ..models import ReplyTemplate
    from ..models import Rule
    from ..models import RuleRun
    from ..models import SavedView
    from ..models import Tag
    from ..models import Ticket
    from ..models import TicketEvent
    from ..services import IngestResult
    from ..services.templates import Rendered

Json = dict[str, t.Any]


def iso(value: dt.datetime | None) -> str | None:
    """A naive UTC datetime as ISO 8601 with ``Z``, e.g. ``2024-05-01T09:30:00Z``."""
    if value is None:
        return None
    return value.replace(tzinfo=None).isoformat() + "Z"


def _ref(obj: Agent | Group | Customer | None) -> Json | None:
    return None if obj is None else {"id": obj.id, "name": obj.name}


def ticket(row: Ticket) -> Json:
    """A ticket; ``id`` is the ticket number people see."""
    return {
        "id": row.id,
        "subject": row.subject,
        "status": row.status,
        "priority": row.priority_name,
        "channel": row.channel,
        "customer": _ref(row.customer),
        "group": _ref(row.group),
        "assignee": _ref(row.assignee),
        "tags": [tag.name for tag in row.tags],
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "status_changed_at": iso(row.status_changed_at),
        "last_customer_message_at": iso(row.last_customer_message_at),
        "last_agent_reply_at": iso(row.last_agent_reply_at),
        "follow_up_of_id": row.follow_up_of_id,
        "merged_into_id": row.merged_into_id,
        "custom_fields": dict(row.custom_fields or {}),
    }


def attachment(row: Attachment) -> Json:
    return {
        "id": row.id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size": row.size,
        "inline": row.inline,
        "content_id": row.content_id,
        "url": url_for("helpdesk.api.tickets.attachment", attachment_id=row.id),
    }


def _author(row: Message) -> Json:
    if row.author_agent_id is not None:
        return {"kind": "agent", "id": row.author_agent_id, "name": row.author_name}
    if row.author_customer_id is not None:
        return {"kind": "customer", "id": row.author_customer_id, "name": row.author_name}
    return {"kind": "system", "id": None, "name": row.author_name}


def _full_text(row: Message) -> str | None:
    """The body as received when the channel cut ``text`` (quotes, signature)."""
    value = (row.meta or {}).get("full_text")
    return value if isinstance(value, str) else None


def _html_simplified(row: Message) -> Json | None:
    """What simplifying the message's HTML left out, or ``None``."""
    value = (row.meta or {}).get("html_simplified")
    if not isinstance(value, dict):
        return None
    return {key: count if isinstance(count := value.get(key), int) and count > 0 else 0
            for key in ("elements_removed", "attributes_removed", "cut_at")}


def message(row: Message) -> Json:
    """A message; ``kind`` is ``inbound``, ``reply`` or ``note`` (internal)."""
    delivery = None
    if row.kind == "reply":
        delivery = {"state": row.delivery_state, "attempts": row.attempts,
                    "last_error": row.last_error, "sent_at": iso(row.sent_at)}
    return {
        "id": row.id,
        "ticket_id": row.ticket_id,
        "kind": row.kind,
        "channel": row.channel,
        "author": _author(row),
        "text": row.text,
        "full_text": _full_text(row),
        "html": row.html,
        "html_simplified": _html_simplified(row),
        "created_at": iso(row.created_at),
        "attachments": [attachment(a) for a in row.attachments],
        "delivery": delivery,
    }


def draft(row: Draft) -> Json:
    """The caller's own draft of a reply or note."""
    return {
        "ticket_id": row.ticket_id,
        "kind": row.kind,
        "text": row.text,
        "html": row.html,
        "status": row.status,
        "template_id": row.template_id,
        "seen_event_id": row.seen_event_id,
        "updated_at": iso(row.updated_at),
    }


def event(row: TicketEvent) -> Json:
    """One history entry of a ticket."""
    return {
        "id": row.id,
        "ticket_id": row.ticket_id,
        "type": row.type,
        "actor": {"kind": row.actor_kind, "agent_id": row.actor_agent_id,
                  "customer_id": row.actor_customer_id, "name": row.actor_name},
        "data": dict(row.data or {}),
        "at": iso(row.at),
    }


def identity(row: ContactIdentity) -> Json:
    return {"id": row.id, "customer_id": row.customer_id, "kind": row.kind, "value": row.value,
            "display": row.display, "created_at": iso(row.created_at)}


def customer(row: Customer) -> Json:
    return {
        "id": row.id,
        "name": row.name,
        "notes": row.notes,
        "attributes": dict(row.attributes or {}),
        "created_at": iso(row.created_at),
        "merged_into_id": row.merged_into_id,
        "identities": [identity(i) for i in row.identities],
    }


def group(row: Group) -> Json:
    return {"id": row.id, "name": row.name, "description": row.description,
            "calendar_id": row.calendar_id, "resolved_reply": row.resolved_reply,
            "created_at": iso(row.created_at)}


def calendar(row: BusinessCalendar) -> Json:
    """A business calendar; periods are in its time zone's wall-clock time."""
    return {
        "id": row.id, "name": row.name, "timezone": row.timezone,
        "periods": [dict(p) for p in row.periods],
        "holidays": [dict(h) for h in row.holidays], "is_default": row.is_default,
        "created_at": iso(row.created_at), "updated_at": iso(row.updated_at),
    }


def agent(row: Agent) -> Json:
    return {
        "id": row.id,
        "name": row.name,
        "email": row.email,
        "user_id": row.user_id,
        "role": row.role,
        "language": row.language,
        "active": row.active,
        "groups": [_ref(g) for g in sorted(row.groups, key=lambda g: g.name)],
        "created_at": iso(row.created_at),
    }


def view(row: SavedView) -> Json:
    return {
        "id": row.id,
        "name": row.name,
        "filters": dict(row.filters or {}),
        "sort": row.sort,
        "position": row.position,
        "shared": row.owner_id is None,
        "owner_id": row.owner_id,
        "created_at": iso(row.created_at),
    }


def token(row: ApiToken, secret: str | None = None) -> Json:
    """An API token; ``secret`` is given only in the answer that created it."""
    out = {
        "id": row.id,
        "agent_id": row.agent_id,
        "name": row.name,
        "prefix": row.prefix,
        "active": row.revoked_at is None,
        "created_at": iso(row.created_at),
        "last_used_at": iso(row.last_used_at),
        "revoked_at": iso(row.revoked_at),
    }
    if secret is not None:
        out["secret"] = secret
    return out


def tag(row: Tag) -> Json:
    return {"id": row.id, "name": row.name}


def channel_account(row: ChannelAccount) -> Json:
    """An account without its secrets (only whether it has any)."""
    return {
        "id": row.id,
        "channel": row.channel,
        "name": row.name,
        "group_id": row.group_id,
        "settings": dict(row.settings or {}),
        "has_secrets": bool(row.secrets),
        "enabled": row.enabled,
        "last_success_at": iso(row.last_success_at),
        "last_error": row.last_error,
        "last_error_at": iso(row.last_error_at),
        "backlog": row.backlog,
        "created_at": iso(row.created_at),
    }


def ingest_result(result: IngestResult) -> Json:
    return {
        "ticket_id": result.ticket_id,
        "message_id": result.message_id,
        "created": result.created,
        "duplicate": result.duplicate,
        "follow_up_of": result.follow_up_of,
    }


def quarantined(row: QuarantinedMessage) -> Json:
    return {
        "id": row.id,
        "channel": row.channel,
        "account": row.account,
        "size": row.size,
        "source": row.source,
        "error": row.error,
        "attempts": row.attempts,
        "imported": row.imported,
        "created_at": iso(row.created_at),
        "last_attempt_at": iso(row.last_attempt_at),
    }


def rule(row: Rule) -> Json:
    return {
        "id": row.id, "name": row.name, "when": dict(row.when),
        "conditions": dict(row.conditions), "actions": list(row.actions),
        "position": row.position, "enabled": row.enabled, "error": row.error,
        "created_at": iso(row.created_at), "updated_at": iso(row.updated_at),
    }


def rule_run(row: RuleRun) -> Json:
    return {
        "id": row.id, "rule_id": row.rule_id, "state": row.state, "total": row.total,
        "done": row.done, "touched": row.touched, "skipped": row.skipped,
        "failed": row.failed, "error": row.error, "created_at": iso(row.created_at),
        "finished_at": iso(row.finished_at),
    }


def reply_template(row: ReplyTemplate) -> Json:
    """A reply template with its files (names and sizes; the bytes stay on the server)."""
    return {
        "id": row.id, "name": row.name, "folder": row.folder, "body": row.body,
        "body_html": row.body_html, "shared": row.shared, "owner_id": row.owner_agent_id,
        "actions": dict(row.actions or {}), "usage_count": row.usage_count,
        "last_used_at": iso(row.last_used_at), "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at), "created_by_id": row.created_by_id,
        "attachments": [{"id": a.id, "filename": a.filename, "content_type": a.content_type,
                         "size": a.size} for a in row.attachments],
    }


def rendered_template(item: Rendered) -> Json:
    """A template filled in for one ticket: what the picker inserts."""
    return {
        "id": item.template.id, "name": item.template.name, "folder": item.template.folder,
        "shared": item.template.shared, "text": item.text, "html": item.html,
        "actions": item.actions, "summary": item.summary,
        "attachments": item.attachments,
    }
