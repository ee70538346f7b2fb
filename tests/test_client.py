"""The reference client against a real server: replies, errors, pushes, reconnect, catch-up."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator

import pytest

from client_sim.client import ArenaClient, ArenaError, Backoff
from server.protocol import Format
from tests.conftest import SpawnNode, StartArena
from tests.helpers import connect, login, start_match


async def test_requests_return_results_and_errors_carry_code_and_wait(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(rate_limits="lb.submit=1/1")
    _, client = await connect(arena, "alice")
    async with client:
        assert isinstance((await client.request("ping"))["server_time_ms"], int)
        await client.request("lb.submit", board="global", score=5)
        with pytest.raises(ArenaError) as limited:
            await client.request("lb.submit", board="global", score=6)
        assert limited.value.code == "RATE_LIMITED"
        assert limited.value.retry_after_ms is not None
        assert limited.value.retry_after_ms > 0
        with pytest.raises(ArenaError) as unknown:
            await client.request("no.such.op")
        assert (unknown.value.code, bool(unknown.value.message)) == ("UNKNOWN_OP", True)
        with pytest.raises(TimeoutError):
            await client.request("ping", timeout=0)


async def test_json_is_selectable_and_pushes_reach_callbacks_and_iterators(arena: str) -> None:
    alice_login = await login(arena, "alice")
    alice = await ArenaClient.connect(arena, alice_login.token, fmt=Format.JSON)
    _, bob = await connect(arena, "bob")
    heard: list[str] = []
    alice.on("chat.message", lambda push: heard.append(push["text"]))
    async with alice, bob:
        await alice.request("chat.join", room="general")
        assert alice.rooms == {"general"}
        await bob.request("chat.send", room="general", text="hello")
        iterator = alice.events("chat.message")
        push = await asyncio.wait_for(anext(iterator), 5)
        assert push["text"] == "hello"
        assert heard == ["hello"]  # the callback ran as the push arrived


async def test_a_dropped_client_comes_back_and_misses_no_match_event(
    spawn_node: SpawnNode,
) -> None:
    a, b = spawn_node(), spawn_node()
    match_id, clients, _ = await start_match([a.url, b.url], 2, reconnect=True)
    follower, sender = clients  # the follower's socket is on node a
    try:
        for seq in range(10):
            await sender.send("match.send", match_id=match_id, type="move", data=seq)
        got = [(await follower.next_push("match.event"))["data"] for _ in range(10)]

        a.signal(signal.SIGTERM)  # node a stops: its sockets get 1001, a reason to come back
        await follower.next_push("server.shutdown")
        await asyncio.to_thread(a.wait, 10)
        for seq in range(10, 20):  # while the follower is away
            await sender.send("match.send", match_id=match_id, type="move", data=seq)
        await asyncio.to_thread(a.start)  # the node is back, on the same address

        async def keep_playing() -> None:  # live events while the client catches up
            for seq in range(20, 40):
                await sender.send("match.send", match_id=match_id, type="move", data=seq)
                await asyncio.sleep(0.01)  # a player's pace: events go on during the catch-up

        playing = asyncio.create_task(keep_playing())
        got += [(await follower.next_push("match.event", timeout=15))["data"] for _ in range(30)]
        await playing
        # The gap filled from the feed, live events after it, nothing twice, in order.
        assert got == list(range(40))
        assert follower.reconnects == 1
        await sender.request("ping")
        assert all(p["ev"] != "match.event" for p in drained(follower))
    finally:
        for client in clients:
            await client.close()


def drained(client: ArenaClient) -> list[dict[str, object]]:
    pushes = []
    while not client.pushes.empty():
        pushes.append(client.pushes.get_nowait())
    return pushes


async def test_a_replaced_socket_does_not_come_back(arena: str) -> None:
    player = await login(arena, "alice")
    first = await ArenaClient.connect(arena, player.token, reconnect=Backoff(first_s=0.01))
    await first.request("ping")
    async with await ArenaClient.connect(arena, player.token) as second:
        assert await first.wait_closed() == 4001  # replaced: coming back would fight it
        assert first.reconnects == 0
        assert "server_time_ms" in await second.request("ping")
    await first.close()


async def test_a_failing_callback_spares_the_socket_and_a_closed_socket_ends_iterators(
    arena: str,
) -> None:
    _, alice = await connect(arena, "alice")
    _, bob = await connect(arena, "bob")

    def broken(push: dict[str, object]) -> None:
        raise RuntimeError("a bug in the game's handler")

    alice.on("chat.message", broken)
    async with bob:
        await alice.request("chat.join", room="general")
        await bob.request("chat.send", room="general", text="one")
        assert (await alice.next_push("chat.message"))["text"] == "one"
        assert "server_time_ms" in await alice.request("ping")  # still alive
        alice.off("chat.message", broken)
        pushes = [push async for push in _until_closed(alice)]
        assert pushes == []
    with pytest.raises(Exception, match="closed"):
        await alice.request("ping")


async def _until_closed(client: ArenaClient) -> AsyncIterator[dict[str, object]]:
    """Close the client, then drain its events() iterator: it must end, not hang."""
    iterator = client.events()
    await client.close()
    async with asyncio.timeout(5):
        async for push in iterator:
            yield push
