"""What an idle socket's connection no longer holds once its WebSocket upgrade is accepted
(server/transport.py ``HeaderDeadline.set_parser``), and that its response keeps no
headers (server/ws.py): memory per idle socket, held to by structure, not by size."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator

import aiohttp
import msgpack
import pytest
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from server.app import create_app
from server.appkeys import REGISTRY
from server.connection import Connection
from server.embedded_redis import RedisProcess
from server.services.sessions import Session
from server.transport import ArenaRunner, HeaderDeadline
from tests.conftest import settings_for_test
from tests.helpers import login
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


async def _pinged(ws: aiohttp.ClientWebSocketResponse, rid: int = 1) -> None:
    await ws.send_bytes(msgpack.packb({"op": "ping", "rid": rid}))
    assert msgpack.unpackb((await ws.receive(timeout=5)).data)["ok"] is True


def test_aiohttp_still_has_what_the_transport_drops() -> None:
    """``set_parser`` replaces two private attributes of aiohttp's connection protocol: if
    an aiohttp upgrade renames them, the drop would silently keep the memory."""
    slots = {name for klass in RequestHandler.__mro__ for name in getattr(klass, "__slots__", ())}
    assert {"_parser", "_messages", "_payload_parser", "_upgraded"} <= slots
    assert "set_parser" in vars(RequestHandler)


async def test_an_upgraded_connection_keeps_no_http_parser_and_its_socket_works(
    node: tuple[web.Application, str],
) -> None:
    """Once the upgrade is accepted, the connection's HTTP parser and request queue go;
    the socket still reads, answers and closes with its handshake, and the connection
    stays served (a second socket on the node is unaffected). Its session object is not
    held either."""
    app, base = node
    players = [await login(base) for _ in range(2)]
    async with aiohttp.ClientSession() as http:
        first = await raw_socket(http, base, players[0].token)
        second = await raw_socket(http, base, players[1].token)
        for rid in range(1, 4):
            await _pinged(first, rid)
            await _pinged(second, rid)
        conns = app[REGISTRY].all()
        assert len(conns) == 2
        for conn in conns:
            assert isinstance(conn, Connection)
            protocol = conn.ws._req.protocol if conn.ws._req is not None else None
            assert isinstance(protocol, HeaderDeadline)
            assert protocol._parser is None
            assert len(protocol._messages) == 0
            assert protocol._messages.maxlen == 0  # the shared one: keeps nothing
            assert not conn.ws.headers  # sent with the 101, then dropped
        gc.collect()
        ids = {p.player_id for p in players}
        held = [o for o in gc.get_objects() if isinstance(o, Session) and o.player_id in ids]
        assert held == []  # what the socket needs of it, its connection has
        await first.close()
        assert first.close_code == 1000
        await _pinged(second, 9)
