"""The OpenAPI 3.1 document of the REST API, built in Python.

One table, :data:`OPERATIONS`, lists every endpoint with its query
parameters, request body and answer; the component schemas describe every
object :mod:`._serialize` returns and every body the API accepts. The same
document serves three purposes: ``GET <prefix>/api/v1/openapi.json``, the
request checks of :mod:`.api_input` (bodies and query strings are validated
against it), and the schemathesis test that calls every operation with
generated input and checks the answers against it.

Some values depend on the app (channels of the installed plugins, languages,
page sizes), so :func:`document` builds the document once per app.
Module length: it is mostly data, one entry per schema and endpoint.
"""

from __future__ import annotations

import copy
import dataclasses
import typing as t
import weakref

from flask import current_app

from ..extension import get_state
from ..models.agent import RESOLVED_REPLIES
from ..models.agent import ROLES
from ..models.customer import IDENTITY_KINDS
from ..models.draft import DRAFT_KINDS
from ..models.message import DELIVERY_STATES
from ..models.message import MESSAGE_KINDS
from ..models.ticket import PRIORITIES
from ..models.ticket import STATUSES
from ..models.ticket import SUBJECT_MAX
from ..services.calendars import WEEKDAYS
from ..services.markup import MAX_ATTRIBUTES
from ..services.markup import MAX_DEPTH
from ..services.tickets import SUBJECT_PATTERN
from ..services.views import SORTS

if t.TYPE_CHECKING:
    from ..state import HelpdeskState

Json = dict[str, t.Any]

#: Largest id the API accepts (ids are 32-bit integers on every database).
MAX_ID = 2**31 - 1
ID: Json = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
NULLABLE_ID: Json = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID}
DATETIME: Json = {"type": "string", "format": "date-time"}
NULLABLE_DATETIME: Json = {"type": ["string", "null"], "format": "date-time"}
HHMM: Json = {"type": "string", "pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
              "description": "HH:MM; 24:00 ends a period at midnight."}
JSON_OBJECT: Json = {"type": "object"}


#: Text holds no NUL character (databases refuse it): every string's pattern.
NO_NUL = "^[^\\u0000]*$"
#: A JSON object a request may fill freely (attributes, settings, rules): no NUL.
FREE_OBJECT: Json = {"type": "object", "propertyNames": {"type": "string", "pattern": NO_NUL},
                     "additionalProperties": {"$ref": "#/components/schemas/JsonValue"}}


def _s(max_length: int, *, min_length: int = 0, nullable: bool = False) -> Json:
    schema: Json = {"type": ["string", "null"] if nullable else "string",
                    "maxLength": max_length, "pattern": NO_NUL}
    if min_length:
        schema["minLength"] = min_length
    return schema


def _subject() -> Json:
    """A ticket's subject: one line with a visible character."""
    return {**_s(SUBJECT_MAX, min_length=1), "pattern": SUBJECT_PATTERN,
            "description": "One line: no line break (CR, LF, U+2028...) and no NUL."}


def _enum(values: t.Iterable[str], *, nullable: bool = False) -> Json:
    names = list(values)
    if nullable:
        return {"type": ["string", "null"], "enum": [*names, None]}
    return {"type": "string", "enum": names}


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(items: Json, **extra: t.Any) -> Json:
    return {"type": "array", "items": items, **extra}


