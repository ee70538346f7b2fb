"""A player is in one running match at most, and a lobby's chat log does not outlive
its lobby by days: what one account can keep in Redis stays bounded."""

from __future__ import annotations

from typing import Any

import pytest
import redis as redis_sync

from client_sim.client import ArenaClient, ArenaError
from server.storage.feeds import CHAT_TTL_S, ROOM_ENDED_TTL_S
from tests.conftest import StartArena
from tests.helpers import ANY_RESULTS, connect, eventually, start_match


async def close_all(clients: list[ArenaClient]) -> None:
    for client in clients:
        await client.close()


def drain(client: ArenaClient) -> list[dict[str, Any]]:
    """The pushes the client has received and not read yet."""
    pushes = []
    while not client.pushes.empty():
        pushes.append(client.pushes.get_nowait())
    return pushes


async def another_match(clients: list[ArenaClient]) -> str:
    """The clients play through a new lobby into a new match; its id."""
    lobby = (await clients[0].request("lobby.create", mode="arena", capacity=len(clients)))["lobby"]
    for client in clients[1:]:
        await client.request("lobby.join", lobby_id=lobby["lobby_id"])
    for client in clients:
        await client.request("lobby.ready", ready=True)
    started = {str((await c.next_push("match.started"))["match_id"]) for c in clients}
    assert len(started) == 1
    return started.pop()


async def test_a_player_who_starts_a_new_match_leaves_the_one_still_running(
    arena: str,
) -> None:
    first, clients, players = await start_match([arena], 3)
    alice, bob, carol = clients
    try:
        await alice.request("chat.join", room=f"match:{first}")
        # Alice and Bob start another match without leaving the first; Carol stays.
        second = await another_match([alice, bob])
        assert second != first
        left = {(await carol.next_push("match.left"))["player_id"] for _ in range(2)}
        assert left == {players[0].player_id, players[1].player_id}
        for client in (alice, bob):
            current = (await client.request("match.current"))["match"]
            assert current["match_id"] == second
            with pytest.raises(ArenaError) as refused:
                await client.request("match.send", match_id=first, type="m")
            assert refused.value.code == "NOT_IN_MATCH"
        # The first match goes on with the one player still in it.
        assert (await carol.request("match.current"))["match"]["match_id"] == first
        listed = {m["match_id"]: m for m in (await carol.request("match.list"))["matches"]}
        assert listed[first]["playing"] == 1
        assert listed[second]["playing"] == 2
        feed = (await alice.request("match.feed", match_id=first))["events"]
        assert [e["ev"] for e in feed] == ["match.left", "match.left"]
        # Alice's socket stopped following the first match and left its chat room.
        await carol.request("chat.join", room=f"match:{first}")
        await carol.request("match.send", match_id=first, type="m", data="after")
        await carol.request("chat.send", room=f"match:{first}", text="still here")
        await carol.next_push("match.event")
        await carol.next_push("chat.message")
        await alice.request("ping")  # anything pushed to Alice before now came first
        stray = [p for p in drain(alice) if p.get("match_id") == first or "room" in p]
        assert [p["ev"] for p in stray if p["ev"] != "match.left"] == []
    finally:
        await close_all(clients)


async def test_leaving_by_starting_anew_lets_the_rest_agree_on_a_result(
    start_arena: StartArena,
) -> None:
    arena = await start_arena()
    first, clients, players = await start_match([arena], 3)
    alice, bob, carol = clients
    try:
        scores = {p.player_id: 10 - i for i, p in enumerate(players)}
        await bob.request("match.result", match_id=first, scores=scores)
        await carol.request("match.result", match_id=first, scores=scores)
        # Alice has not reported; once she is in another match, the two left agree.
        lobby = (await alice.request("lobby.create", mode="arena", capacity=2))["lobby"]
        _, dave = await connect(arena, "dave")
        clients.append(dave)
        await dave.request("lobby.join", lobby_id=lobby["lobby_id"])
        for client in (alice, dave):
            await client.request("lobby.ready", ready=True)
        ended = await carol.next_push("match.ended")
        assert (ended["match_id"], ended["scores"]) == (first, scores)
    finally:
        await close_all(clients)


