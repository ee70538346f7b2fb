"""Who is online, as players on one node see it."""

from __future__ import annotations

import pytest

from client_sim.client import ArenaError
from tests.helpers import connect, eventually, login


async def test_presence_get_tells_who_is_online(arena: str) -> None:
    alice, alice_client = await connect(arena, "alice")
    bob = await login(arena, "bob")
    async with alice_client:
        reply = await alice_client.request(
            "presence.get", player_ids=[alice.player_id, bob.player_id]
        )
        assert reply == {"online": 1, "players": {alice.player_id: True, bob.player_id: False}}


async def test_a_closed_socket_leaves_the_online_count(arena: str) -> None:
    _, alice_client = await connect(arena, "alice")
    bob, bob_client = await connect(arena, "bob")
    async with alice_client:
        await bob_client.request("ping")
        assert (await alice_client.request("presence.get", player_ids=[]))["online"] == 2
        await bob_client.close()

        async def bob_is_gone() -> bool:
            reply = await alice_client.request("presence.get", player_ids=[bob.player_id])
            return bool(reply == {"online": 1, "players": {bob.player_id: False}})

        # The server releases the socket when it sees the close; ask until it has.
        await eventually(bob_is_gone, within_s=2)


async def test_presence_get_caps_the_list(arena: str) -> None:
    _, client = await connect(arena)
    async with client:
        reply = await client.request("presence.get", player_ids=[f"p{i}" for i in range(100)])
        assert len(reply["players"]) == 100
        with pytest.raises(ArenaError) as refused:
            await client.request("presence.get", player_ids=[f"p{i}" for i in range(101)])
        assert refused.value.code == "BAD_REQUEST"