def _object(properties: Json, required: t.Iterable[str] | None = None,
            description: str = "") -> Json:
    """A closed object; response objects list every property as required."""
    schema: Json = {"type": "object", "properties": properties,
                    "required": list(properties if required is None else required),
                    "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


def _nullable(schema: Json) -> Json:
    return {"anyOf": [schema, {"type": "null"}]}


def _page(item: str, cursor: str = "") -> Json:
    return _object({"items": _array(_ref(item)),
                    "next_cursor": {"type": ["string", "null"], "description": cursor or
                                    "Pass as `cursor` to get the next page; null on the last."}})


def _list(item: str) -> Json:
    return _object({"items": _array(_ref(item))})


# ----------------------------------------------------------------- schemas


def _resolved_reply() -> Json:
    return {**_enum(RESOLVED_REPLIES), "description": (
        "A customer's reply to a resolved ticket of the group: `reopen` reopens it;"
        " `follow_up` opens a new ticket linked to it, as a reply to a closed ticket does.")}


def _response_schemas(state: HelpdeskState) -> Json:
    ref = _object({"id": ID, "name": {"type": "string"}})
    resolved_reply = _resolved_reply()
    agent = _object({
        "id": ID, "name": {"type": "string"}, "email": {"type": ["string", "null"]},
        "user_id": {"type": ["string", "null"]}, "role": _enum(ROLES),
        "language": {"type": ["string", "null"]}, "active": {"type": "boolean"},
        "groups": _array(_ref("Ref")), "created_at": DATETIME,
    })
    me = copy.deepcopy(agent)
    me["properties"]["csrf_token"] = {
        "type": ["string", "null"],
        "description": "Send as `X-CSRF-Token` on changes made with the session cookie;"
                       " null when authenticated by an API token."}
    me["required"].append("csrf_token")
    token = _object({
        "id": ID, "agent_id": ID, "name": {"type": "string"},
        "prefix": {"type": "string", "description": "First characters of the secret."},
        "active": {"type": "boolean"}, "created_at": DATETIME,
        "last_used_at": NULLABLE_DATETIME, "revoked_at": NULLABLE_DATETIME,
    })
    new_token = copy.deepcopy(token)
    new_token["properties"]["secret"] = {
        "type": "string", "description": "The token; shown only in this answer."}
    new_token["required"].append("secret")
    return {
        "Error": _object({"error": _object({
            "code": {"type": "string", "description": "Stable, for programs."},
            "message": {"type": "string", "description": "Translated, for people."},
            "field": {"type": "string", "description": "The input at fault."},
            "details": {"type": "object"},
        }, required=["code", "message"])}),
        "Ref": ref,
        "Ticket": _object({
            "id": {**ID, "description": "The ticket number."},
            "subject": {"type": "string"}, "status": _enum(STATUSES),
            "priority": _enum(PRIORITIES), "channel": {"type": "string"},
            "customer": _ref("Ref"), "group": _nullable(_ref("Ref")),
            "assignee": _nullable(_ref("Ref")), "tags": _array({"type": "string"}),
            "created_at": DATETIME, "updated_at": DATETIME, "status_changed_at": DATETIME,
            "last_customer_message_at": NULLABLE_DATETIME,
            "last_agent_reply_at": NULLABLE_DATETIME,
            "follow_up_of_id": NULLABLE_ID, "merged_into_id": NULLABLE_ID,
            "custom_fields": JSON_OBJECT,
        }),
        "TicketPage": _page("Ticket"),
        "Attachment": _object({
            "id": ID, "filename": {"type": "string"}, "content_type": {"type": "string"},
            "size": {"type": "integer", "minimum": 0}, "inline": {"type": "boolean"},
            "content_id": {"type": ["string", "null"], "description": (
                "The id that the message's HTML uses as `cid:` to show this file inline.")},
            "url": {"type": "string", "description": "Where to download the file."},
        }),
        "Message": _object({
            "id": ID, "ticket_id": ID, "kind": _enum(MESSAGE_KINDS),
            "channel": {"type": "string"},
            "author": _object({"kind": _enum(["agent", "customer", "system"]),
                               "id": NULLABLE_ID, "name": {"type": "string"}}),
            "text": {"type": "string", "description": (
                "What the author wrote. For email, the new text only: quoted history"
                " and signature are cut (see `full_text`).")},
            "full_text": {"type": ["string", "null"], "description": (
                "The whole text as received, quoted history and signature included;"
                " null when the channel keeps none (replies, notes, most chats).")},
            "html": {"type": ["string", "null"], "description": (
                "Sanitized HTML, in full. Inline images are `cid:` references to the"
                " `content_id` of an attachment of the message.")},
            "html_simplified": _nullable(_object({
                "elements_removed": {"type": "integer", "minimum": 0, "description": (
                    f"Elements nested deeper than {MAX_DEPTH} levels, left out"
                    " (their text kept).")},
                "attributes_removed": {"type": "integer", "minimum": 0, "description": (
                    f"Attributes past {MAX_ATTRIBUTES} on one element, left out.")},
                "cut_at": {"type": "integer", "minimum": 0, "description": (
                    "When the HTML was too long: how many characters were kept; else 0.")},
            }, description="What was left out of the HTML before it was sanitized;"
                           " null when nothing was.")),
            "created_at": DATETIME, "attachments": _array(_ref("Attachment")),
            "delivery": _nullable(_object({
                "state": _enum(DELIVERY_STATES),
                "attempts": {"type": "integer", "minimum": 0},
                "last_error": {"type": ["string", "null"]}, "sent_at": NULLABLE_DATETIME,
            }, description="Delivery of a public reply; null for other kinds.")),
        }),
        "MessagePage": _page("Message"),
        "Draft": _object({
            "ticket_id": ID, "kind": _enum(DRAFT_KINDS),
            "text": {"type": "string"}, "html": {"type": ["string", "null"]},
            "status": _enum(STATUSES, nullable=True), "template_id": NULLABLE_ID,
            "seen_event_id": {"type": ["integer", "null"], "minimum": 0},
            "updated_at": DATETIME,
        }, description="Your unsent reply or note; nobody else sees it."),
        "Event": _object({
            "id": ID, "ticket_id": ID, "type": {"type": "string"},
            "actor": _object({"kind": {"type": "string"}, "agent_id": NULLABLE_ID,
                              "customer_id": NULLABLE_ID, "name": {"type": "string"}}),
            "data": JSON_OBJECT, "at": DATETIME,
        }),
        "EventPage": _page("Event"),
        "Identity": _object({
            "id": ID, "customer_id": ID, "kind": {"type": "string"},
            "value": {"type": "string", "description": "Normalized (lower-case email...)."},
            "display": {"type": "string"}, "created_at": DATETIME,
        }),
        "Customer": _object({
            "id": ID, "name": {"type": "string"}, "notes": {"type": "string"},
            "attributes": JSON_OBJECT, "created_at": DATETIME, "merged_into_id": NULLABLE_ID,
            "identities": _array(_ref("Identity")),
        }),
        "CustomerPage": _page("Customer"),
        "Group": _object({"id": ID, "name": {"type": "string"},
                          "description": {"type": "string"}, "calendar_id": {
                              **NULLABLE_ID, "description": "Null: the default calendar."},
                          "resolved_reply": resolved_reply, "created_at": DATETIME}),
        "GroupList": _list("Group"),
        "Agent": agent,
        "AgentList": _list("Agent"),
        "Me": me,
        "View": _object({
            "id": ID, "name": {"type": "string"}, "filters": JSON_OBJECT,
            "sort": _enum(SORTS), "position": {"type": "integer", "minimum": 0},
            "shared": {"type": "boolean"}, "owner_id": NULLABLE_ID, "created_at": DATETIME,
        }),
        "ViewList": _list("View"),
        "ViewCountList": _list("ViewCount"),
        "ViewCount": _object({"view_id": ID, "count": {"type": "integer", "minimum": 0}}),
        "Token": token,
        "NewToken": new_token,
        "TokenList": _list("Token"),
        "Tag": _object({"id": ID, "name": {"type": "string"}}),
        "TagPage": _page("Tag"),
        "ChannelAccount": _object({
            "id": ID, "channel": {"type": "string"}, "name": {"type": "string"},
            "group_id": NULLABLE_ID, "settings": JSON_OBJECT,
            "has_secrets": {"type": "boolean", "description":
                            "Secrets are stored encrypted and never returned."},
            "enabled": {"type": "boolean"}, "last_success_at": NULLABLE_DATETIME,
            "last_error": {"type": "string"}, "last_error_at": NULLABLE_DATETIME,
            "backlog": {"type": "integer", "minimum": 0}, "created_at": DATETIME,
        }),
        "ChannelAccountList": _list("ChannelAccount"),
        "QuarantinedMessage": _object({
            "id": ID, "channel": {"type": "string"}, "account": {"type": "string"},
            "size": {"type": "integer", "minimum": 0}, "source": {"type": "string"},
            "error": {"type": "string"}, "attempts": {"type": "integer", "minimum": 0},
            "imported": {"type": "boolean", "description":
                         "It failed during an archive import; a retry ingests it as imported"
                         " history (no event rule runs on it)."},
            "created_at": DATETIME, "last_attempt_at": DATETIME,
        }),
        "QuarantinePage": _page("QuarantinedMessage"),
        "IngestResult": _object({
            "ticket_id": ID, "message_id": ID,
            "created": {"type": "boolean", "description": "A new ticket was opened."},
            "duplicate": {"type": "boolean", "description":
                          "The message was ingested before; nothing changed."},
            "follow_up_of": NULLABLE_ID,
        }),
        "Rule": _object({
            "id": ID, "name": {"type": "string"}, "when": JSON_OBJECT,
            "conditions": JSON_OBJECT, "actions": _array(JSON_OBJECT),
            "position": {"type": "integer", "minimum": 0}, "enabled": {"type": "boolean"},
            "error": {"type": ["string", "null"]}, "created_at": DATETIME,
            "updated_at": DATETIME,
        }),
        "RuleList": _list("Rule"),
        "ReplyTemplate": _object({
            "id": ID, "name": {"type": "string"},
            "folder": {"type": "string", "description": "A path like `Billing/Refunds`."},
            "body": {"type": "string", "description": "Text with placeholders."},
            "body_html": {"type": ["string", "null"]},
            "shared": {"type": "boolean", "description": "False: personal to `owner_id`."},
            "owner_id": NULLABLE_ID, "actions": _ref("TemplateActions"),
            "usage_count": {"type": "integer", "minimum": 0},
            "last_used_at": NULLABLE_DATETIME, "created_at": DATETIME, "updated_at": DATETIME,
            "created_by_id": NULLABLE_ID,
            "attachments": _array(_object({
                "id": ID, "filename": {"type": "string"}, "content_type": {"type": "string"},
                "size": {"type": "integer", "minimum": 0}})),
        }),
        "ReplyTemplateList": _list("ReplyTemplate"),
        "RenderedTemplate": _object({
            "id": ID, "name": {"type": "string"}, "folder": {"type": "string"},
            "shared": {"type": "boolean"},
            "text": {"type": "string", "description": "Placeholders filled for the ticket."},
            "html": {"type": ["string", "null"]}, "actions": _ref("TemplateActions"),
            "summary": _array({"type": "string"}, description="The actions in words."),
            "attachments": _array({"type": "string"}, description="File names."),
        }),
        "Calendar": _object({
            "id": ID, "name": {"type": "string"},
            "timezone": {"type": "string", "description": "IANA name, e.g. Europe/Berlin."},
            "periods": _array(_ref("Period")),
            "holidays": _array(_object({"date": {"type": "string", "format": "date"},
                                        "name": {"type": "string"}})),
            "is_default": {"type": "boolean"}, "created_at": DATETIME, "updated_at": DATETIME,
        }),
        "CalendarList": _list("Calendar"),
        "Period": _object({"weekday": _enum(WEEKDAYS), "start": HHMM, "end": HHMM},
                          description="Local wall-clock time; never across midnight."),
        "DryRun": _object({"total": {"type": "integer", "minimum": 0},
                           "ticket_ids": _array(ID)}),
        "RuleRun": _object({
            "id": ID, "rule_id": ID, "state": _enum(["queued", "running", "done", "failed"]),
            **{k: {"type": "integer", "minimum": 0}
               for k in ("total", "done", "touched", "skipped", "failed")},
            "error": {"type": ["string", "null"]}, "created_at": DATETIME,
            "finished_at": NULLABLE_DATETIME,
        }),
    }


def _request_schemas(state: HelpdeskState) -> Json:
    schemas = _request_bodies(state)
    for name, schema in schemas.items():
        if name.endswith("Update"):  # PATCH: at least one field to change
            schema["minProperties"] = 1
    return schemas


def _request_bodies(state: HelpdeskState) -> Json:
    config = state.config
    tags = _array(_s(50, min_length=1), maxItems=100)
    text, html = _s(200_000), _s(1_000_000, nullable=True)
    resolved_reply = _resolved_reply()
    attachments = _array(_ref("AttachmentUpload"),
                         maxItems=config.max_attachments_per_message)
    position = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
    calendar: Json = {
        "name": _s(100, min_length=1), "timezone": _s(64, min_length=1),
        "periods": _array(_ref("Period"), maxItems=70),
        "holidays": _array(_object({"date": {"type": "string", "format": "date"},
                                    "name": _s(100)}, required=["date"]), maxItems=1000),
        "is_default": {"type": "boolean", "description": "Unmarks the previous default."},
    }
    agent: Json = {
        "name": _s(200, min_length=1), "email": _s(320, nullable=True),
        "role": _enum(ROLES), "groups": _array(ID, uniqueItems=True, maxItems=200),
        "language": _enum(config.languages, nullable=True),
    }
    return {
        "JsonValue": {"anyOf": [
            {"type": "string", "pattern": NO_NUL}, {"type": ["number", "boolean", "null"]},
            {"type": "array", "items": _ref("JsonValue")}, FREE_OBJECT,
        ], "description": "Any JSON value without a NUL character."},
        "AttachmentUpload": _object({
            "filename": _s(255, min_length=1),
            "content_type": _s(200),
            "data": {"type": "string", "contentEncoding": "base64",
                     "pattern": "^[A-Za-z0-9+/=\\s]*$",
                     "description": "The file's bytes, base64-encoded."},
        }, required=["filename", "data"]),
        "TicketCreate": _object({
            "customer_id": ID, "subject": _subject(), "text": text,
            "html": html, "channel": _enum(sorted(state.channels)),
            "group_id": NULLABLE_ID, "assignee_id": NULLABLE_ID,
            "priority": _enum(PRIORITIES),
            "status": _enum(["open", "pending", "on_hold"]),
            "tags": tags, "attachments": attachments,
        }, required=["customer_id", "subject"]),
        "TicketUpdate": _object({
            "subject": _subject(), "status": _enum(STATUSES),
            "priority": _enum(PRIORITIES), "group_id": NULLABLE_ID,
            "assignee_id": NULLABLE_ID, "add_tags": tags, "remove_tags": tags,
            "custom_fields": {
                "type": "object", "propertyNames": _s(64, min_length=1),
                "additionalProperties": {"type": ["string", "number", "boolean", "null"],
                                         "pattern": NO_NUL},
                "description": "Merged into the ticket's fields; null removes a field.",
            },
        }, required=()),
        "Reply": _object({
            "text": text, "html": html, "status": _enum(STATUSES, nullable=True),
            "seen_event_id": {**NULLABLE_ID, "description":
                              "The newest event the author saw; see Conflicts."},
            "confirm": {"type": "boolean"}, "attachments": attachments,
            "template_id": {**NULLABLE_ID, "description":
                            "The reply template used: its actions, files and a use count."},
        }, required=()),
        "Note": _object({
            "text": text, "html": html, "seen_event_id": NULLABLE_ID,
            "confirm": {"type": "boolean"}, "attachments": attachments,
        }, required=()),
        "DraftSave": _object({
            "text": _s(config.draft_max_chars), "html": _s(config.draft_max_chars, nullable=True),
            "status": {**_enum(STATUSES, nullable=True),
                       "description": "The reply's \"and set status\" (replies only)."},
            "template_id": {**NULLABLE_ID, "description": "The reply template chosen"
                            " (replies only)."},
            "seen_event_id": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_ID,
                              "description": "The newest event seen while writing; sent"
                                             " with the reply later, it meets the guard."},
        }, required=(), description="Text and HTML together at most"
                                    f" {config.draft_max_chars} characters."),
        "Reassign": _object({"group_id": NULLABLE_ID, "assignee_id": NULLABLE_ID,
                             "note": _s(100_000, min_length=1)}, required=["note"]),
        "Merge": _object({"into_id": ID}),
        "CustomerCreate": _object({
            "name": _s(200), "notes": _s(20_000), "attributes": FREE_OBJECT,
            "identities": _array(_ref("IdentityCreate"), maxItems=50),
        }, required=()),
        "CustomerUpdate": _object({"name": _s(200), "notes": _s(20_000),
                                   "attributes": FREE_OBJECT}, required=()),
        "IdentityCreate": _object({
            "kind": {**_enum(sorted({*IDENTITY_KINDS, *state.channels})),
                     "description": "A contact kind, or the name of an installed channel."},
            "value": _s(320, min_length=1),
        }),
        "GroupCreate": _object({"name": _s(100, min_length=1), "description": _s(2000),
                                "calendar_id": NULLABLE_ID, "resolved_reply": resolved_reply},
                               required=["name"]),
        "GroupUpdate": _object({"name": _s(100, min_length=1), "description": _s(2000),
                                "calendar_id": NULLABLE_ID, "resolved_reply": resolved_reply},
                               required=()),
        "CalendarCreate": _object(calendar, required=["name", "timezone"]),
        "CalendarUpdate": _object(calendar, required=()),
        "AgentCreate": _object({**agent, "user_id": _s(200, nullable=True)},
                               required=["name"]),
        "AgentUpdate": _object({**agent, "active": {"type": "boolean"}}, required=()),
        "TicketFilter": _object({
            "status": _array(_enum(STATUSES)),
            "priority": _array(_enum(PRIORITIES)),
            "assignee": _array({"anyOf": [ID, _enum(["me", "none"])]}),
            "group": _array({"anyOf": [ID, _enum(["none"])]}),
            "tags": tags, "channel": _array(_s(30)), "customer": NULLABLE_ID,
            "q": _s(200, nullable=True),
            "created_after": NULLABLE_DATETIME, "created_before": NULLABLE_DATETIME,
            "updated_after": NULLABLE_DATETIME, "updated_before": NULLABLE_DATETIME,
        }, required=(), description="The filters of GET /tickets, as a JSON object."),
        "ViewCreate": _object({
            "name": _s(100, min_length=1), "filters": _ref("TicketFilter"),
            "sort": _enum(SORTS), "position": position,
            "shared": {"type": "boolean", "description": "Shared views: managers only."},
        }, required=["name"]),
        "ViewUpdate": _object({"name": _s(100, min_length=1), "filters": _ref("TicketFilter"),
                               "sort": _enum(SORTS), "position": position},
                              required=()),
        "ChannelAccountCreate": _object({
            "channel": _enum(sorted(state.channels)), "name": _s(100, min_length=1),
            "group_id": NULLABLE_ID, "settings": FREE_OBJECT,
            "secrets": {**FREE_OBJECT, "description": "Stored encrypted; never returned."},
            "enabled": {"type": "boolean"},
        }, required=["channel", "name"]),
        "ChannelAccountUpdate": _object({
            "name": _s(100, min_length=1), "group_id": NULLABLE_ID, "settings": FREE_OBJECT,
            "secrets": {**FREE_OBJECT, "description": "Replaces every stored secret."},
            "enabled": {"type": "boolean"},
        }, required=()),
        "RuleCreate": _object({
            "name": _s(100, min_length=1),
            "when": {**FREE_OBJECT, "description": "See docs/rules.rst."},
            "conditions": FREE_OBJECT, "actions": _array(FREE_OBJECT),
            "position": position, "enabled": {"type": "boolean"},
        }, required=["name", "when", "actions"]),
        "RuleUpdate": _object({
            "name": _s(100, min_length=1), "when": FREE_OBJECT, "conditions": FREE_OBJECT,
            "actions": _array(FREE_OBJECT), "position": position,
            "enabled": {"type": "boolean"},
        }, required=()),
        "TemplateActions": _object({
            "status": _enum(STATUSES), "priority": _enum(PRIORITIES),
            "add_tags": tags, "remove_tags": tags,
            "assignee_id": NULLABLE_ID, "group_id": NULLABLE_ID,
        }, required=(), description="What sending the template also does to the ticket."),
        "TemplateCreate": _object({
            "name": _s(100, min_length=1), "folder": _s(200),
            "body": _s(20_000, min_length=1), "body_html": _s(100_000, nullable=True),
            "shared": {"type": "boolean", "description": "Shared templates: managers only."},
            "actions": _ref("TemplateActions"), "attachments": attachments,
        }, required=["name", "body"]),
        "TemplateUpdate": _object({
            "name": _s(100, min_length=1), "folder": _s(200),
            "body": _s(20_000, min_length=1), "body_html": _s(100_000, nullable=True),
            "shared": {"type": "boolean"}, "actions": _ref("TemplateActions"),
            "attachments": {**attachments, "description": "Files to add."},
            "remove_attachments": _array(ID, uniqueItems=True, maxItems=100,
                                         description="Ids of files to remove."),
        }, required=()),
        "TokenCreate": _object({
            "agent_id": {**ID, "description": "Default: yourself (admins: anyone)."},
            "name": _s(100, min_length=1),
        }, required=["name"]),
    }


