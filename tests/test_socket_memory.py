"""What an idle socket holds on its node, and what a dropped one costs to end: the
connection capacity bench's figures (memory per socket, CPU per closed socket) as
counts a test can hold the server to."""

from __future__ import annotations

import aiohttp
import msgpack
import redis as redis_sync
from aiohttp import web

from server.appkeys import REGISTRY
from server.connection import Connection
from server.storage import keys
from tests.helpers import eventually, login
from tests.test_ws import raw_socket


async def _pinged(ws: aiohttp.ClientWebSocketResponse) -> None:
    await ws.send_bytes(msgpack.packb({"op": "ping", "rid": 1}))
    assert msgpack.unpackb((await ws.receive(timeout=5)).data)["ok"] is True


async def test_a_dropped_socket_ends_without_a_closing_task(
    app_node: tuple[web.Application, str],
) -> None:
    """A client that drops its connection leaves a socket aiohttp closed already: no
    closing handshake is left to make, so no task is made for one (a crowd dropping at
    once would make thousands)."""
    app, base = app_node
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
    app_node: tuple[web.Application, str], redis_client: redis_sync.Redis
) -> None:
    """The release's first use on a node used to be a crowd dropping at once: each release
    failed NOSCRIPT, loaded the script and ran it again. The first claim loads it, and the
    crowd's releases go together."""
    app, base = app_node
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
