"""Event values and their dispatch after commit.

Services append :class:`~flask_helpdesk.models.TicketEvent` rows inside their
transaction (see :mod:`flask_helpdesk.services._uow`). When, and only when, the
transaction commits, each row becomes an immutable :class:`Event` and
:func:`dispatch` fans it out, in this order:

1. the ``helpdesk_ticket_event`` hook of every plugin (the rules engine is one);
2. the realtime emitter (Socket.IO rooms ``ticket:<id>`` and ``inbox:<group>``);
3. the outbox: replies waiting for delivery are sent to the delivery job;
4. agent notifications (``rule.notified``): each recipient's tabs are told
   (room ``agent:<id>``) and the email job is sent.

A rollback dispatches nothing. One failing plugin is logged and does not stop
the others, nor undo the committed change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import typing as t

if t.TYPE_CHECKING:
    from .models import TicketEvent
    from .state import HelpdeskState

log = logging.getLogger("flask_helpdesk.events")

#: The kinds of event the core records, with what ``data`` holds.
EVENT_TYPES: dict[str, str] = {
    "ticket.created": "subject, channel, status, priority, group_id, assignee_id",
    "ticket.updated": "field, old, new (subject, priority, group_id, assignee_id, custom fields)",
    "ticket.status_changed": "old, new",
    "ticket.assigned": "old, new (agent ids), group_old, group_new",
    "ticket.tags_changed": "added, removed",
    "ticket.merged": "into (the surviving ticket id)",
    "ticket.merge_received": "source (the ticket merged into this one), messages",
    "ticket.follow_up_created": "follow_up_id (on the closed ticket)",
    "message.received": "message_id, channel, auto_submitted (a customer message)",
    "message.external_id_reused": "message_id, external_id (the id it was stored under),"
                                  " first_message_id (a different message reusing the"
                                  " channel's id of an earlier one)",
    "message.replied": "message_id, channel, delivery (a public reply), template_id (if any)",
    "note.added": "message_id (an internal note; the text is never in the event)",
    "message.delivered": "message_id, external_id",
    "message.automatic_reply_refused": "message_id (the customer's message a rule or plugin"
                                       " would have answered; a loop guard refused)",
    "message.delivery_failed": "message_id, error, attempts, final, next_attempt_at",
    "customer.merged": "from_customer_id, into_customer_id",
    "template.applied": "template_id, name, message_id (a reply made from a reply template)",
    "rule.notified": "message (filled in), to, email, recipients (agent ids),"
                     " notification_ids",
}

#: Any event's ``data`` may also hold ``imported: true``: it was recorded for
#: imported history (:attr:`InboundMessage.imported
#: <flask_helpdesk.InboundMessage.imported>`); event rules do not run on it.

#: Events that change what a customer sees or expects.
PUBLIC_MESSAGE_TYPES = frozenset({"message.received", "message.replied"})


@dataclasses.dataclass(frozen=True)
class Event:
    """A committed change to a ticket, as hooks and the realtime layer see it.

    :ivar id: The ``TicketEvent`` row id; ids grow with time.
    :ivar type: Past-tense kind, one of :data:`EVENT_TYPES` or a plugin's.
    :ivar ticket_id: The ticket it happened to.
    :ivar group_id: The ticket's group when the event was recorded.
    :ivar actor_kind: ``agent``, ``customer``, ``system`` or ``rule``.
    :ivar actor_agent_id: The agent, when an agent acted.
    :ivar actor_customer_id: The customer, when the customer acted.
    :ivar actor_name: Display name of the actor.
    :ivar data: Details; never the text of an internal note.
    :ivar at: When it happened (naive UTC).
    """

    id: int
    type: str
    ticket_id: int
    group_id: int | None
    actor_kind: str
    actor_agent_id: int | None
    actor_customer_id: int | None
    actor_name: str
    data: t.Mapping[str, t.Any]
    at: dt.datetime

    @classmethod
    def from_row(cls, row: TicketEvent, group_id: int | None) -> Event:
        return cls(
            id=row.id,
            type=row.type,
            ticket_id=row.ticket_id,
            group_id=group_id,
            actor_kind=row.actor_kind,
            actor_agent_id=row.actor_agent_id,
            actor_customer_id=row.actor_customer_id,
            actor_name=row.actor_name,
            data=dict(row.data),
            at=row.at,
        )

    def to_dict(self) -> dict[str, t.Any]:
        """JSON-ready form, used by the API and the realtime broadcast."""
        out = dataclasses.asdict(self)
        out["data"] = dict(self.data)
        out["at"] = self.at.isoformat() + "Z"
        return out


def dispatch(state: HelpdeskState, events: t.Sequence[Event]) -> None:
    """Fan committed events out to hooks, realtime and the outbox.

    Called by the unit of work right after its commit. Never raises.
    """
    for event in events:
        _call_each(state, event)
    try:
        state.emitter.emit_events(events)
    except Exception:
        log.exception("realtime broadcast failed for %d events", len(events))
    queued = [event.data["message_id"] for event in events
              if event.type == "message.replied" and event.data.get("delivery") == "queued"]
    if queued:
        from .services.outbox import enqueue

        enqueue(queued)  # logs a broker error: the sweeper re-sends, nothing is lost
    if any(event.type == "rule.notified" for event in events):
        from .services.notifications import announce

        announce(state, events)


def _call_each(state: HelpdeskState, event: Event) -> None:
    """Call every ``helpdesk_ticket_event`` implementation, isolating failures."""
    caller = state.pm.hook.helpdesk_ticket_event
    kwargs = {"helpdesk": state, "event": event}
    for impl in reversed(caller.get_hookimpls()):
        try:
            impl.function(*[kwargs[name] for name in impl.argnames])
        except Exception:
            log.exception("plugin %r failed on event %s #%s", impl.plugin_name, event.type,
                          event.id)