# -------------------------------------------------------------- parameters


def _id_words(*words: str) -> Json:
    return {"type": "string", "pattern": f"^({'|'.join(words)}|[1-9][0-9]{{0,8}})$"}


def _query_schemas(state: HelpdeskState) -> dict[str, tuple[Json, str]]:
    config = state.config
    return {
        "status": (_array(_enum(STATUSES)), "Any of these statuses."),
        "priority": (_array(_enum(PRIORITIES)), "Any of these priorities."),
        "assignee": (_array(_id_words("me", "none")),
                     "Agent ids, `me`, `none` (unassigned)."),
        "group": (_array(_id_words("none")), "Group ids, `none` (no group)."),
        "tags": (_array(_s(50, min_length=1)), "Every one of these tags."),
        "channel": (_array(_enum(sorted(state.channels))), "Any of these channels."),
        "customer": (ID, "Tickets of this customer."),
        "q": (_s(200), "Words in the subject, the messages or the customer's contacts."),
        "created_after": (DATETIME, "ISO 8601; inclusive."),
        "created_before": (DATETIME, "ISO 8601; exclusive."),
        "updated_after": (DATETIME, "ISO 8601; inclusive."),
        "updated_before": (DATETIME, "ISO 8601; exclusive."),
        "sort": (_enum(SORTS), "Order; `-` means newest or highest first."),
        "cursor": ({"type": "string", "pattern": "^[0-9]{1,10}$"},
                   "`next_cursor` of the previous page: the last id it listed."),
        "ticket_cursor": ({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,1000}$"},
                          "`next_cursor` of the previous page (opaque; a forged one is"
                          " a 422)."),
        "tag_cursor": (_s(50), "`next_cursor` of the previous page: the last name it listed."),
        "limit": ({"type": "integer", "minimum": 1, "maximum": config.max_page_size},
                  f"Page size (default {config.page_size})."),
        "include_inactive": ({"type": "boolean"}, "Include deactivated agents."),
        "agent_id": (ID, "Whose tokens (default: yours; other agents: admins only)."),
        "prefix": (_s(50), "Names starting with this."),
        "folder": (_s(200), "Only this folder and its subfolders."),
        "ticket_id": (ID, "The ticket to fill the placeholders for (required)."),
    }


