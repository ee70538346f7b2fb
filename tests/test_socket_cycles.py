"""A closed socket leaves no reference cycles, so the node may run its cyclic collector's
full passes rarely (ARENA_GC_FULL_EVERY) without closed sockets piling up until the next."""

from __future__ import annotations

import gc

import aiohttp
import msgpack
import redis as redis_sync
from aiohttp import web

from server.app import create_app
from server.embedded_redis import RedisProcess
from server.transport import ArenaRunner
from tests.conftest import settings_for_test
from tests.helpers import eventually, login
from tests.test_ws import raw_socket


async def test_a_dropped_socket_is_freed_without_the_cyclic_collector(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> None:
    """Closed sockets leave no reference cycles (server/transport.py, ws._drop_tracebacks):
    the node can run its cyclic collector's full passes rarely (ARENA_GC_FULL_EVERY)
    without closed sockets piling up in memory until the next one."""

    def server_sockets() -> int:
        return sum(isinstance(o, web.WebSocketResponse) for o in gc.get_objects())

    settings = settings_for_test(redis_url=redis_server.url)
    runner = ArenaRunner(create_app(settings), header_timeout_s=settings.header_timeout_s)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    gc.collect()
    gc.disable()
    try:
        player = await login(base)
        http = aiohttp.ClientSession()
        ws = await raw_socket(http, base, player.token)
        await ws.send_bytes(msgpack.packb({"op": "ping", "rid": 1}))
        assert msgpack.unpackb((await ws.receive(timeout=5)).data)["ok"] is True
        assert server_sockets() == 1
        await http.close()  # the client drops its connection, no closing handshake

        async def freed() -> bool:
            return server_sockets() == 0

        await eventually(freed, within_s=5)
    finally:
        gc.enable()
        await runner.cleanup()
