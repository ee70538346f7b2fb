"""Connection caps: one socket per spectator session, a cap on sockets per client address,
and a deadline for a request's headers (a slowloris is cut off). Real sockets throughout."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import redis as redis_sync

from client_sim.client import ArenaClient
from server.storage import keys
from tests.conftest import SpawnNode, StartArena
from tests.helpers import eventually, http_json, login


async def spectator_token(base_url: str) -> str:
    status, body = await http_json("POST", base_url + "/v1/auth/spectator", json={})
    assert status == 200
    return str(body["token"])


async def test_a_second_socket_on_a_spectator_session_replaces_the_first_across_nodes(
    start_arena: StartArena,
) -> None:
    node_a, node_b = await start_arena(), await start_arena()
    token = await spectator_token(node_a)
    first = await ArenaClient.connect(node_a, token)
    async with first:
        assert await first.request("watch") == {}
        async with await ArenaClient.connect(node_b, token) as second:
            assert (await first.next_push("session.replaced")) is not None
            assert await first.wait_closed() == 4001
            # The newer one works on.
            assert (await second.request("session.get"))["role"] == "spectator"
            # And the one it replaced cannot come back to replace it in turn unnoticed:
            # a third socket replaces the second the same way.
            async with await ArenaClient.connect(node_a, token) as third:
                assert await second.wait_closed() == 4001
                assert (await third.request("session.get"))["role"] == "spectator"


async def test_sockets_per_client_address_are_capped_on_a_node(start_arena: StartArena) -> None:
    arena = await start_arena(max_sockets_per_ip=2)
    players = [await login(arena, f"p{i}") for i in range(3)]
    first = await ArenaClient.connect(arena, players[0].token)
    second = await ArenaClient.connect(arena, players[1].token)
    async with second:
        async with first:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await ArenaClient.connect(arena, players[2].token)
            assert refused.value.status == 429
            # The reply says why, before any upgrade.
            status, body = await http_json("GET", f"{arena}/v1/ws?token={players[2].token}")
            assert (status, body["error"]["code"]) == (429, "TOO_MANY_SOCKETS")
        # A socket that closed frees its place.

        async def third_gets_in() -> bool:
            try:
                client = await ArenaClient.connect(arena, players[2].token)
            except aiohttp.WSServerHandshakeError:
                return False
            async with client:
                return bool((await client.request("session.get"))["name"] == "p2")

        await eventually(third_gets_in, within_s=5)


async def drip(port: int, head: bytes) -> bytes:
    """A slowloris: sends ``head`` at once, then one header byte at a time, every 50 ms,
    forever; returns what the server sent before it closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    await writer.drain()
    received = b""
    try:
        for byte in b"X-Slow: " + b"a" * 100_000:
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                chunk = await asyncio.wait_for(reader.read(65536), 0.05)
            except TimeoutError:
                continue
            if not chunk:
                return received  # closed by the server
            received += chunk
    except ConnectionError:
        return received
    finally:
        writer.close()
    raise AssertionError("the server never closed the connection")


async def test_a_client_sending_headers_a_byte_at_a_time_is_cut_off(
    spawn_node: SpawnNode,
) -> None:
    node = spawn_node(ARENA_HEADER_TIMEOUT="1")
    # Well before aiohttp's own keep-alive timer (75 s) would end it.
    async with asyncio.timeout(15):
        assert await drip(node.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n") == b""
        # On a kept-alive connection, a next request that drips is cut off too, after
        # the first was answered.
        answered = await drip(
            node.port,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n",
        )
        assert answered.startswith(b"HTTP/1.1 200")
        assert answered.count(b"HTTP/1.1") == 1
    # A whole request still gets its answer, and the node serves on.
    status, body = await http_json("GET", node.url + "/healthz")
    assert (status, body["status"]) == (200, "alive")


async def test_a_slow_request_body_and_an_open_socket_are_not_cut_off(
    spawn_node: SpawnNode,
) -> None:
    node = spawn_node(ARENA_HEADER_TIMEOUT="0.5")
    player = await login(node.url)
    async with await ArenaClient.connect(node.url, player.token) as client:
        # Headers in at once, then a body that takes longer than the header deadline.
        reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
        body = b'{"device_id": "slow-body-device-01", "name": "slow"}'
        writer.write(
            b"POST /v1/auth/guest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
        )
        for i in range(0, len(body), 4):
            writer.write(body[i : i + 4])
            await writer.drain()
            # A client pacing its body: 13 pieces, past the 0.5 s header deadline in all.
            # The time it takes is what is tested, not a wait for something.
            await asyncio.sleep(0.05)
        reply = await reader.read()
        writer.close()
        assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
        # The socket opened before all this is still served.
        assert (await client.request("session.get"))["name"] == "alice"


async def test_a_spectator_socket_open_past_the_presence_ttl_is_still_the_one(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    """The claim is kept by the node's heartbeat, as a player's is: it does not lapse
    under a socket that stays open, and it counts nobody online."""
    fast = {"presence_interval_s": 0.05, "presence_ttl_s": 30.0}
    node_a, node_b = await start_arena(**fast), await start_arena(**fast)
    token = await spectator_token(node_a)
    async with await ArenaClient.connect(node_a, token) as first:
        spectator_id = (await first.request("session.get"))["player_id"]
        claim = keys.live_socket(spectator_id)
        assert redis_client.exists(claim)
        # As if the claim were nearly out: only a renewal raises its time to live again.
        redis_client.pexpire(claim, 10_000)

        async def renewed() -> bool:
            return int(redis_client.pttl(claim)) > 10_000

        await eventually(renewed, within_s=8)
        assert redis_client.pttl(claim) <= 30_000
        assert (await first.request("stats.get"))["online"] == 0
        async with await ArenaClient.connect(node_b, token) as second:
            assert await first.wait_closed() == 4001
            assert (await second.request("session.get"))["role"] == "spectator"

    # Both closed: the claim goes with the last one (released; its TTL is 30 s).
    async def released() -> bool:
        return not redis_client.exists(claim)

    await eventually(released, within_s=5)
