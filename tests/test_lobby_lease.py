"""A lobby change holds its lock for as long as it runs, stops when it lost it, and a lock
that cannot be released never hides the change's own answer. Real Redis; the change is held
mid-way by a store that waits on an event after one of its steps."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import redis as redis_sync

from server.embedded_redis import RedisProcess
from server.errors import LobbyFull, LobbyNotFound, LockTimeout, Unavailable
from server.hub_out import HubPushes
from server.services import Services
from server.services.lobbies import LobbyService
from server.storage import keys
from server.storage import lobbies as lobby_storage
from server.storage.clients import open_mux, open_redis
from server.storage.lobbies import LobbyRecord, LobbyStore
from server.storage.locks import Lease, Locks
from server.storage.mux import Commands
from server.storage.pubsub import Subscriber
from server.storage.pushes import PushStore
from server.storage.scripts import Scripts
from tests.conftest import settings_for_test
from tests.helpers import eventually, services_of

# Renewed every second: only a loop stalled two seconds would lose it, even on a loaded box.
LEASE_TTL_MS = 3000
DUEL = json.dumps({"duel": {"capacity": 2, "start_when_full": True}})


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

    async def write(self, lease: Lease, lobby: LobbyRecord) -> None:
        await super().write(lease, lobby)
        await self._maybe_pause("write")


async def open_services(
    redis_url: str, **overrides: Any
) -> tuple[Services, PausingStore, list[Any]]:
    settings = settings_for_test(redis_url=redis_url, redis_timeout_s=0.5, **overrides)
    mux = open_mux(redis_url, timeout_s=settings.redis_timeout_s)
    blocking = open_redis(redis_url, pool_size=2, timeout_s=settings.redis_timeout_s)
    services = services_of(settings, mux, time.time, blocking)
    store = PausingStore(mux, services.locks)
    # The lobby service as built, over the pausing store.
    paused = LobbyService(
        store,
        services.rate_limiter,
        services.presence,
        services.matches,
        services.watch,
        HubPushes(PushStore(mux)),
        grace_s=settings.lobby_grace_s,
        renew_interval_s=settings.presence_interval_s,
        modes=settings.mode_book(),
    )
    return dataclasses.replace(services, lobbies=paused), store, [mux, blocking]


@pytest.fixture
async def lobby_services(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> AsyncIterator[tuple[Services, PausingStore]]:
    services, store, clients = await open_services(redis_server.url)
    yield services, store
    for client in clients:
        await client.aclose()


@pytest.fixture
def lease_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lobby_storage, "LOCK_TTL_MS", LEASE_TTL_MS)


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
    lobby_services: tuple[Services, PausingStore],
    redis_client: redis_sync.Redis,
    lease_ttl: None,
) -> None:
    services, store = lobby_services
    lobbies = services.lobbies
    lobby = await lobbies.create("owner", "olga", mode="duel", capacity=4, name=None, private=False)
    join = await held_mid_way(store, "write", lobbies.join("bob", "bob", lobby.lobby_id))
    lock = keys.lock(keys.lobby_resource(lobby.lobby_id))
    token = redis_client.get(lock)
    first_expiry_ms = int(redis_client.pexpiretime(lock))

    def redis_now_ms() -> int:
        seconds, micros = redis_client.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def past_first_expiry() -> bool:
        return redis_now_ms() > first_expiry_ms

    # The join is held after its write until the lock would have expired unrenewed (by
    # Redis's clock): it is still the join's (renewed), so nobody else may take it and
    # act on a half-done change.
    await eventually(past_first_expiry, within_s=LEASE_TTL_MS / 1000 + 10)
    assert redis_client.get(lock) == token
    with pytest.raises(LockTimeout):
        await services.locks.acquire(
            keys.lobby_resource(lobby.lobby_id), ttl_ms=LEASE_TTL_MS, wait_s=0.1
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
    listener = Subscriber(redis_server.url)
    await listener.subscribe(keys.player_channel("owner"))
    running = asyncio.create_task(listener.run(lambda _, payload: pushes.put_nowait(payload)))
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
        await stop_listening(listener, running)


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


# --- a start that stops half-way is finished by the member's retry ----------------------


async def pushes_to(
    redis_url: str, player_ids: list[str]
) -> tuple[asyncio.Queue[dict[str, Any]], Subscriber, asyncio.Task[None]]:
    """Every push to these players' channels, decoded, in order."""
    pushes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    listener = Subscriber(redis_url)
    for player_id in player_ids:
        await listener.subscribe(keys.player_channel(player_id))
    running = asyncio.create_task(
        listener.run(lambda _, payload: pushes.put_nowait(msgpack.unpackb(payload)))
    )
    async with asyncio.timeout(5):
        for player_id in player_ids:
            await listener.until_subscribed(keys.player_channel(player_id))
    return pushes, listener, running


