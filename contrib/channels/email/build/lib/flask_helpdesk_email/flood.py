"""Mail bombs: a sender whose mail arrives faster than :data:`HELPDESK_EMAIL_FLOOD_LIMIT`.

The meter counts, per sender, the messages that reached the mailbox (their
IMAP INTERNALDATE) within one minute. Past the limit a sender's mail is still
ingested, every message of it, but new tickets get the ``spam`` status and
the tag ``email:flood``, the account's health names the sender, and the loop
guard keeps automatic answers to them within
:data:`HELPDESK_EMAIL_AUTO_REPLY_LIMIT`. The counts are kept in the account's
cursor store (folder :data:`STATE`) between polls.
"""

from __future__ import annotations

import typing as t

#: Cursor-store folder name of the meter.
STATE = "$flood"
#: Seconds of the window.
WINDOW = 60.0


class FloodMeter:
    """Arrival times per sender, at most ``limit + 1`` of them within :data:`WINDOW`.

    :param state: What :meth:`dump` returned last time (or ``{}``).
    :param limit: Most messages per sender per minute; ``0`` turns the meter off.
    """

    def __init__(self, state: t.Mapping[str, t.Any], limit: int) -> None:
        self.limit = limit
        self.times: dict[str, list[float]] = {
            str(k): [float(x) for x in v] for k, v in state.items() if isinstance(v, list)}
        #: Senders that went over the limit in this run.
        self.flooding: set[str] = set()
        self.changed = False

    def hit(self, sender: str, when: float) -> bool:
        """Count a message of ``sender`` arriving at ``when``; ``True`` past the limit."""
        if self.limit <= 0:
            return False
        sender = sender.strip().lower()
        recent = [x for x in self.times.get(sender, []) if abs(when - x) < WINDOW]
        recent = sorted([*recent, when])[-(self.limit + 1):]
        self.times[sender], self.changed = recent, True
        if len(recent) > self.limit:
            self.flooding.add(sender)
            return True
        return False

    def dump(self, now: float) -> dict[str, list[float]]:
        """The state to keep: senders seen within the last hour."""
        return {k: v for k, v in self.times.items() if v and v[-1] > now - 3600}
