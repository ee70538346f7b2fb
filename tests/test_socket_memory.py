"""What an idle socket holds on its node, and what a dropped one costs to end: the
connection capacity bench's figures (memory per socket, CPU per closed socket) as
counts a test can hold the server to."""

from __future__ import annotations

import gc
import types
from collections.abc import AsyncIterator

import aiohttp
import msgpack
import pytest
import redis as redis_sync
from aiohttp import web

from server.app import create_app
from server.appkeys import REGISTRY
from server.connection import Connection
from server.embedded_redis import RedisProcess
from server.storage import keys
from server.transport import ArenaRunner
from tests.conftest import settings_for_test
from tests.helpers import eventually, login
from tests.test_ws import raw_socket


@pytest.fixture
async def node(redis_server: RedisProcess) -> AsyncIterator[tuple[web.Application, str]]:
    settings = settings_for_test(redis_url=redis_server.url)
    app = create_app(settings)
    runner = ArenaRunner(app, header_timeout_s=settings.header_timeout_s)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield app, f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def _coroutines() -> int:
    return sum(isinstance(o, types.CoroutineType) for o in gc.get_objects())


async def _pinged(ws: aiohttp.ClientWebSocketResponse) -> None:
    await ws.send_bytes(msgpack.packb({"op": "ping", "rid": 1}))
    assert msgpack.unpackb((await ws.receive(timeout=5)).data)["ok"] is True


async def test_an_idle_socket_holds_few_coroutines(node: tuple[web.Application, str]) -> None:
    """Every coroutine a socket's request is suspended in is held for the socket's life:
    aiohttp's own (the connection's, the request's, the app's), ours (one middleware,
    the endpoint with its read loop), and the read itself. Each more costs memory per
    socket: the request path held three more (a second middleware, the open, the loop)."""
    app, base = node
    players = [await login(base) for _ in range(2)]
    async with aiohttp.ClientSession() as http:
        first = await raw_socket(http, base, players[0].token)
        await _pinged(first)
        gc.collect()
        one = _coroutines()
        second = await raw_socket(http, base, players[1].token)
        await _pinged(second)
        gc.collect()
        assert len(app[REGISTRY]) == 2
        assert _coroutines() - one <= 7


async def test_a_dropped_socket_ends_without_a_closing_task(
    node: tuple[web.Application, str],
) -> None:
    """A client that drops its connection leaves a socket aiohttp closed already: no
    closing handshake is left to make, so no task is made for one (a crowd dropping at
    once would make thousands)."""
    app, base = node
    player = await login(base)
    http = aiohttp.ClientSession()
    ws = await raw_socket(http, base, player.token)
    await _pinged(ws)
    (conn,) = app[REGISTRY].all()
    assert isinstance(conn, Connection)
    await http.close()  # no closing handshake: the connection just goes

    async def ended() -> bool:
        return len(app[REGISTRY]) == 0 and conn.close_code is not None

    await eventually(ended, within_s=5)
    assert conn.close_code == 1000
    assert conn._closer is None  # the closing task it would have made


async def test_a_crowd_dropping_at_once_does_not_load_the_release_script_per_socket(
    node: tuple[web.Application, str], redis_client: redis_sync.Redis
) -> None:
    """The release's first use on a node used to be a crowd dropping at once: each release
    failed NOSCRIPT, loaded the script and ran it again. The first claim loads it, and the
    crowd's releases go together."""
    app, base = node
    redis_client.script_flush()
    players = [await login(base) for _ in range(20)]
    http = aiohttp.ClientSession()
    sockets = [await raw_socket(http, base, p.token) for p in players]
    for ws in sockets:
        await _pinged(ws)
    redis_client.config_resetstat()
    await http.close()  # every connection goes at once

    async def released() -> bool:
        return len(app[REGISTRY]) == 0 and redis_client.zcard(keys.presence()) == 0

    await eventually(released, within_s=10)
    stats = redis_client.info("commandstats")
    assert "cmdstat_script|load" not in stats
    # Released together (server/socket_releases.py): not a script call each; all 20 in one
    # call when their closes reach the release in one turn of the loop, as they nearly
    # always do.
    assert stats["cmdstat_evalsha"]["calls"] < 20
