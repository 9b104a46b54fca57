"""The presence stores: memory for one process, Redis shared by several."""

from __future__ import annotations

import time
import typing as t
import uuid

import pytest

from flask_helpdesk.presence import MemoryPresence
from flask_helpdesk.presence import Presence
from flask_helpdesk.presence import RedisPresence
from flask_helpdesk.presence import make_presence_store
from flask_helpdesk.presence import summarize
from tests.services_check import REDIS_URL
from tests.services_check import require


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def stores(request: pytest.FixtureRequest) -> t.Iterator[tuple[t.Any, t.Any]]:
    """Two stores as two web processes see them (one shared store for memory)."""
    if request.param == "memory":
        store = MemoryPresence()
        yield store, store
        return
    require("Redis", "127.0.0.1", 6379)
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"test:{uuid.uuid4().hex[:8]}"
    yield RedisPresence(client, prefix), RedisPresence(redis.Redis.from_url(REDIS_URL), prefix)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def _entry(ticket_id: int, sid: str, agent_id: int, activity: str = "viewing",
           ttl: float = 10) -> Presence:
    return Presence(ticket_id=ticket_id, sid=sid, agent_id=agent_id, name=f"Agent {agent_id}",
                    activity=activity, expires=time.time() + ttl)


def test_both_processes_see_each_others_tabs(stores: t.Any) -> None:
    one, two = stores
    assert one.put(_entry(7, "a", 1)) is True
    assert two.put(_entry(7, "b", 2)) is True
    assert one.put(_entry(7, "a", 1)) is False  # a heartbeat changes nothing others see
    assert one.put(_entry(7, "a", 1, "replying")) is True
    assert summarize(two.on_ticket(7)) == [
        {"agent_id": 1, "name": "Agent 1", "activity": "replying"},
        {"agent_id": 2, "name": "Agent 2", "activity": "viewing"}]
    assert set(one.on_tickets([7, 8])) == {7}
    assert two.remove(7, "a") is True and one.remove(7, "a") is False
    assert [p.sid for p in one.on_ticket(7)] == ["b"]


def test_an_expiry_is_reported_once_whichever_process_sweeps(stores: t.Any) -> None:
    one, two = stores
    one.put(_entry(7, "a", 1, ttl=-1))  # its tab stopped beating
    two.put(_entry(7, "b", 2))
    assert [p.sid for p in two.on_ticket(7)] == ["b"]  # expired entries are not shown
    assert one.expire() | two.expire() == {7}
    assert one.expire() == set() and two.expire() == set()
    assert [p.sid for p in one.on_ticket(7)] == ["b"]


def test_several_tabs_of_one_agent_show_once_with_the_busiest_activity() -> None:
    entries = [_entry(1, "a", 1), _entry(1, "b", 1, "noting"), _entry(1, "c", 2)]
    assert summarize(entries) == [{"agent_id": 1, "name": "Agent 1", "activity": "noting"},
                                  {"agent_id": 2, "name": "Agent 2", "activity": "viewing"}]


def test_the_store_is_chosen_by_url() -> None:
    assert isinstance(make_presence_store(None), MemoryPresence)
    assert isinstance(make_presence_store("memory"), MemoryPresence)
    assert isinstance(make_presence_store("redis://127.0.0.1:6379/15"), RedisPresence)
    with pytest.raises(RuntimeError, match="HELPDESK_PRESENCE_URL"):
        make_presence_store("memcached://x")
