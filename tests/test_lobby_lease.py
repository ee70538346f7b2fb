"""A lobby change holds its lock for as long as it runs, stops when it lost it, and a lock
that cannot be released never hides the change's own answer. Real Redis; the change is held
mid-way by a store that waits on an event after one of its steps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import redis as redis_sync

from server.app import build_services
from server.embedded_redis import RedisProcess
from server.errors import LobbyFull, LockTimeout
from server.services import Services, lobby_lock
from server.storage import keys
from server.storage.clients import open_mux, open_redis
from server.storage.lobbies import LobbyRecord, LobbyStore
from server.storage.locks import Lease, Locks
from server.storage.mux import Commands
from server.storage.pubsub import Subscriber
from server.storage.scripts import Scripts
from tests.conftest import settings_for_test

SHORT_TTL_MS = 300  # a change held for a second outlives this three times over


class PausingStore(LobbyStore):
    """The real store, which can hold a change right after its read or its write until the
    test lets it go: a slow step, on demand."""

    def __init__(self, mux: Commands, locks: Locks) -> None:
        super().__init__(mux, Scripts.load(mux), locks)
        self.pause_after: str | None = None  # "read" or "write"
        self.reached = asyncio.Event()
        self.go_on = asyncio.Event()

    async def _maybe_pause(self, step: str) -> None:
        if self.pause_after == step:
            self.pause_after = None  # once
            self.reached.set()
            await self.go_on.wait()

    async def read(self, lobby_id: str) -> LobbyRecord | None:
        lobby = await super().read(lobby_id)
        await self._maybe_pause("read")
        return lobby

    async def write(self, lease: Lease, lobby: LobbyRecord) -> bool:
        written = await super().write(lease, lobby)
        await self._maybe_pause("write")
        return written


async def open_services(redis_url: str) -> tuple[Services, PausingStore, list[Any]]:
    settings = settings_for_test(redis_url=redis_url, redis_timeout_s=0.5)
    mux = open_mux(redis_url, timeout_s=settings.redis_timeout_s)
    blocking = open_redis(redis_url, pool_size=2, timeout_s=settings.redis_timeout_s)
    services = build_services(settings, mux, time.time, blocking)
    store = PausingStore(mux, services.locks)
    services.lobbies._store = store
    return services, store, [mux, blocking]


@pytest.fixture
async def lobby_services(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> AsyncIterator[tuple[Services, PausingStore]]:
    services, store, clients = await open_services(redis_server.url)
    yield services, store
    for client in clients:
        await client.aclose()


@pytest.fixture
def short_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lobby_lock, "LOCK_TTL_MS", SHORT_TTL_MS)


async def held_mid_way(store: PausingStore, step: str, change: Any) -> asyncio.Task[Any]:
    store.pause_after = step
    task = asyncio.create_task(change)
    async with asyncio.timeout(5):
        await store.reached.wait()
    return task


def member_ids(lobby: LobbyRecord | dict[str, Any]) -> list[str]:
    if isinstance(lobby, LobbyRecord):
        return [m.player_id for m in lobby.members]
    return [m["player_id"] for m in lobby["members"]]


async def test_a_change_slower_than_the_lock_ttl_keeps_its_lock(
    lobby_services: tuple[Services, PausingStore], short_lock: None
) -> None:
    services, store = lobby_services
    lobbies = services.lobbies
    lobby = await lobbies.create("owner", "olga", mode="duel", capacity=4, name=None, private=False)
    join = await held_mid_way(store, "write", lobbies.join("bob", "bob", lobby.lobby_id))

    # More than three TTLs pass while the join is held after its write: nobody else may
    # take the lobby's lock meanwhile (it is renewed), or it would act on a half-done change.
    with pytest.raises(LockTimeout):
        await services.locks.acquire(
            keys.lobby_resource(lobby.lobby_id), ttl_ms=SHORT_TTL_MS, wait_s=1.0
        )
    store.go_on.set()
    joined = await join
    assert member_ids(joined) == ["owner", "bob"]


async def test_a_change_whose_lock_was_taken_away_neither_indexes_nor_pushes(
    lobby_services: tuple[Services, PausingStore],
    redis_server: RedisProcess,
    redis_client: redis_sync.Redis,
) -> None:
    services, store = lobby_services
    lobbies = services.lobbies
    lobby = await lobbies.create("owner", "olga", mode="duel", capacity=4, name=None, private=False)
    pushes: asyncio.Queue[bytes] = asyncio.Queue()
    listener = Subscriber(redis_server.url, lambda _, payload: pushes.put_nowait(payload))
    await listener.subscribe(keys.player_channel("owner"))
    running = asyncio.create_task(listener.run())
    try:
        async with asyncio.timeout(5):
            await listener.until_subscribed(keys.player_channel("owner"))
        join = await held_mid_way(store, "write", lobbies.join("bob", "bob", lobby.lobby_id))
        # The lock is gone (expired, evicted, another holder's now) while the join runs.
        redis_client.delete(keys.lock(keys.lobby_resource(lobby.lobby_id)))
        store.go_on.set()
        with pytest.raises(LockTimeout):
            await join
        # The open-lobby index was not touched after the lock was lost...
        assert redis_client.zscore(keys.open_lobbies("duel"), lobby.lobby_id) == 1
        # ...and nothing was pushed: the first push the owner gets is the next change's.
        await lobbies.join("carol", "carol", lobby.lobby_id)
        async with asyncio.timeout(5):
            pushed = msgpack.unpackb(await pushes.get())
        assert pushed["ev"] == "lobby.updated"
        assert "carol" in member_ids(pushed["lobby"])
        # Bob retries (LOCK_TIMEOUT says so): he sits there already, and the lobby is
        # announced again, so nobody is left with the state before his join.
        await lobbies.join("bob", "bob", lobby.lobby_id)
        async with asyncio.timeout(5):
            pushed = msgpack.unpackb(await pushes.get())
        assert member_ids(pushed["lobby"]) == ["owner", "bob", "carol"]
    finally:
        listener.stopping.set()
        await running


async def test_lobby_full_stays_lobby_full_when_the_lock_cannot_be_released(
    tmp_path: Path,
) -> None:
    redis = RedisProcess(tmp_path / "redis", appendonly=False).start()
    services, store, clients = await open_services(redis.url)
    try:
        lobbies = services.lobbies
        lobby = await lobbies.create(
            "owner", "olga", mode="duel", capacity=2, name=None, private=False
        )
        await lobbies.join("bob", "bob", lobby.lobby_id)
        join = await held_mid_way(store, "read", lobbies.join("carol", "carol", lobby.lobby_id))
        # Redis goes away after the join read a full lobby, before it gives the lock back.
        await asyncio.to_thread(redis.stop)
        store.go_on.set()
        with pytest.raises(LobbyFull):  # not UNAVAILABLE from the failed release
            await join
    finally:
        redis.stop()
        for client in clients:
            await client.aclose()
