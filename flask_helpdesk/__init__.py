"""flask-helpdesk: a complete customer-support helpdesk as a Flask extension."""

from __future__ import annotations

# -- plugins and the channel contract
from .channels import AgentNotice
from .channels import DeliveryReceipt
from .channels import Identity
from .channels import InboundAttachment
from .channels import InboundMessage
from .channels import OutboundAttachment
from .channels import OutboundMessage

# -- errors
from .errors import ChannelError
from .errors import Conflict
from .errors import DeliveryError
from .errors import HelpdeskError
from .errors import NotFound
from .errors import PermissionDenied
from .errors import PluginError
from .errors import RetryFailed
from .errors import ValidationError
from .events import Event

# -- the extension
from .extension import Helpdesk
from .extension import current_helpdesk
from .extension import get_state
from .plugins import hookimpl

__version__ = "0.1.0.dev0"

__all__ = [
    # the extension
    "Helpdesk",
    "current_helpdesk",
    "get_state",
    # errors
    "ChannelError",
    "Conflict",
    "DeliveryError",
    "HelpdeskError",
    "NotFound",
    "PermissionDenied",
    "PluginError",
    "RetryFailed",
    "ValidationError",
    # plugins and channels
    "AgentNotice",
    "DeliveryReceipt",
    "Event",
    "Identity",
    "InboundAttachment",
    "InboundMessage",
    "OutboundAttachment",
    "OutboundMessage",
    "hookimpl",
]
