"""A node drained with SIGTERM, on real processes: a request in flight gets its reply
before the close, and a client that never closes cannot hold the stop past the grace.
docs/faults.md says what each promises."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from asyncio import Task
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import aiohttp
import redis as redis_sync
import redis.asyncio as redis_async

from client_sim.client import ArenaClient
from client_sim.login import ws_url
from server.embedded_redis import RedisProcess
from server.protocol import Format, Message, decode
from server.storage import keys
from tests.conftest import SpawnNode
from tests.helpers import login


def members(lobby: Message) -> set[str]:
    return {m["player_id"] for m in lobby["members"]}


@contextlib.asynccontextmanager
async def redis_monitor(url: str) -> AsyncIterator[Any]:
    """Every command Redis runs, as it runs it (MONITOR)."""
    client = redis_async.Redis.from_url(url)
    try:
        async with client.monitor() as monitor:
            yield monitor
    finally:
        await client.aclose()


async def in_flight(request: Coroutine[Any, Any, Any], lock: str, redis_url: str) -> Task[Any]:
    """Start ``request``, one that takes ``lock`` (which the test holds, so it waits), and
    return once Redis has seen a node try to take the lock: the request is in flight."""
    async with redis_monitor(redis_url) as monitor, asyncio.timeout(5):
        task = asyncio.create_task(request)
        async for command in monitor.listen():
            if lock in command["command"]:
                return task
    raise AssertionError("MONITOR ended")


async def test_a_request_in_flight_at_sigterm_gets_its_reply_before_the_close(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis, redis_server: RedisProcess
) -> None:
    draining = spawn_node(ARENA_SHUTDOWN_GRACE="2")
    other = spawn_node()
    owner_login, joiner_login = await login(other.url, "owner"), await login(draining.url, "joe")
    owner = await ArenaClient.connect(other.url, owner_login.token)
    joiner = await ArenaClient.connect(draining.url, joiner_login.token)
    try:
        lobby_id = (await owner.request("lobby.create", mode="duel", capacity=3))["lobby"][
            "lobby_id"
        ]
        # The test holds the lobby's lock, so the join waits for it.
        lock = keys.lock(keys.lobby_resource(lobby_id))
        assert redis_client.set(lock, "the-test", px=10_000, nx=True)
        join = await in_flight(
            joiner.request("lobby.join", lobby_id=lobby_id), lock, redis_server.url
        )
        draining.signal(signal.SIGTERM)
        assert (await joiner.next_push("server.shutdown"))["reconnect"] is True
        redis_client.delete(lock)  # the join goes through now

        lobby = (await join)["lobby"]  # the reply came, after server.shutdown...
        assert joiner_login.player_id in members(lobby)
        assert await joiner.wait_closed() == 1001  # ...and before the close
        assert await asyncio.to_thread(draining.wait, 10) == 0

        # Told to move, the player moves to another node, still seated.
        async with await ArenaClient.connect(other.url, joiner_login.token) as moved:
            seated = (await moved.request("lobby.get", lobby_id=lobby_id))["lobby"]
            assert members(seated) == {owner_login.player_id, joiner_login.player_id}
    finally:
        await owner.close()
        await joiner.close()


async def receive(ws: aiohttp.ClientWebSocketResponse) -> Message:
    msg = await ws.receive(timeout=2)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg  # JSON, as the client's request was
    return decode(msg.data, Format.JSON)


async def test_a_client_that_never_closes_cannot_hold_the_stop_past_the_grace(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis, redis_server: RedisProcess
) -> None:
    grace_s = 2.0
    node = spawn_node(ARENA_SHUTDOWN_GRACE=str(grace_s))
    owner_login, player = await login(node.url, "owner"), await login(node.url, "stubborn")
    async with (
        await ArenaClient.connect(node.url, owner_login.token) as owner,
        aiohttp.ClientSession() as http,
    ):
        lobby_id = (await owner.request("lobby.create", mode="duel", capacity=2))["lobby"][
            "lobby_id"
        ]
        # A client that never answers the close handshake, nor closes on its own...
        ws = await http.ws_connect(
            ws_url(node.url),
            headers={"Authorization": f"Bearer {player.token}"},
            autoclose=False,
            autoping=False,
        )
        # ...with a request in flight, so the server's close comes after its reply, when
        # no read is pending: the server then waits for the client's half of the handshake.
        lock = keys.lock(keys.lobby_resource(lobby_id))
        assert redis_client.set(lock, "the-test", px=10_000, nx=True)
        join = {"op": "lobby.join", "rid": 1, "lobby_id": lobby_id}
        await in_flight(ws.send_json(join), lock, redis_server.url)
        started = time.monotonic()
        node.signal(signal.SIGTERM)
        assert (await receive(ws))["ev"] == "server.shutdown"
        redis_client.delete(lock)

        assert await asyncio.to_thread(node.wait, grace_s + 5) == 0
        stopped_in = time.monotonic() - started
        print(f"stopped {stopped_in:.2f}s after SIGTERM (grace {grace_s}s)")
        # The grace, then up to a second more: the result worker's blocking take ends.
        assert stopped_in < grace_s + 2.0
        # It got its reply, then the close frame it never answered.
        assert (await receive(ws))["ok"] is True
        closing = await ws.receive(timeout=1)
        assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1001)
