"""The public service API: the only way helpdesk state changes.

Every adapter (HTML pages, the REST API, channel ingest, the CLI, rule
actions, plugins) calls these functions. Each takes keyword-only arguments
and an explicit ``actor``, checks permission, validates input, changes rows
and records history events in one transaction, and raises
:class:`~flask_helpdesk.errors.HelpdeskError` subclasses with messages fit to
show a user.
"""

from __future__ import annotations

from . import agents
from . import automation
from . import bulk_edit
from . import calendars
from . import channels
from . import customers
from . import drafts
from . import inbound
from . import messages
from . import notifications
from . import outbox
from . import participants
from . import permissions
from . import quarantine
from . import rules
from . import search
from . import templates
from . import tickets
from . import views
from ._uow import SYSTEM
from ._uow import Actor
from ._uow import SystemActor
from ._uow import imported_history
from ._uow import transaction
from ._validate import MAX_ID
from ._validate import UNSET
from ._validate import whole_number
from .calendars import CalendarChanges
from .inbound import IngestResult
from .inbound import ingest
from .inbound import ingest_batch
from .rules import RuleChanges
from .templates import TemplateChanges
from .tickets import TicketChanges
from .views import Page
from .views import TicketFilter

__all__ = [
    "MAX_ID",
    "SYSTEM",
    "UNSET",
    "Actor",
    "CalendarChanges",
    "IngestResult",
    "Page",
    "RuleChanges",
    "SystemActor",
    "TemplateChanges",
    "TicketChanges",
    "TicketFilter",
    "agents",
    "channels",
    "automation",
    "bulk_edit",
    "calendars",
    "customers",
    "drafts",
    "imported_history",
    "inbound",
    "ingest",
    "ingest_batch",
    "messages",
    "notifications",
    "outbox",
    "participants",
    "permissions",
    "quarantine",
    "rules",
    "search",
    "templates",
    "tickets",
    "transaction",
    "views",
    "whole_number",
]
