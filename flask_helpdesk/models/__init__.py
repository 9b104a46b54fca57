"""SQLAlchemy models of the helpdesk, on their own :class:`~sqlalchemy.MetaData`.

The tables (all prefixed ``helpdesk_``) live in :data:`metadata`, not in the
host's, so ``db.create_all()`` of the host leaves them alone and the helpdesk
migrates them with its own Alembic history. The host's ``db.session`` reads and
writes them through the default engine, or through the engine of
``HELPDESK_DATABASE_BIND_KEY`` (Flask-SQLAlchemy reads ``metadata.info``).

Models hold data and small pure helpers only: no I/O, no Flask request, no
state changes outside :mod:`flask_helpdesk.services`.
"""

from __future__ import annotations

from ._base import Base
from ._base import metadata
from ._base import utcnow
from .agent import Agent
from .agent import ApiToken
from .agent import Group
from .agent import agent_groups
from .calendar import BusinessCalendar
from .channel import ChannelAccount
from .channel import ChannelCursor
from .channel import QuarantinedMessage
from .customer import ContactIdentity
from .customer import Customer
from .draft import Draft
from .event import TicketEvent
from .message import Attachment
from .message import Message
from .message import ThreadKey
from .message import TicketParticipant
from .notification import AgentNotification
from .rule import Rule
from .rule import RuleFiring
from .rule import RuleRun
from .search import SearchDocument
from .template import ReplyTemplate
from .template import TemplateAttachment
from .template import TemplateUsage
from .ticket import Tag
from .ticket import Ticket
from .ticket import ticket_tags
from .view import SavedView

__all__ = [
    "Agent",
    "AgentNotification",
    "ApiToken",
    "Attachment",
    "Base",
    "BusinessCalendar",
    "ChannelAccount",
    "ChannelCursor",
    "ContactIdentity",
    "Customer",
    "Draft",
    "Group",
    "Message",
    "QuarantinedMessage",
    "ReplyTemplate",
    "Rule",
    "RuleFiring",
    "RuleRun",
    "SavedView",
    "SearchDocument",
    "Tag",
    "TemplateAttachment",
    "TemplateUsage",
    "ThreadKey",
    "Ticket",
    "TicketEvent",
    "TicketParticipant",
    "agent_groups",
    "metadata",
    "ticket_tags",
    "utcnow",
]