#: Path parameters that are not ids.
PATH_SCHEMAS: dict[str, Json] = {"kind": _enum(DRAFT_KINDS)}

#: Query keys of :func:`_query_schemas` sent under another name.
PARAM_NAMES = {"ticket_cursor": "cursor", "tag_cursor": "cursor"}

TICKET_FILTERS = ("status", "priority", "assignee", "group", "tags", "channel", "customer",
                  "q", "created_after", "created_before", "updated_after", "updated_before")
PAGE = ("cursor", "limit")
TICKET_PAGE = ("ticket_cursor", "limit")


# -------------------------------------------------------------- operations


@dataclasses.dataclass(frozen=True)
class Operation:
    """One endpoint: ``path`` is relative to the API root, OpenAPI style."""

    id: str
    method: str
    path: str
    summary: str
    tag: str
    response: str | None = None
    status: int = 200
    query: tuple[str, ...] = ()
    body: str | None = None
    multipart: bool = False
    public: bool = False
    description: str = ""
    #: Other success statuses (204: no content).
    also: tuple[int, ...] = ()


OPERATIONS: tuple[Operation, ...] = (
    Operation("listTickets", "get", "/tickets", "List tickets", "tickets", "TicketPage",
              query=(*TICKET_FILTERS, "sort", *TICKET_PAGE),
              description="Filters combine with AND; repeated values or comma lists OR."),
    Operation("createTicket", "post", "/tickets", "Open a ticket for a customer", "tickets",
              "Ticket", 201, body="TicketCreate", multipart=True),
    Operation("getTicket", "get", "/tickets/{ticket_id}", "Get a ticket", "tickets", "Ticket"),
    Operation("updateTicket", "patch", "/tickets/{ticket_id}", "Change a ticket", "tickets",
              "Ticket", body="TicketUpdate"),
    Operation("replyToTicket", "post", "/tickets/{ticket_id}/reply",
              "Send a public reply", "tickets", "Message", 201, body="Reply", multipart=True,
              description="409 when a public message newer than `seen_event_id` exists and"
                          " `confirm` is not true."),
    Operation("addNote", "post", "/tickets/{ticket_id}/notes", "Add an internal note",
              "tickets", "Message", 201, body="Note", multipart=True),
    Operation("getDraft", "get", "/tickets/{ticket_id}/drafts/{kind}",
              "Your draft of a reply or note on the ticket", "tickets", "Draft",
              description="404 when you have none."),
    Operation("saveDraft", "put", "/tickets/{ticket_id}/drafts/{kind}",
              "Keep your draft of a reply or note (replaces it)", "tickets", "Draft",
              body="DraftSave", also=(204,),
              description="204 when text and HTML are empty: the draft is discarded. 409"
                          " when you sent a reply (note) after `seen_event_id`: the save"
                          " comes too late and is not kept. Attachments are not kept."),
    Operation("deleteDraft", "delete", "/tickets/{ticket_id}/drafts/{kind}",
              "Discard your draft", "tickets", status=204),
    Operation("reassignTicket", "post", "/tickets/{ticket_id}/reassign",
              "Hand a ticket to another group or agent, with a note", "tickets", "Ticket",
              body="Reassign"),
    Operation("mergeTicket", "post", "/tickets/{ticket_id}/merge",
              "Merge this ticket into another of the same customer", "tickets", "Ticket",
              body="Merge"),
    Operation("listTicketMessages", "get", "/tickets/{ticket_id}/messages",
              "Messages and notes, oldest first", "tickets", "MessagePage", query=PAGE),
    Operation("listTicketEvents", "get", "/tickets/{ticket_id}/events",
              "The ticket's history, oldest first", "tickets", "EventPage", query=PAGE),
    Operation("getAttachment", "get", "/attachments/{attachment_id}",
              "Download an attachment", "tickets"),
    Operation("retryMessage", "post", "/messages/{message_id}/retry",
              "Queue a failed reply for delivery again", "tickets", "Message"),
    Operation("listCustomers", "get", "/customers", "List customers", "customers",
              "CustomerPage", query=("q", *PAGE)),
    Operation("createCustomer", "post", "/customers", "Create a customer", "customers",
              "Customer", 201, body="CustomerCreate"),
    Operation("getCustomer", "get", "/customers/{customer_id}", "Get a customer",
              "customers", "Customer"),
    Operation("updateCustomer", "patch", "/customers/{customer_id}", "Change a customer",
              "customers", "Customer", body="CustomerUpdate"),
    Operation("listCustomerTickets", "get", "/customers/{customer_id}/tickets",
              "The customer's tickets", "customers", "TicketPage",
              query=("sort", *TICKET_PAGE)),
    Operation("addIdentity", "post", "/customers/{customer_id}/identities",
              "Add a contact identity", "customers", "Identity", 201, body="IdentityCreate"),
    Operation("removeIdentity", "delete", "/identities/{identity_id}",
              "Remove a contact identity", "customers", status=204),
    Operation("mergeCustomer", "post", "/customers/{customer_id}/merge",
              "Merge this customer into another (managers)", "customers", "Customer",
              body="Merge"),
    Operation("listGroups", "get", "/groups", "List groups", "agents", "GroupList"),
    Operation("createGroup", "post", "/groups", "Create a group (admins)", "agents", "Group",
              201, body="GroupCreate"),
    Operation("updateGroup", "patch", "/groups/{group_id}", "Change a group (admins)",
              "agents", "Group", body="GroupUpdate"),
    Operation("listAgents", "get", "/agents", "List agents", "agents", "AgentList",
              query=("include_inactive",)),
    Operation("createAgent", "post", "/agents", "Create an agent (admins)", "agents", "Agent",
              201, body="AgentCreate"),
    Operation("getAgent", "get", "/agents/{agent_id}", "Get an agent", "agents", "Agent"),
    Operation("updateAgent", "patch", "/agents/{agent_id}",
              "Change an agent (admins; anyone their own language)", "agents", "Agent",
              body="AgentUpdate"),
    Operation("getMe", "get", "/me", "The authenticated agent and a CSRF token", "agents",
              "Me"),
    Operation("listTags", "get", "/tags", "Tags in use, by name", "tickets", "TagPage",
              query=("prefix", "tag_cursor", "limit")),
    Operation("listViews", "get", "/views", "Shared views and yours", "views", "ViewList"),
    Operation("createView", "post", "/views", "Save a view", "views", "View", 201,
              body="ViewCreate"),
    Operation("getView", "get", "/views/{view_id}", "Get a view", "views", "View"),
    Operation("updateView", "patch", "/views/{view_id}", "Change a view", "views", "View",
              body="ViewUpdate"),
    Operation("deleteView", "delete", "/views/{view_id}", "Delete a view", "views",
              status=204),
    Operation("listViewTickets", "get", "/views/{view_id}/tickets",
              "The tickets of a view, in its order", "views", "TicketPage", query=TICKET_PAGE),
    Operation("countViews", "get", "/views/counts", "Ticket count of every view", "views",
              "ViewCountList"),
    Operation("listRules", "get", "/rules", "Rules in run order (managers)", "rules",
              "RuleList"),
    Operation("createRule", "post", "/rules", "Add a rule (managers)", "rules", "Rule", 201,
              body="RuleCreate"),
    Operation("getRule", "get", "/rules/{rule_id}", "Get a rule", "rules", "Rule"),
    Operation("updateRule", "patch", "/rules/{rule_id}", "Change, enable or pause a rule",
              "rules", "Rule", body="RuleUpdate"),
    Operation("deleteRule", "delete", "/rules/{rule_id}", "Delete a rule", "rules",
              status=204),
    Operation("dryRunRule", "get", "/rules/{rule_id}/dry-run",
              "The tickets the rule would touch now", "rules", "DryRun", query=("limit",)),
    Operation("runRule", "post", "/rules/{rule_id}/run",
              "Run the rule over every matching ticket, in the background", "rules",
              "RuleRun", 202),
    Operation("getRuleRun", "get", "/rule-runs/{run_id}", "Progress of a rule run", "rules",
              "RuleRun"),
    Operation("listTemplates", "get", "/templates",
              "Shared reply templates and yours, most used first", "templates",
              "ReplyTemplateList", query=("q", "folder")),
    Operation("createTemplate", "post", "/templates",
              "Save a reply template (shared: managers)", "templates", "ReplyTemplate", 201,
              body="TemplateCreate", multipart=True),
    Operation("getTemplate", "get", "/templates/{template_id}", "Get a reply template",
              "templates", "ReplyTemplate"),
    Operation("updateTemplate", "patch", "/templates/{template_id}",
              "Change a reply template (shared: managers)", "templates", "ReplyTemplate",
              body="TemplateUpdate", multipart=True),
    Operation("deleteTemplate", "delete", "/templates/{template_id}",
              "Delete a reply template (shared: managers)", "templates", status=204),
    Operation("renderTemplate", "get", "/templates/{template_id}/render",
              "A template filled in for a ticket, with its actions in words", "templates",
              "RenderedTemplate", query=("ticket_id",)),
    Operation("listCalendars", "get", "/calendars", "Business calendars (managers)",
              "calendars", "CalendarList"),
    Operation("createCalendar", "post", "/calendars", "Add a business calendar (admins)",
              "calendars", "Calendar", 201, body="CalendarCreate"),
    Operation("getCalendar", "get", "/calendars/{calendar_id}", "Get a calendar (managers)",
              "calendars", "Calendar"),
    Operation("updateCalendar", "patch", "/calendars/{calendar_id}",
              "Change a calendar (admins)", "calendars", "Calendar", body="CalendarUpdate"),
    Operation("deleteCalendar", "delete", "/calendars/{calendar_id}",
              "Delete a calendar no rule names (admins)", "calendars", status=204),
    Operation("listTokens", "get", "/tokens", "API tokens", "tokens", "TokenList",
              query=("agent_id",)),
    Operation("createToken", "post", "/tokens", "Create an API token", "tokens", "NewToken",
              201, body="TokenCreate"),
    Operation("revokeToken", "delete", "/tokens/{token_id}", "Revoke an API token", "tokens",
              status=204),
    Operation("listChannelAccounts", "get", "/channel-accounts", "Channel accounts (admins)",
              "channels", "ChannelAccountList"),
    Operation("createChannelAccount", "post", "/channel-accounts",
              "Add a channel account (admins)", "channels", "ChannelAccount", 201,
              body="ChannelAccountCreate"),
    Operation("getChannelAccount", "get", "/channel-accounts/{account_id}",
              "Get a channel account (admins)", "channels", "ChannelAccount"),
    Operation("updateChannelAccount", "patch", "/channel-accounts/{account_id}",
              "Change a channel account (admins)", "channels", "ChannelAccount",
              body="ChannelAccountUpdate"),
    Operation("listQuarantine", "get", "/quarantine",
              "Inbound messages that failed, newest first (admins)", "channels",
              "QuarantinePage", query=PAGE),
    Operation("retryQuarantined", "post", "/quarantine/{item_id}/retry",
              "Read and ingest a quarantined message again (admins)", "channels",
              "IngestResult", description="On success the entry leaves the quarantine. 422"
              " (`retry_failed`) when it still fails: the entry stays, with the new error and"
              " one more attempt; 422 (`validation_error`) when no plugin of its channel reads"
              " messages again."),
    Operation("discardQuarantined", "delete", "/quarantine/{item_id}",
              "Discard a quarantined message (admins)", "channels", status=204),
    Operation("getOpenAPI", "get", "/openapi.json", "This document", "meta", public=True),
)

