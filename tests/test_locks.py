"""Distributed locks with fencing, on a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis as redis_sync

from server.embedded_redis import RedisProcess
from server.errors import LockTimeout
from server.storage import keys
from server.storage.locks import Locks
from server.storage.mux import RedisMux
from server.storage.scripts import Scripts

STATE = "arena:{lobby:test}:state"  # guarded state shares the lock's hash tag


def lapse(redis_client: redis_sync.Redis) -> None:
    """The held lock's TTL runs out, as Redis would let it (the test above waits for the
    real expiry once): what follows is about what a holder may do once it has lapsed."""
    assert redis_client.delete(keys.lock("lobby:test")) == 1


@pytest.fixture
async def locks(redis_server: RedisProcess, redis_client: redis_sync.Redis) -> AsyncIterator[Locks]:
    mux = RedisMux(redis_server.url)
    yield Locks(Scripts.load(mux))
    await mux.aclose()


async def test_only_one_holder_at_a_time(locks: Locks) -> None:
    inside = 0
    most_inside = 0
    entered = 0

    async def worker() -> None:
        nonlocal inside, most_inside, entered
        async with locks.hold("lobby:test", ttl_ms=5000, wait_s=10):
            inside += 1
            most_inside = max(most_inside, inside)
            # Hold it while the loop runs the others, whose attempts are in flight: not a
            # wait for anything, the time held is what gives them a chance to barge in.
            await asyncio.sleep(0.001)
            inside -= 1
            entered += 1

    await asyncio.gather(*(worker() for _ in range(50)))
    assert entered == 50
    assert most_inside == 1


async def test_fencing_numbers_only_grow_even_when_the_counter_is_lost(
    locks: Locks, redis_client: redis_sync.Redis
) -> None:
    fences = []
    for _ in range(3):
        async with locks.hold("lobby:test", ttl_ms=1000, wait_s=1) as lease:
            fences.append(lease.fence)
    redis_client.delete("arena:{lobby:test}:fence")  # evicted, flushed, expired...
    async with locks.hold("lobby:test", ttl_ms=1000, wait_s=1) as lease:
        fences.append(lease.fence)
    assert fences == sorted(fences)
    assert len(set(fences)) == 4
    assert redis_client.pttl("arena:{lobby:test}:fence") > 0  # the counter does not leak


async def test_a_vanished_holder_frees_the_lock_at_its_ttl(locks: Locks) -> None:
    lease = await locks.acquire("lobby:test", ttl_ms=200, wait_s=0)  # then "dies"
    with pytest.raises(LockTimeout) as busy:
        await locks.acquire("lobby:test", ttl_ms=200, wait_s=0.01)
    assert busy.value.code == "LOCK_TIMEOUT"
    assert 0 < (busy.value.retry_after_ms or 0) <= 200
    # Free once the TTL ran out, not later: a wait bounded well under a second TTL more
    # (the lock's own bound, not a stopwatch) would end in LOCK_TIMEOUT otherwise.
    successor = await locks.acquire("lobby:test", ttl_ms=200, wait_s=0.6)
    assert successor.fence > lease.fence


async def test_nobody_releases_or_extends_a_lock_it_does_not_hold(
    locks: Locks, redis_client: redis_sync.Redis
) -> None:
    stale = await locks.acquire("lobby:test", ttl_ms=50, wait_s=0)
    lapse(redis_client)
    current = await locks.acquire("lobby:test", ttl_ms=5000, wait_s=0)
    assert await locks.release(stale) is False
    assert await locks.extend(stale, 5000) is False
    with pytest.raises(LockTimeout):  # still held by the current holder
        await locks.acquire("lobby:test", ttl_ms=100, wait_s=0)
    assert await locks.extend(current, 5000) is True
    assert await locks.release(current) is True


async def test_a_stale_holders_write_with_an_old_fence_is_refused(
    locks: Locks, redis_client: redis_sync.Redis
) -> None:
    # A holder pauses past its TTL (a long GC, a stalled VM)...
    paused = await locks.acquire("lobby:test", ttl_ms=50, wait_s=0)
    lapse(redis_client)
    # ...meanwhile another takes the lock and writes.
    current = await locks.acquire("lobby:test", ttl_ms=5000, wait_s=0)
    assert await locks.write_fenced(current, STATE, {"members": "alice,bob"}) is True
    # The paused holder wakes up and writes as if it still held the lock: refused.
    assert await locks.write_fenced(paused, STATE, {"members": "mallory"}) is False
    assert redis_client.hget(STATE, "members") == b"alice,bob"
    assert int(redis_client.hget(STATE, "fence") or 0) == current.fence


async def test_a_stale_holder_is_refused_even_before_the_new_holder_writes(
    locks: Locks, redis_client: redis_sync.Redis
) -> None:
    paused = await locks.acquire("lobby:test", ttl_ms=50, wait_s=0)
    assert await locks.write_fenced(paused, STATE, {"members": "alice"}) is True
    lapse(redis_client)
    current = await locks.acquire("lobby:test", ttl_ms=5000, wait_s=0)  # has not written
    assert await locks.write_fenced(paused, STATE, {"members": "mallory"}) is False
    assert redis_client.hget(STATE, "members") == b"alice"
    redis_client.delete(STATE)  # the state is gone (say, the lobby closed)...
    assert await locks.write_fenced(paused, STATE, {"members": "ghost"}) is False
    assert redis_client.exists(STATE) == 0  # ...and a stale holder cannot bring it back
    assert await locks.write_fenced(current, STATE, {"members": "alice,bob"}) is True
