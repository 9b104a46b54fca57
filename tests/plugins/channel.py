"""The ``test`` channel plugin used by tests: it records what it is asked to
deliver, or raises the delivery errors queued in ``failures``."""

from __future__ import annotations

import threading
import time

from flask_helpdesk import DeliveryError
from flask_helpdesk import DeliveryReceipt
from flask_helpdesk import OutboundMessage
from flask_helpdesk import hookimpl


class RecordingChannel:
    """Delivers ``test`` messages by recording them.

    :ivar sent: Delivered messages, in order.
    :ivar calls: ``(monotonic time, attempt)`` of every delivery call.
    :ivar failures: Errors raised by the next calls, one each.
    :ivar always_fail: An error raised by every call while set.
    :ivar delay: Seconds each call takes (a slow mail server).
    :ivar fail_for: Message id -> the error every call for it raises.
    """

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.calls: list[tuple[float, int]] = []
        self.failures: list[BaseException] = []
        self.always_fail: DeliveryError | None = None
        self.delay = 0.0
        self.fail_for: dict[int, BaseException] = {}
        self._lock = threading.Lock()

    @hookimpl
    def helpdesk_register_channels(self) -> list[dict[str, str]]:
        return [{"name": "test", "label": "Test"}]

    @hookimpl
    def helpdesk_deliver_message(self, message: OutboundMessage) -> DeliveryReceipt | None:
        if message.channel != "test":
            return None
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.calls.append((time.monotonic(), message.attempt))
            if self.always_fail is not None:
                raise self.always_fail
            if message.id in self.fail_for:
                raise self.fail_for[message.id]
            if self.failures:
                raise self.failures.pop(0)
            self.sent.append(message)
        return DeliveryReceipt(external_id=f"<out-{message.id}@test>",
                               thread_keys=(f"out-{message.id}",))
