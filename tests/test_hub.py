"""The node's pub/sub fan-out: one subscription per channel per node, frames built once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgpack
import pytest
import redis as redis_sync
from aiohttp import web

from client_sim.client import ArenaClient
from server.app import create_app
from server.appkeys import HUB, REGISTRY
from server.embedded_redis import RedisProcess
from server.protocol import Format
from server.storage.mux import RedisMux
from tests.conftest import settings_for_test
from tests.helpers import connect, eventually

ROOM = "arena:test:room"


@pytest.fixture
async def app_and_url(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> AsyncIterator[tuple[web.Application, str]]:
    app = create_app(settings_for_test(redis_url=redis_server.url))
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield app, f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def subscribers(redis_client: redis_sync.Redis, channel: str) -> int:
    return int(dict(redis_client.pubsub_shardnumsub(channel))[channel.encode()])


async def test_one_publish_reaches_every_local_listener_in_its_own_encoding(
    app_and_url: tuple[web.Application, str],
    redis_server: RedisProcess,
    redis_client: redis_sync.Redis,
) -> None:
    app, url = app_and_url
    clients: list[ArenaClient] = []
    for i, fmt in enumerate([Format.MSGPACK, Format.MSGPACK, Format.JSON]):
        _, client = await connect(url, f"p{i}", fmt=fmt)
        await client.request("ping")  # pushes follow the encoding of the last request
        clients.append(client)
    hub = app[HUB]
    for conn in app[REGISTRY].all():
        await hub.listen(ROOM, conn)
    assert hub.listening(ROOM) == 3

    async def subscribed() -> bool:
        return subscribers(redis_client, ROOM) == 1  # one subscription for the whole node

    await eventually(subscribed, within_s=2)
    mux = RedisMux(redis_server.url)
    # A push of the protocol's (every frame a test receives must be one: tests/contract.py).
    score: dict[str, object] = {"ev": "watch.score", "board": "b", "period": "all"}
    score |= {"player_id": "p", "name": "n", "score": 1, "rank": 1}
    await mux.execute("SPUBLISH", ROOM, msgpack.packb(score))
    for client in clients:
        assert await client.next_push("watch.score") == score

    # Listeners leave one by one (here: their sockets close); the last one ends the
    # node's subscription, and not before.
    await clients[0].close()
    await clients[1].close()

    async def one_left() -> bool:
        return hub.listening(ROOM) == 1

    await eventually(one_left, within_s=3)
    assert subscribers(redis_client, ROOM) == 1
    await clients[2].close()

    async def unsubscribed() -> bool:
        return subscribers(redis_client, ROOM) == 0 and hub.listening(ROOM) == 0

    await eventually(unsubscribed, within_s=3)
    await mux.aclose()
