"""A tiny channel plugin used by tests: it declares the ``test`` channel and
records what it is asked to deliver."""

from __future__ import annotations

from flask_helpdesk import DeliveryError
from flask_helpdesk import DeliveryReceipt
from flask_helpdesk import OutboundMessage
from flask_helpdesk import hookimpl


class RecordingChannel:
    def __init__(self, fail_times: int = 0, permanent: bool = False) -> None:
        self.sent: list[OutboundMessage] = []
        self.fail_times = fail_times
        self.permanent = permanent

    @hookimpl
    def helpdesk_register_channels(self) -> list[dict[str, str]]:
        return [{"name": "test", "label": "Test"}]

    @hookimpl
    def helpdesk_deliver_message(self, message: OutboundMessage) -> DeliveryReceipt | None:
        if message.channel != "test":
            return None
        if self.fail_times:
            self.fail_times -= 1
            raise DeliveryError("mailbox full", permanent=self.permanent)
        self.sent.append(message)
        return DeliveryReceipt(external_id=f"<out-{message.id}@test>",
                               thread_keys=(f"out-{message.id}",))
