"""What an idle socket no longer holds: its connection's HTTP parser and request queue once
its upgrade is accepted (server/transport.py ``HeaderDeadline.set_parser``), its response's
headers, its session object, a middleware's coroutine (server/ws.py): memory per idle
socket, held to by structure, not by size."""

from __future__ import annotations

import gc
import logging
import types

import aiohttp
import msgpack
import pytest
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from server.appkeys import REGISTRY
from server.connection import Connection
from server.services.sessions import Session
from server.transport import HeaderDeadline
from tests.helpers import login
from tests.test_ws import raw_socket


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
    app_node: tuple[web.Application, str],
) -> None:
    """Once the upgrade is accepted, the connection's HTTP parser and request queue go;
    the socket still reads, answers and closes with its handshake, and the connection
    stays served (a second socket on the node is unaffected). Its session object is not
    held either."""
    app, base = app_node
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


def _coroutines() -> int:
    return sum(isinstance(o, types.CoroutineType) for o in gc.get_objects())


async def test_an_idle_socket_waits_in_no_middleware_coroutine(
    app_node: tuple[web.Application, str],
) -> None:
    """The socket endpoint answers for itself (http_api.answers_itself): a socket's request
    is suspended in aiohttp's coroutines (the connection's, the request's, the app's and
    its middleware wrapper), the endpoint's and its read, and none of Arena's middlewares."""
    app, base = app_node
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
        assert _coroutines() - one <= 6


async def test_a_refused_socket_is_rendered_named_and_logged_as_any_request(
    app_node: tuple[web.Application, str], caplog: pytest.LogCaptureFixture
) -> None:
    """What request_log_middleware did for the socket endpoint, it does itself: the
    failure's JSON body and status, the request's id echoed, one line when answered."""
    _, base = app_node
    caplog.set_level(logging.INFO, logger="server.http_api")
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(
                base + "/v1/ws",
                headers={"Authorization": "Bearer not-a-token", "X-Request-Id": "req-401"},
            )
        assert refused.value.status == 401
        assert refused.value.headers is not None
        assert refused.value.headers["X-Request-Id"] == "req-401"
        async with http.get(base + "/v1/ws", headers={"Authorization": "Bearer x"}) as resp:
            assert resp.status == 400  # not an upgrade: refused before the session is read
            assert (await resp.json())["error"]["code"] == "BAD_REQUEST"
            assert resp.headers["X-Request-Id"]
    lines = [r.getMessage() for r in caplog.records if r.name == "server.http_api"]
    assert any(line.startswith("HTTP GET /v1/ws 401 ") for line in lines)
    assert any(line.startswith("HTTP GET /v1/ws 400 ") for line in lines)
