"""Who leaves a lobby or a match leaves its chat room: they hear it no more, and may no
longer write or read it. A message that does arrive later proves one did not."""

from __future__ import annotations

from typing import Any

import pytest
import redis as redis_sync

from client_sim.client import ArenaClient, ArenaError
from server.storage import keys
from tests.conftest import StartArena
from tests.helpers import connect, eventually, http_json, start_match

ADMIN_KEY = "admin-" + "k" * 40


async def next_chat(client: ArenaClient) -> Any:
    return (await client.next_push("chat.message"))["text"]


async def assert_not_in_room(client: ArenaClient, room: str) -> None:
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("chat.send", {"text": "still here?"}),
        ("chat.history", {}),
    ]
    for op, fields in attempts:
        with pytest.raises(ArenaError) as refused:
            await client.request(op, room=room, **fields)
        assert refused.value.code == "NOT_IN_ROOM", op


async def test_a_player_who_left_the_lobby_no_longer_hears_its_room(arena: str) -> None:
    _, olga = await connect(arena, "olga")
    _, bob = await connect(arena, "bob")
    async with olga, bob:
        lobby = (await olga.request("lobby.create", mode="duel", capacity=3))["lobby"]
        room = f"lobby:{lobby['lobby_id']}"
        await bob.request("lobby.join", lobby_id=lobby["lobby_id"])
        for client in (olga, bob):
            await client.request("chat.join", room=room)
            await client.request("chat.join", room="general")
        await olga.request("chat.send", room=room, text="welcome")
        assert await next_chat(bob) == "welcome"

        await bob.request("lobby.leave")
        await olga.request("chat.send", room=room, text="only for those seated")
        await olga.request("chat.send", room="general", text="for everyone")
        # Messages reach a socket in the order they were published: had bob still been
        # in the lobby's room, the first would have come first.
        assert await next_chat(bob) == "for everyone"
        await assert_not_in_room(bob, room)


async def test_a_player_who_left_the_match_no_longer_hears_its_room(arena: str) -> None:
    match_id, (olga, bob, carol), _ = await start_match([arena], 3)
    room = f"match:{match_id}"
    try:
        for client in (olga, bob):
            await client.request("chat.join", room=room)
            await client.request("chat.join", room="general")
        await bob.request("match.leave", match_id=match_id)
        await olga.request("chat.send", room=room, text="one down")
        await olga.request("chat.send", room="general", text="for everyone")
        assert await next_chat(bob) == "for everyone"
        await assert_not_in_room(bob, room)
    finally:
        for client in (olga, bob, carol):
            await client.close()


def node_listeners(redis_client: redis_sync.Redis, room: str) -> int:
    """How many connections Redis has subscribed to the room's channel: the node's one
    while any of its sockets is in the room, none once the last left."""
    counts = redis_client.pubsub_shardnumsub(keys.chat_channel(room))
    return int(counts[0][1])


async def until_listeners(redis_client: redis_sync.Redis, room: str, count: int) -> None:
    async def reached() -> bool:
        return node_listeners(redis_client, room) == count

    await eventually(reached, within_s=5)


async def test_sockets_leave_the_lobby_room_when_its_match_starts(
    arena: str, redis_client: redis_sync.Redis
) -> None:
    _, olga = await connect(arena, "olga")
    _, bob = await connect(arena, "bob")
    async with olga, bob:
        lobby = (await olga.request("lobby.create", mode="duel", capacity=2))["lobby"]
        room = f"lobby:{lobby['lobby_id']}"
        await bob.request("lobby.join", lobby_id=lobby["lobby_id"])
        for client in (olga, bob):
            await client.request("chat.join", room=room)
        await until_listeners(redis_client, room, 1)
        for client in (olga, bob):
            await client.request("lobby.ready", ready=True)
        for client in (olga, bob):
            await client.next_push("match.started")
        await until_listeners(redis_client, room, 0)
        await assert_not_in_room(olga, room)  # the lobby has no seats any more


async def test_sockets_leave_the_lobby_room_when_an_operator_closes_the_lobby(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(admin_key=ADMIN_KEY)
    _, olga = await connect(arena, "olga")
    async with olga:
        lobby = (await olga.request("lobby.create", mode="duel", capacity=2))["lobby"]
        room = f"lobby:{lobby['lobby_id']}"
        await olga.request("chat.join", room=room)
        await until_listeners(redis_client, room, 1)
        status, _ = await http_json(
            "POST", f"{arena}/v1/admin/lobbies/{lobby['lobby_id']}/close", token=ADMIN_KEY
        )
        assert status == 200
        await olga.next_push("lobby.closed")
        await until_listeners(redis_client, room, 0)
        await assert_not_in_room(olga, room)
