"""Chat as players live it: public rooms, lobby and match rooms for members only, history."""

from __future__ import annotations

from typing import Any

import pytest

from client_sim.client import ArenaError
from tests.conftest import SpawnNode, StartArena
from tests.helpers import connect, start_match


async def test_players_on_two_nodes_chat_in_a_public_room(spawn_node: SpawnNode) -> None:
    a, b = spawn_node(), spawn_node()
    alice_login, alice = await connect(a.url, "alice")
    _, bob = await connect(b.url, "bob")
    _, carol = await connect(a.url, "carol")  # on alice's node
    async with alice, bob, carol:
        for client in (alice, bob, carol):
            await client.request("chat.join", room="general")
        sent = await bob.request("chat.send", room="general", text="gg, rematch?")
        for client in (alice, bob):
            message = await client.next_push("chat.message")
            assert message["id"] == sent["id"]
            assert (message["room"], message["name"], message["text"]) == (
                "general",
                "bob",
                "gg, rematch?",
            )
        await carol.next_push("chat.message")
        await alice.request("chat.leave", room="general")
        await bob.request("chat.send", room="general", text="anyone?")
        # Carol, on alice's node, got it: had alice still been in the room, so would she.
        assert (await carol.next_push("chat.message"))["text"] == "anyone?"
        assert alice.pushes.empty()
        history = (await alice.request("chat.history", room="general", limit=10))["messages"]
        assert [m["text"] for m in history] == ["gg, rematch?", "anyone?"]  # oldest first
        assert history[0]["from"] != alice_login.player_id


async def test_lobby_and_match_rooms_are_for_their_members(arena: str) -> None:
    match_id, clients, _ = await start_match([arena], 2)
    _, outsider = await connect(arena, "mallory")
    player = clients[0]
    try:
        lobby_id = (await player.request("lobby.create", mode="duo", capacity=2))["lobby"][
            "lobby_id"
        ]
        await player.request("chat.join", room=f"lobby:{lobby_id}")
        await player.request("chat.join", room=f"match:{match_id}")
        await clients[1].request("chat.join", room=f"match:{match_id}")
        await clients[1].request("chat.send", room=f"match:{match_id}", text="nice shot")
        assert (await player.next_push("chat.message"))["text"] == "nice shot"
        for room in (f"lobby:{lobby_id}", f"match:{match_id}", "no-such-room"):
            attempts: list[tuple[str, dict[str, Any]]] = [
                ("chat.join", {}),
                ("chat.send", {"text": "hi"}),
                ("chat.history", {}),
            ]
            for op, fields in attempts:
                with pytest.raises(ArenaError) as refused:
                    await outsider.request(op, room=room, **fields)
                assert refused.value.code == "NOT_IN_ROOM", (op, room)
    finally:
        for client in [*clients, outsider]:
            await client.close()


async def test_bad_chat_input_gets_clear_errors(arena: str) -> None:
    _, alice = await connect(arena, "alice")
    async with alice:
        cases: list[tuple[str, dict[str, Any]]] = [
            ("chat.send", {"room": "general", "text": ""}),
            ("chat.send", {"room": "general", "text": "x" * 501}),
            ("chat.send", {"room": "general", "text": "   "}),
            ("chat.send", {"room": "general", "text": "bell\x07"}),
            ("chat.send", {"room": "general"}),
            ("chat.join", {"room": "Not A Room!"}),
            ("chat.join", {"room": "lobby:xyz"}),
            ("chat.history", {"room": "general", "limit": 101}),
            ("chat.leave", {"room": ""}),
        ]
        for op, fields in cases:
            with pytest.raises(ArenaError) as refused:
                await alice.request(op, **fields)
            assert refused.value.code == "BAD_REQUEST", (op, fields)
        await alice.request("chat.send", room="general", text="x" * 500)  # the limit itself
        await alice.request("chat.send", room="general", text="two\nlines")


async def test_chat_is_rate_limited_and_rooms_per_socket_are_capped(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(
        rate_limits="chat.send=3/1,chat.join=100/100",
        chat_rooms=",".join(f"room{i}" for i in range(20)),
    )
    _, alice = await connect(arena, "alice")
    async with alice:
        for _ in range(3):
            await alice.request("chat.send", room="room0", text="spam")
        with pytest.raises(ArenaError) as limited:
            await alice.request("chat.send", room="room0", text="spam")
        assert limited.value.code == "RATE_LIMITED"
        for i in range(16):
            await alice.request("chat.join", room=f"room{i}")
        await alice.request("chat.join", room="room3")  # already in: fine
        with pytest.raises(ArenaError) as capped:
            await alice.request("chat.join", room="room16")
        assert capped.value.code == "BAD_REQUEST"
        await alice.request("chat.leave", room="room0")
        await alice.request("chat.join", room="room16")


async def test_the_global_feed_is_bounded(arena: str) -> None:
    _, alice = await connect(arena, "alice")
    async with alice:
        assert (await alice.request("feed.global"))["entries"] == []
        with pytest.raises(ArenaError) as refused:
            await alice.request("feed.global", limit=101)
        assert refused.value.code == "BAD_REQUEST"