_ERRORS = {
    400: "Malformed JSON, a wrong type, a missing or unknown field (`invalid_request`).",
    401: "No valid credentials (`unauthenticated`, `invalid_token`).",
    403: "Not allowed (`permission_denied`, `not_an_agent`, `csrf_failed`).",
    404: "No such object, or no such address (`not_found`).",
    409: "Clashes with the current state (`conflict`).",
    413: "The body or an attachment is too large (`request_too_large`).",
    415: "The body is neither JSON nor multipart/form-data.",
    422: "A value is invalid or not allowed now (`validation_error`).",
}


def _operation_object(op: Operation, queries: Json, schemas: Json) -> Json:
    out: Json = {"operationId": op.id, "summary": op.summary, "tags": [op.tag]}
    if op.description:
        out["description"] = op.description
    params = [{"name": name, "in": "path", "required": True,
               "schema": PATH_SCHEMAS.get(name, ID)} for name in _path_names(op.path)]
    for key in op.query:
        schema, description = queries[key]
        param = {"name": PARAM_NAMES.get(key, key), "in": "query", "required": False,
                 "schema": schema, "description": description}
        if schema.get("type") == "array":
            param.update(style="form", explode=True)
        params.append(param)
    if params:
        out["parameters"] = params
    if op.body:
        content = {"application/json": {"schema": _ref(op.body)}}
        if op.multipart:
            content["multipart/form-data"] = {"schema": _ref(f"{op.body}Form")}
        schema = schemas[op.body]
        needed = bool(schema.get("required") or schema.get("minProperties"))
        out["requestBody"] = {"required": needed, "content": content}
    out["responses"] = _responses(op)
    if op.public:
        out["security"] = []
    elif op.method != "get":
        out["security"] = [{"token": []}, {"session": [], "csrf": []}]
    return out


