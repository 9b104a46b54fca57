"""The ``web`` channel: tickets opened through the API or the agent UI.

Replies on a ``web`` ticket need no transport: the customer reads them in the
customer-facing views, so delivery succeeds at once.
"""

from __future__ import annotations

import typing as t

from ...channels import DeliveryReceipt
from ..hookspecs import hookimpl

if t.TYPE_CHECKING:
    from ...channels import OutboundMessage


@hookimpl(trylast=True)
def helpdesk_register_channels() -> list[dict[str, str]]:
    return [{"name": "web", "label": "Web"}]


@hookimpl(trylast=True)
def helpdesk_deliver_message(message: OutboundMessage) -> DeliveryReceipt | None:
    if message.channel != "web":
        return None
    return DeliveryReceipt(external_id=f"web-{message.id}")
