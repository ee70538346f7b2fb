"""What one join and one leave send to Redis: the lobby's read comes with the lock's
acquire, the seat and its lease leave together, one confirm precedes the index and the
pushes, and a held lock costs no renewal task. Real Redis; the commands are counted
at the shared client (no timing)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis as redis_sync

from server.embedded_redis import RedisProcess
from server.services import Services
from server.services.lobby_news import Removal
from server.storage import keys
from server.storage.scripts import source
from tests.test_lobby_lease import PausingStore, open_services


class Sent:
    """The commands the shared client sends (a script by its name)."""

    def __init__(self, mux: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.names: list[str] = []
        self._by_sha = {mux.register_script(source(n)): n for n in ("lock_extend",)}
        execute, evalsha, pipeline = mux.execute, mux.evalsha, mux.pipeline

        async def counted_execute(*args: Any) -> Any:
            self.names.append(str(args[0]))
            return await execute(*args)

        async def counted_evalsha(sha: str, keys: list[str], args: list[Any]) -> Any:
            self.names.append(f"script {self._by_sha.get(sha, sha)}")
            return await evalsha(sha, keys, args)

        async def counted_pipeline(*commands: tuple[Any, ...]) -> Any:
            self.names.extend(str(c[0]) for c in commands)
            return await pipeline(*commands)

        monkeypatch.setattr(mux, "execute", counted_execute)
        monkeypatch.setattr(mux, "evalsha", counted_evalsha)
        monkeypatch.setattr(mux, "pipeline", counted_pipeline)


@pytest.fixture
async def lobby_services(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> AsyncIterator[tuple[Services, PausingStore, Any]]:
    services, store, clients = await open_services(redis_server.url)
    yield services, store, clients[0]
    for client in clients:
        await client.aclose()


async def test_a_join_and_a_leave_send_what_they_must_and_no_more(
    lobby_services: tuple[Services, PausingStore, Any],
    redis_client: redis_sync.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services, _, mux = lobby_services
    lobbies = services.lobbies
    lobby = await lobbies.create("owner", "olga", mode="ffa", capacity=4, name=None, private=False)
    sent = Sent(mux, monkeypatch)

    await lobbies.join("bob", "bob", lobby.lobby_id)
    # The read came with the acquire; one confirm before the index and the pushes; the
    # seat's TTL came with its SET (no PEXPIRE of its own).
    assert "HGETALL" not in sent.names
    assert sent.names.count("script lock_extend") == 1
    assert "PEXPIRE" not in sent.names
    # rate limit, acquire, seat and lease, write, confirm, index (2), pushes (2 members
    # and the watchers), release.
    assert len(sent.names) == 12
    assert redis_client.get(keys.player_lobby("bob")) == lobby.lobby_id.encode()
    assert redis_client.zscore(keys.seat_leases(), "bob") is not None
    assert redis_client.pttl(keys.player_lobby("bob")) > 0

    sent.names.clear()
    await lobbies.leave("bob")
    assert "HGETALL" not in sent.names
    assert sent.names.count("script lock_extend") == 1
    # rate limit, the seat's GET, acquire, write, the seat freed, confirm, index (2) with
    # the lease dropped, pushes (1 member and the watchers), release.
    assert len(sent.names) == 12
    assert redis_client.get(keys.player_lobby("bob")) is None
    assert redis_client.zscore(keys.seat_leases(), "bob") is None
    assert redis_client.zscore(keys.open_lobbies("ffa"), lobby.lobby_id) == 1


async def test_a_seat_left_pointing_here_lives_on_once_the_join_takes_it(
    lobby_services: tuple[Services, PausingStore, Any], redis_client: redis_sync.Redis
) -> None:
    services, _, _ = lobby_services
    lobbies = services.lobbies
    lobby = await lobbies.create("owner", "olga", mode="ffa", capacity=4, name=None, private=False)
    # A seat naming this lobby, its join never written (SET NX keeps this key's TTL).
    redis_client.set(keys.player_lobby("bob"), lobby.lobby_id, px=1000)
    joined = await lobbies.join("bob", "bob", lobby.lobby_id)
    assert [m.player_id for m in joined.members] == ["owner", "bob"]
    assert redis_client.pttl(keys.player_lobby("bob")) > 1000
    assert redis_client.zscore(keys.seat_leases(), "bob") is not None


async def test_a_held_lock_costs_no_task_until_a_renewal_is_due(
    lobby_services: tuple[Services, PausingStore, Any],
) -> None:
    services, _, _ = lobby_services
    before = len(asyncio.all_tasks())
    async with services.locks.hold("lobby:tasks", ttl_ms=60_000, wait_s=1):
        assert len(asyncio.all_tasks()) == before
    async with services.locks.hold("lobby:tasks", ttl_ms=300, wait_s=1) as lease:
        # Renewed every 100 ms: held well past its TTL, it is still this holder's.
        await asyncio.sleep(0.5)
        await services.locks.confirm(lease)
    assert len(asyncio.all_tasks()) == before


async def test_a_kicked_player_who_sits_down_elsewhere_at_once_keeps_the_new_seats_lease(
    lobby_services: tuple[Services, PausingStore, Any],
    redis_client: redis_sync.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A kick tells the player before the lobby's index is written: a client that joins
    another lobby the moment it hears must not lose that seat's lease to the kick's index
    (the lease is what frees the seat once the player is gone)."""
    services, _, _ = lobby_services
    lobbies = services.lobbies
    first = await lobbies.create("owner", "olga", mode="ffa", capacity=4, name=None, private=False)
    other = await lobbies.create("anna", "anna", mode="ffa", capacity=4, name=None, private=False)
    await lobbies.join("bob", "bob", first.lobby_id)
    news = lobbies._news
    tell_removed = news.tell_removed

    async def heard_and_rejoined(player_id: str, lobby_id: str, why: Removal) -> None:
        await tell_removed(player_id, lobby_id, why)
        await lobbies.join("bob", "bob", other.lobby_id)  # the client, at once

    monkeypatch.setattr(news, "tell_removed", heard_and_rejoined)
    assert await lobbies.remove("bob", Removal.KICKED) == first.lobby_id
    assert redis_client.get(keys.player_lobby("bob")) == other.lobby_id.encode()
    assert redis_client.zscore(keys.seat_leases(), "bob") is not None
