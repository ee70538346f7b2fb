"""Lobby seats through faults of the whole: a Redis outage takes no seat from a player who
stayed connected, and a player whose seat was taken from them (it lapsed while their node
stalled, or an operator kicked them) is told and leaves the lobby's chat room."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
import redis as redis_sync

from client_sim.client import ArenaClient
from server.embedded_redis import RedisProcess
from server.errors import Unavailable
from server.storage import keys
from tests.conftest import SpawnNode, StartArena
from tests.helpers import Pushes, connect, eventually, http_json, login
from tests.nodes import NodeProcess
from tests.test_chat_leaving import ADMIN_KEY, assert_not_in_room, next_chat
from tests.test_lobby_lease import next_push, open_services, pushes_to, stop_listening

NAMES = ["alice", "bob", "carol"]


def member_ids(lobby: dict[str, object]) -> set[str]:
    return {m["player_id"] for m in lobby["members"]}  # type: ignore[attr-defined]


def seat_lease_ms(r: redis_sync.Redis, player_id: str) -> float:
    return r.zscore(keys.seat_leases(), player_id) or 0.0


async def test_a_redis_outage_takes_no_seat_from_a_player_who_stayed_connected(
    spawn_node: SpawnNode, tmp_path: Path
) -> None:
    """The reviewer's case: two nodes, a short lobby grace, a Redis outage longer than the
    presence TTL. The node back first used to free the seats of the other node's players
    before that node had renewed them. Node b is held (SIGSTOP) until node a has run whole
    upkeep rounds after the outage: b is as slow to come back as it may be (within a
    presence TTL), every time, not by chance."""
    redis = RedisProcess(
        tmp_path / "redis", appendonly=True, extra_args=["--appendfsync", "always"]
    ).start()
    try:
        common = {
            "ARENA_PRESENCE_TTL": "3",
            "ARENA_LOBBY_GRACE": "0.5",
            "ARENA_REDIS_TIMEOUT": "0.5",
        }
        a = spawn_node(redis_url=redis.url, ARENA_PRESENCE_INTERVAL="0.2", **common)
        b = spawn_node(redis_url=redis.url, ARENA_PRESENCE_INTERVAL="1", **common)
        nodes: list[NodeProcess] = [a, b, a]
        logins = [await login(n.url, name) for n, name in zip(nodes, NAMES, strict=True)]
        alice, bob, carol = [
            await ArenaClient.connect(n.url, p.token) for n, p in zip(nodes, logins, strict=True)
        ]
        bob_id, carol_id = logins[1].player_id, logins[2].player_id
        r = redis_sync.Redis.from_url(redis.url)
        try:
            lobby = (await alice.request("lobby.create", mode="arena", capacity=4))["lobby"]
            lobby_id = lobby["lobby_id"]
            await bob.request("lobby.join", lobby_id=lobby_id)
            await carol.request("lobby.join", lobby_id=lobby_id)
            updates = Pushes(alice, "lobby.updated")
            bob_closed = Pushes(bob, "lobby.closed")

            b.signal(signal.SIGSTOP)
            try:
                redis.stop()
                # The outage itself, longer than the presence TTL: Redis down for that long is
                # what is tested, not a wait for something.
                await asyncio.sleep(4.0)
                await asyncio.to_thread(redis.start)
                back_ms = time.time() * 1000

                # Node a renews its players' seats once per upkeep round: a second renewal
                # after the outage means a whole round (freeing lapsed seats included) ran.
                async def renewed_after(ms: float) -> bool:
                    try:
                        return seat_lease_ms(r, carol_id) > ms
                    except redis_sync.RedisError:
                        return False

                await eventually(lambda: renewed_after(back_ms + 500), within_s=10)
                first = seat_lease_ms(r, carol_id)
                await eventually(lambda: renewed_after(first), within_s=5)
            finally:
                b.signal(signal.SIGCONT)

            # A seat that does lapse now is freed once the nodes free seats again: by then
            # they have freed whatever they took for lapsed.
            await carol.close()
            await updates.until(
                lambda pushed: any(carol_id not in member_ids(p["lobby"]) for p in pushed),
                within_s=20,
            )
            last = next(p["lobby"] for p in updates.items if carol_id not in member_ids(p["lobby"]))
            assert bob_id in member_ids(last)
            assert r.get(keys.player_lobby(bob_id)) == lobby_id.encode()
            assert member_ids((await bob.request("lobby.get", lobby_id=lobby_id))["lobby"]) == {
                logins[0].player_id,
                bob_id,
            }
            assert bob_closed.items == []
        finally:
            for client in (alice, bob, carol):
                await client.close()
            r.close()
    finally:
        redis.stop()


def kept_pushes(r: redis_sync.Redis, player_id: str) -> list[dict[str, object]]:
    return [msgpack.unpackb(p) for p in r.lrange(keys.player_kept_pushes(player_id), 0, -1)]


async def test_a_player_whose_seat_lapsed_is_told_and_hears_the_lobby_room_no_more(
    start_arena: StartArena, spawn_node: SpawnNode, redis_client: redis_sync.Redis
) -> None:
    """Bob's node stalls past his presence TTL and the grace: the steady node frees his
    seat. When his node comes back his socket is still open: he is told (``lobby.closed``,
    ``seat_lapsed``) and his socket is out of the lobby's room."""
    steady = await start_arena(
        presence_interval_s=0.2, presence_ttl_s=1.0, lobby_grace_s=0.3, match_abandon_s=60.0
    )
    stalling = spawn_node(
        ARENA_PRESENCE_INTERVAL="0.2", ARENA_PRESENCE_TTL="1", ARENA_LOBBY_GRACE="0.3"
    )
    olga_login, bob_login = await login(steady, "olga"), await login(stalling.url, "bob")
    olga = await ArenaClient.connect(steady, olga_login.token)
    bob = await ArenaClient.connect(stalling.url, bob_login.token)
    try:
        lobby_id = (await olga.request("lobby.create", mode="arena", capacity=4))["lobby"][
            "lobby_id"
        ]
        room = f"lobby:{lobby_id}"
        await bob.request("lobby.join", lobby_id=lobby_id)
        for client in (olga, bob):
            await client.request("chat.join", room=room)
            await client.request("chat.join", room="general")
        await olga.request("chat.send", room=room, text="welcome")
        assert await next_chat(bob) == "welcome"
        updates = Pushes(olga, "lobby.updated")

        stalling.signal(signal.SIGSTOP)  # its heartbeat stops; bob's socket stays open
        try:
            await updates.until(
                lambda pushed: any(
                    bob_login.player_id not in member_ids(p["lobby"]) for p in pushed
                ),
                within_s=15,
            )
        finally:
            stalling.signal(signal.SIGCONT)
        closed = await bob.next_push("lobby.closed", timeout=10)
        assert closed == {"ev": "lobby.closed", "lobby_id": lobby_id, "reason": "seat_lapsed"}
        assert kept_pushes(redis_client, bob_login.player_id) == [closed]
        await olga.request("chat.send", room=room, text="only for those seated")
        await olga.request("chat.send", room="general", text="for everyone")
        # In the order published: had bob's socket still been in the room, that came first.
        assert await next_chat(bob) == "for everyone"
        await assert_not_in_room(bob, room)
    finally:
        for client in (olga, bob):
            await client.close()


