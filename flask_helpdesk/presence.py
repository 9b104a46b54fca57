"""Where presence lives: who is viewing a ticket, who is writing on it.

A presence entry is one browser tab (a Socket.IO session id) on one ticket,
with the agent and what they do there (``viewing``, ``replying`` or
``noting``). Entries expire :data:`HELPDESK_PRESENCE_TTL` seconds after the
tab's last heartbeat, so a tab that vanished without a word (a network drop)
disappears too.

Two stores share one interface: :class:`MemoryPresence` for one process, and
:class:`RedisPresence` for several (a hash per ticket plus one sorted set of
expiry times, so whichever process sweeps first reports an expiry, once).
The services in :mod:`flask_helpdesk.services.presence` check permissions
and call the store; the Socket.IO namespace broadcasts what changed.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import typing as t

#: What an agent can be doing on a ticket.
ACTIVITIES = ("viewing", "replying", "noting")


@dataclasses.dataclass(frozen=True)
class Presence:
    """One tab of one agent on one ticket."""

    ticket_id: int
    sid: str
    agent_id: int
    name: str
    activity: str
    expires: float

    def to_dict(self) -> dict[str, t.Any]:
        return {"agent_id": self.agent_id, "name": self.name, "activity": self.activity}


class PresenceStore(t.Protocol):
    """The interface of both stores. Times are ``time.time()`` seconds."""

    def put(self, entry: Presence) -> bool:
        """Store or refresh an entry; ``True`` when something others see changed."""

    def remove(self, ticket_id: int, sid: str) -> bool:
        """Drop one tab's entry; ``True`` when there was one."""

    def on_ticket(self, ticket_id: int, now: float | None = None) -> list[Presence]:
        """The live entries of a ticket."""

    def on_tickets(self, ticket_ids: t.Iterable[int], now: float | None = None
                   ) -> dict[int, list[Presence]]:
        """The live entries of several tickets (tickets without any are left out)."""

    def expire(self, now: float | None = None) -> set[int]:
        """Drop expired entries; the tickets whose presence changed."""


def summarize(entries: t.Iterable[Presence]) -> list[dict[str, t.Any]]:
    """One line per agent (several tabs fold into one), writing before viewing."""
    rank = {"replying": 0, "noting": 1, "viewing": 2}
    best: dict[int, Presence] = {}
    for entry in entries:
        seen = best.get(entry.agent_id)
        if seen is None or rank[entry.activity] < rank[seen.activity]:
            best[entry.agent_id] = entry
    return [p.to_dict() for p in sorted(best.values(), key=lambda p: (rank[p.activity], p.name))]


class MemoryPresence:
    """Presence in this process's memory (one web process, the embedded default)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tickets: dict[int, dict[str, Presence]] = {}

    def put(self, entry: Presence) -> bool:
        with self._lock:
            tabs = self._tickets.setdefault(entry.ticket_id, {})
            old = tabs.get(entry.sid)
            tabs[entry.sid] = entry
            return old is None or old.activity != entry.activity

    def remove(self, ticket_id: int, sid: str) -> bool:
        with self._lock:
            tabs = self._tickets.get(ticket_id, {})
            found = tabs.pop(sid, None) is not None
            if not tabs:
                self._tickets.pop(ticket_id, None)
            return found

    def on_ticket(self, ticket_id: int, now: float | None = None) -> list[Presence]:
        now = time.time() if now is None else now
        with self._lock:
            return [p for p in self._tickets.get(ticket_id, {}).values() if p.expires > now]

    def on_tickets(self, ticket_ids: t.Iterable[int], now: float | None = None
                   ) -> dict[int, list[Presence]]:
        found = {ticket_id: self.on_ticket(ticket_id, now) for ticket_id in ticket_ids}
        return {ticket_id: entries for ticket_id, entries in found.items() if entries}

    def expire(self, now: float | None = None) -> set[int]:
        now = time.time() if now is None else now
        changed = set()
        with self._lock:
            for ticket_id, tabs in list(self._tickets.items()):
                for sid, entry in list(tabs.items()):
                    if entry.expires <= now:
                        del tabs[sid]
                        changed.add(ticket_id)
                if not tabs:
                    del self._tickets[ticket_id]
        return changed


class RedisPresence:
    """Presence in Redis, shared by every web process.

    :param client: A ``redis.Redis`` client.
    :param prefix: Key prefix, so several helpdesks can share one Redis.
    """

    def __init__(self, client: t.Any, prefix: str = "helpdesk:presence") -> None:
        self.redis, self.prefix = client, prefix
        self._expiry = f"{prefix}:expiry"

    def _key(self, ticket_id: int) -> str:
        return f"{self.prefix}:ticket:{ticket_id}"

    def put(self, entry: Presence) -> bool:
        key = self._key(entry.ticket_id)
        value = json.dumps(dataclasses.asdict(entry))
        pipe = self.redis.pipeline()
        pipe.hget(key, entry.sid)
        pipe.hset(key, entry.sid, value)
        pipe.expireat(key, int(entry.expires) + 60)
        pipe.zadd(self._expiry, {f"{entry.ticket_id}:{entry.sid}": entry.expires})
        old = pipe.execute()[0]
        return old is None or json.loads(old)["activity"] != entry.activity

    def remove(self, ticket_id: int, sid: str) -> bool:
        pipe = self.redis.pipeline()
        pipe.hdel(self._key(ticket_id), sid)
        pipe.zrem(self._expiry, f"{ticket_id}:{sid}")
        return bool(pipe.execute()[0])

    def on_ticket(self, ticket_id: int, now: float | None = None) -> list[Presence]:
        return self.on_tickets([ticket_id], now).get(ticket_id, [])

    def on_tickets(self, ticket_ids: t.Iterable[int], now: float | None = None
                   ) -> dict[int, list[Presence]]:
        now = time.time() if now is None else now
        ids = list(ticket_ids)
        pipe = self.redis.pipeline()
        for ticket_id in ids:
            pipe.hvals(self._key(ticket_id))
        found: dict[int, list[Presence]] = {}
        for ticket_id, values in zip(ids, pipe.execute(), strict=True):
            entries = [Presence(**json.loads(v)) for v in values]
            live = [p for p in entries if p.expires > now]
            if live:
                found[ticket_id] = live
        return found

    def expire(self, now: float | None = None) -> set[int]:
        now = time.time() if now is None else now
        changed = set()
        for member in self.redis.zrangebyscore(self._expiry, "-inf", now):
            member = member.decode() if isinstance(member, bytes) else member
            # Only the process whose ZREM removed the member reports it.
            if self.redis.zrem(self._expiry, member):
                ticket_id, sid = member.split(":", 1)
                self.redis.hdel(self._key(int(ticket_id)), sid)
                changed.add(int(ticket_id))
        return changed


def make_presence_store(url: str | None) -> PresenceStore:
    """The store for :data:`HELPDESK_PRESENCE_URL`: memory, or Redis at that URL."""
    if not url or url == "memory":
        return MemoryPresence()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .tasks import needs_extra

        with needs_extra("redis", "HELPDESK_PRESENCE_URL", url):
            import redis

        return RedisPresence(redis.Redis.from_url(url))
    raise RuntimeError(f"HELPDESK_PRESENCE_URL must be 'memory' or a redis:// URL, not {url!r}.")