async def test_a_lobby_chat_log_expires_soon_after_its_lobby_ends(
    arena: str, redis_client: redis_sync.Redis
) -> None:
    _, alice = await connect(arena, "alice")
    _, bob = await connect(arena, "bob")
    try:
        # A lobby that starts its match.
        lobby = (await alice.request("lobby.create", mode="arena", capacity=2))["lobby"]
        room = f"lobby:{lobby['lobby_id']}"
        await bob.request("lobby.join", lobby_id=lobby["lobby_id"])
        await alice.request("chat.join", room=room)
        await alice.request("chat.send", room=room, text="gl hf")
        log_key = f"arena:{{chat:{room}}}:log"
        assert redis_client.ttl(log_key) > ROOM_ENDED_TTL_S  # days, while the lobby lives
        for client in (alice, bob):
            await client.request("lobby.ready", ready=True)
        match_id = (await alice.next_push("match.started"))["match_id"]
        assert 0 < redis_client.ttl(log_key) <= ROOM_ENDED_TTL_S
        await alice.request("match.leave", match_id=match_id)
        await bob.request("match.leave", match_id=match_id)

        # A lobby whose last player leaves (it closes).
        lobby = (await alice.request("lobby.create", mode="arena", capacity=4))["lobby"]
        room = f"lobby:{lobby['lobby_id']}"
        await alice.request("chat.join", room=room)
        await alice.request("chat.send", room=room, text="anyone?")
        log_key = f"arena:{{chat:{room}}}:log"
        assert redis_client.ttl(log_key) > ROOM_ENDED_TTL_S
        await alice.request("lobby.leave")
        assert 0 < redis_client.ttl(log_key) <= ROOM_ENDED_TTL_S
    finally:
        await close_all([alice, bob])


async def test_a_match_chat_log_expires_soon_after_its_match_ends(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(modes=ANY_RESULTS)
    match_id, clients, players = await start_match([arena], 2)
    room = f"match:{match_id}"
    log_key = f"arena:{{chat:{room}}}:log"
    try:
        await clients[0].request("chat.join", room=room)
        await clients[0].request("chat.send", room=room, text="gg")
        assert redis_client.ttl(log_key) > ROOM_ENDED_TTL_S  # days, while the match runs
        scores = {p.player_id: 1 for p in players}
        await clients[0].request("match.result", match_id=match_id, scores=scores)
        await clients[1].next_push("match.ended")
        await eventually(lambda: _ttl_within(redis_client, log_key, ROOM_ENDED_TTL_S), within_s=5)
    finally:
        await close_all(clients)


async def test_a_post_after_the_match_ended_does_not_lengthen_its_chat_log(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    """The ended match's players may still post for an hour (its players set lives that
    long); each post keeps the log's hour, never the 7 days of a live room."""
    arena = await start_arena(modes=ANY_RESULTS)
    match_id, clients, players = await start_match([arena], 2)
    room = f"match:{match_id}"
    log_key = f"arena:{{chat:{room}}}:log"
    try:
        await clients[0].request("chat.join", room=room)
        await clients[0].request("chat.send", room=room, text="gg")
        scores = {p.player_id: 1 for p in players}
        await clients[0].request("match.result", match_id=match_id, scores=scores)
        await clients[1].next_push("match.ended")
        await eventually(lambda: _ttl_within(redis_client, log_key, ROOM_ENDED_TTL_S), within_s=5)
        await clients[1].request("chat.send", room=room, text="one more")
        assert 0 < redis_client.ttl(log_key) <= ROOM_ENDED_TTL_S
        assert redis_client.xlen(log_key) == 2
    finally:
        await close_all(clients)


async def test_a_post_after_the_lobby_closed_does_not_lengthen_its_chat_log(
    arena: str, redis_client: redis_sync.Redis
) -> None:
    """A post whose membership check passed just before the lobby ended, appended just
    after the lobby's end shortened its room log, leaves the log short. (An ended lobby
    refuses posts, so the end is played here as the lobby's close does it: the log's
    EXPIRE ... LT, while bob still sits in the lobby.)"""
    _, alice = await connect(arena, "alice")
    _, bob = await connect(arena, "bob")
    try:
        lobby = (await alice.request("lobby.create", mode="arena", capacity=4))["lobby"]
        room = f"lobby:{lobby['lobby_id']}"
        await bob.request("lobby.join", lobby_id=lobby["lobby_id"])
        await alice.request("chat.join", room=room)
        await alice.request("chat.send", room=room, text="hi")
        log_key = f"arena:{{chat:{room}}}:log"
        # The room ended (as lobby.close does) while bob is still seated.
        redis_client.expire(log_key, ROOM_ENDED_TTL_S, lt=True)
        await bob.request("chat.send", room=room, text="still here")
        assert 0 < redis_client.ttl(log_key) <= ROOM_ENDED_TTL_S
    finally:
        await close_all([alice, bob])


async def test_a_live_room_log_gets_its_days_on_each_post(
    arena: str, redis_client: redis_sync.Redis
) -> None:
    _, alice = await connect(arena, "alice")
    try:
        lobby = (await alice.request("lobby.create", mode="arena", capacity=4))["lobby"]
        room = f"lobby:{lobby['lobby_id']}"
        await alice.request("chat.join", room=room)
        await alice.request("chat.send", room=room, text="first")
        log_key = f"arena:{{chat:{room}}}:log"
        assert redis_client.ttl(log_key) > CHAT_TTL_S - 60
        redis_client.expire(log_key, CHAT_TTL_S // 2)  # days gone by without a post
        await alice.request("chat.send", room=room, text="second")
        assert redis_client.ttl(log_key) > CHAT_TTL_S - 60
    finally:
        await alice.close()


async def _ttl_within(redis_client: redis_sync.Redis, key: str, most_s: int) -> bool:
    return 0 < redis_client.ttl(key) <= most_s
