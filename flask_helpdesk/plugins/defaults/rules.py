"""Event rules: run the enabled rules waiting for each committed event."""

from __future__ import annotations

import typing as t

from ..hookspecs import hookimpl

if t.TYPE_CHECKING:
    from ...events import Event
    from ...state import HelpdeskState


@hookimpl(trylast=True)
def helpdesk_ticket_event(helpdesk: HelpdeskState, event: Event) -> None:
    from ...services import automation

    if event.type == "rule.webhook_queued":
        helpdesk.jobs.send("rules_webhook", event.id)
    automation.on_event(helpdesk, event)