async def test_a_kicked_player_is_told_the_lobby_is_closed_for_them(
    start_arena: StartArena, redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(admin_key=ADMIN_KEY)
    olga_login, olga = await connect(arena, "olga")
    bob_login, bob = await connect(arena, "bob")
    pushes, listener, running = await pushes_to(redis_server.url, [bob_login.player_id])
    try:
        lobby_id = (await olga.request("lobby.create", mode="arena", capacity=4))["lobby"][
            "lobby_id"
        ]
        await bob.request("lobby.join", lobby_id=lobby_id)
        status, _ = await http_json(
            "POST", f"{arena}/v1/admin/players/{bob_login.player_id}/kick", token=ADMIN_KEY
        )
        assert status == 200
        closed = await next_push(pushes, "lobby.closed")
        assert closed == {"ev": "lobby.closed", "lobby_id": lobby_id, "reason": "kicked"}
        assert kept_pushes(redis_client, bob_login.player_id) == [closed]
        # Not sent to a player who leaves by themselves, nor to those who stay.
        assert kept_pushes(redis_client, olga_login.player_id) == []
    finally:
        await stop_listening(listener, running)
        for client in (olga, bob):
            await client.close()


async def test_a_seat_key_always_has_a_ttl_even_when_its_lease_was_never_written(
    redis_server: RedisProcess, redis_client: redis_sync.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, store, clients = await open_services(redis_server.url)
    try:
        lobbies = services.lobbies
        lobby = await lobbies.create(
            "owner", "olga", mode="arena", capacity=4, name=None, private=False
        )
        assert redis_client.pttl(keys.player_lobby("owner")) > 0

        # The seat is taken, then the lease cannot be written (its command, in the same
        # write as the seat's, fails: another master of a cluster, say): the key is left
        # behind.
        mux = store._mux
        pipeline = mux.pipeline

        async def lease_fails(*commands: tuple[Any, ...]) -> list[Any]:
            if not any(c[0] == "ZADD" and c[1] == keys.seat_leases() for c in commands):
                return await pipeline(*commands)
            await pipeline(*(c for c in commands if c[1] != keys.seat_leases()))
            raise Unavailable("injected: the lease step fails")

        monkeypatch.setattr(mux, "pipeline", lease_fails)
        with pytest.raises(Unavailable):
            await lobbies.join("bob", "bob", lobby.lobby_id)
        assert redis_client.get(keys.player_lobby("bob")) == lobby.lobby_id.encode()
        assert redis_client.zscore(keys.seat_leases(), "bob") is None
        assert redis_client.pttl(keys.player_lobby("bob")) > 0  # it still goes by itself
        monkeypatch.undo()  # the renewal's own pipeline writes the leases too

        # A renewed lease renews the key's life too.
        redis_client.pexpire(keys.player_lobby("owner"), 1000)
        await lobbies.renew_seats(["owner"])
        assert redis_client.pttl(keys.player_lobby("owner")) > 1000
    finally:
        for client in clients:
            await client.aclose()