def _responses(op: Operation) -> Json:
    if op.status == 204:
        ok: Json = {"description": "Done; no content."}
    elif op.id == "getAttachment":
        ok = {"description": "The file, as a download.",
              "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
    elif op.id == "getOpenAPI":
        ok = {"description": "This document.",
              "content": {"application/json": {"schema": {"type": "object"}}}}
    else:
        ok = {"description": "OK", "content": {"application/json": {
            "schema": _ref(t.cast(str, op.response))}}}
    out: Json = {str(op.status): ok}
    for code in op.also:
        out[str(code)] = {"description": "Done; no content."}
    codes = [400, 404] if op.public else [400, 401, 403, 404, 422]
    if op.method != "get":
        codes += [409, 413, 415]
    for code in sorted(codes):
        out[str(code)] = {"$ref": f"#/components/responses/E{code}"}
    return out


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _form_variant(schema: Json) -> Json:
    """The multipart/form-data shape of a JSON body: files instead of base64."""
    form = copy.deepcopy(schema)
    for prop in form["properties"].values():
        if isinstance(prop.get("type"), list):
            prop["type"] = [k for k in prop["type"] if k != "null"][0]
        if "enum" in prop:
            prop["enum"] = [v for v in prop["enum"] if v is not None]
    # A form cannot tell an empty list from a field not sent, so a PATCH form
    # without a field is a change of nothing.
    form.pop("minProperties", None)
    form["properties"]["attachments"] = _array({"type": "string", "format": "binary"})
    return form


def build_document(state: HelpdeskState) -> Json:
    """Build the OpenAPI 3.1 document for the app of ``state``."""
    queries = _query_schemas(state)
    schemas = {**_response_schemas(state), **_request_schemas(state)}
    for op in OPERATIONS:
        if op.multipart and op.body:
            schemas[f"{op.body}Form"] = _form_variant(schemas[op.body])
    paths: Json = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation_object(op, queries, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "flask-helpdesk REST API", "version": "1.0.0",
                 "description": "The helpdesk's JSON API for agents. See docs/rest_api.rst."},
        "servers": [{"url": f"{state.config.url_prefix.rstrip('/')}/api/v1"}],
        "security": [{"token": []}, {"session": []}],
        "tags": [{"name": n} for n in ("tickets", "customers", "agents", "views", "channels",
                                       "rules", "templates", "calendars", "tokens",
                                       "meta")],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {f"E{code}": {"description": text, "content": {
                "application/json": {"schema": _ref("Error")}}} for code, text in
                _ERRORS.items()},
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer",
                          "description": "An API token, `hdk_...`."},
                "session": {"type": "apiKey", "in": "cookie",
                            "name": state.app.config.get("SESSION_COOKIE_NAME", "session"),
                            "description": "The host's Flask-Login session."},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                         "description": "`csrf_token` of GET /me; needed with the session"
                                        " on POST, PATCH and DELETE."},
            },
        },
    }


_documents: weakref.WeakKeyDictionary[HelpdeskState, Json] = weakref.WeakKeyDictionary()


def document(state: HelpdeskState | None = None) -> Json:
    """The document of the current app (built once, then cached). Do not mutate it."""
    state = state or get_state(current_app._get_current_object())  # type: ignore[attr-defined]
    if state not in _documents:
        _documents[state] = build_document(state)
    return _documents[state]


def resolve(ref: str) -> Json:
    """The schema a local ``$ref`` (``#/components/schemas/Name``) points to."""
    node: t.Any = document()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return t.cast(Json, node)


_BY_ID = {op.id: op for op in OPERATIONS}


def operation(operation_id: str) -> Json:
    """The operation object of ``operation_id``."""
    op = _BY_ID[operation_id]
    return t.cast(Json, document()["paths"][op.path][op.method])


def body_schema(operation_id: str) -> Json:
    return resolve(f"#/components/schemas/{_BY_ID[operation_id].body}")


def form_schema(operation_id: str) -> Json:
    return resolve(f"#/components/schemas/{_BY_ID[operation_id].body}Form")