async def stop_listening(listener: Subscriber, running: asyncio.Task[None]) -> None:
    # Cancelled, not only told to stop: its connection's watch would wait out a ping period.
    listener.stopping.set()
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running


async def next_push(pushes: asyncio.Queue[dict[str, Any]], ev: str) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while True:
            pushed = await pushes.get()
            if pushed["ev"] == ev:
                return pushed


async def test_a_join_that_started_a_match_and_lost_its_lock_is_finished_by_its_retry(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> None:
    services, store, clients = await open_services(redis_server.url, modes=DUEL)
    pushes, listener, running = await pushes_to(redis_server.url, ["owner"])
    try:
        lobbies = services.lobbies
        lobby = await lobbies.create(
            "owner", "olga", mode="duel", capacity=None, name=None, private=False
        )
        join = await held_mid_way(store, "write", lobbies.join("bob", "bob", lobby.lobby_id))
        redis_client.delete(keys.lock(keys.lobby_resource(lobby.lobby_id)))
        store.go_on.set()
        with pytest.raises(LockTimeout):
            await join
        # What the review saw: the lobby started (a match id), but no match, both seated.
        stranded = await store.read(lobby.lobby_id)
        assert stranded is not None
        assert stranded.status == "started"
        assert redis_client.exists(keys.match(stranded.match_id)) == 0
        assert await store.seat_of("owner") == lobby.lobby_id

        # Bob retries, as LOCK_TIMEOUT tells him to: the start is finished.
        again = await lobbies.join("bob", "bob", lobby.lobby_id)
        assert (again.status, again.match_id) == ("started", stranded.match_id)
        assert redis_client.hget(keys.match(stranded.match_id), "state") == b"running"
        assert await store.seat_of("owner") is None
        assert await store.seat_of("bob") is None
        started = await next_push(pushes, "match.started")
        assert (started["match_id"], started["players"]) == (stranded.match_id, ["owner", "bob"])
        # Once finished, the lobby is no way back into that match.
        with pytest.raises(LobbyNotFound):
            await lobbies.join("bob", "bob", lobby.lobby_id)
    finally:
        await stop_listening(listener, running)
        for client in clients:
            await client.aclose()


async def test_a_quick_join_that_started_a_match_and_lost_its_lock_is_finished_by_its_retry(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> None:
    services, store, clients = await open_services(redis_server.url, modes=DUEL)
    pushes, listener, running = await pushes_to(redis_server.url, ["owner"])
    try:
        lobbies = services.lobbies
        lobby = await lobbies.quickjoin("owner", "olga", "duel")
        join = await held_mid_way(store, "write", lobbies.quickjoin("bob", "bob", "duel"))
        redis_client.delete(keys.lock(keys.lobby_resource(lobby.lobby_id)))
        store.go_on.set()
        # Not a lobby of its own for bob (which would strand the owner in the start).
        with pytest.raises(LockTimeout):
            await join
        again = await lobbies.quickjoin("bob", "bob", "duel")
        assert (again.lobby_id, again.status) == (lobby.lobby_id, "started")
        started = await next_push(pushes, "match.started")
        assert started["match_id"] == again.match_id
        assert redis_client.hget(keys.match(again.match_id), "state") == b"running"
        assert await store.seat_of("owner") is None
    finally:
        await stop_listening(listener, running)
        for client in clients:
            await client.aclose()


async def test_a_ready_whose_match_start_failed_is_finished_by_its_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis = RedisProcess(tmp_path / "redis").start()  # appendonly: a restart keeps the data
    services, store, clients = await open_services(redis.url)
    try:
        lobbies = services.lobbies
        lobby = await lobbies.create(
            "owner", "olga", mode="ffa", capacity=2, name=None, private=False
        )
        await lobbies.join("bob", "bob", lobby.lobby_id)
        await lobbies.ready("owner", True)

        # The start is held just before it stores the match; Redis goes away meanwhile.
        match_store = services.matches._store
        create = match_store.create
        reached, go_on = asyncio.Event(), asyncio.Event()

        async def create_later(match: Any) -> bool:
            monkeypatch.setattr(match_store, "create", create)  # once
            reached.set()
            await go_on.wait()
            return await create(match)

        monkeypatch.setattr(match_store, "create", create_later)
        ready = asyncio.create_task(lobbies.ready("bob", True))
        async with asyncio.timeout(5):
            await reached.wait()
        await asyncio.to_thread(redis.stop)
        go_on.set()
        with pytest.raises(Unavailable):
            await ready
        await asyncio.to_thread(redis.start)

        # Bob sends ready again: the lobby started, its members still sit in it, and the
        # retry finishes the start (not NOT_IN_LOBBY with the match never stored).
        again = await lobbies.ready("bob", True)
        assert again.status == "started"
        assert await services.matches.current_match("bob") == again.match_id
        assert await store.seat_of("owner") is None
    finally:
        redis.stop()
        for client in clients:
            await client.aclose()
