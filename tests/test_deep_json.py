"""Bodies and frames nested past any sane depth, and bodies cut off half-way: a clear
error (or a quiet close), never INTERNAL and never a traceback in the log."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import msgpack
import pytest

from server.json_limits import has_lone_surrogate
from tests.conftest import StartArena
from tests.helpers import eventually, login

SERVER_KEY = "deep-json-server-" + "s" * 32
ADMIN_KEY = "deep-json-admin-" + "a" * 32


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def guest_body(extra: str) -> str:
    return '{"device_id":"abcdefgh99","y":' + extra + "}"


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def post_raw(url: str, body: str, *, token: str | None = None) -> tuple[int, dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as resp:
        return resp.status, (await resp.json())["error"]


def test_finding_a_lone_surrogate_needs_no_recursion() -> None:
    deep: object = "\ud800"
    for _ in range(100_000):
        deep = [deep]
    assert has_lone_surrogate(deep)
    assert has_lone_surrogate({"a": [{"b": "ok"}, {"\udfff": 1}]})
    assert not has_lone_surrogate(json.loads(nested(500)))


@pytest.mark.parametrize("depth", [400, 5000, 20_000])
async def test_a_deeply_nested_body_is_a_bad_request_on_every_json_route(
    start_arena: StartArena, caplog: pytest.LogCaptureFixture, depth: int
) -> None:
    arena = await start_arena(server_key=SERVER_KEY, admin_key=ADMIN_KEY)
    routes = [
        ("/v1/auth/guest", None, '{"device_id":"abcdefgh99","name":"x","y":%s}'),
        ("/v1/leaderboards/global/scores", SERVER_KEY, '{"player_id":"p","score":%s}'),
        ("/v1/matches/0123456789abcdef/result", SERVER_KEY, '{"scores":%s}'),
        ("/v1/admin/players/0123456789abcdef/ban", ADMIN_KEY, '{"duration_s":%s}'),
    ]
    for path, token, template in routes:
        status, error = await post_raw(arena + path, template % nested(depth), token=token)
        assert (status, error["code"]) == (400, "BAD_REQUEST"), path
    # Deep and holding a lone surrogate: refused the same way.
    status, error = await post_raw(arena + "/v1/auth/guest", guest_body(nested(depth, '"\\ud800"')))
    assert (status, error["code"]) == (400, "BAD_REQUEST")
    assert tracebacks(caplog) == []


async def test_a_deeply_nested_frame_is_a_bad_frame(
    arena: str, caplog: pytest.LogCaptureFixture
) -> None:
    player = await login(arena)
    auth = {"Authorization": "Bearer " + player.token}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{arena}/v1/ws", headers=auth, max_msg_size=0) as ws,
    ):
        for depth in (400, 5000, 20_000):
            for inner in ("1", '"\\ud800"'):
                await ws.send_str('{"op":"ping","rid":1,"x":' + nested(depth, inner) + "}")
                reply = json.loads(await ws.receive_str(timeout=5))
                if depth == 400 and inner == "1":
                    assert reply["ok"] is True  # decodable: an unknown field, ignored
                    continue
                assert reply["ok"] is False
                assert reply["error"]["code"] == "BAD_FRAME", reply
        # msgpack the same: a fixarray of a fixarray of ... (msgpack's own stack ends it).
        head = b"\x83\xa2op\xa4ping\xa3rid\x03\xa1x"
        for depth in (1000, 5000, 20_000):
            await ws.send_bytes(head + b"\x91" * depth + b"\x01")
            reply = msgpack.unpackb(await ws.receive_bytes(timeout=5))
            assert reply["ok"] is (depth == 1000), reply
            if depth > 1000:
                assert reply["error"]["code"] == "BAD_FRAME"
        await ws.send_str('{"op":"ping","rid":2}')
        assert json.loads(await ws.receive_str(timeout=5))["ok"] is True
    assert tracebacks(caplog) == []


async def test_the_guest_limit_counts_a_bad_body_and_refuses_before_reading_one(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(rate_limits="auth.guest=2/0.001")
    bad = guest_body(nested(5000))
    for _ in range(2):
        status, error = await post_raw(arena + "/v1/auth/guest", bad)
        assert (status, error["code"]) == (400, "BAD_REQUEST")
    # Bad bodies used up the allowance: the next request is refused, whatever it holds.
    status, error = await post_raw(arena + "/v1/auth/guest", bad)
    assert (status, error["code"]) == (429, "RATE_LIMITED")
    status, error = await post_raw(
        arena + "/v1/auth/guest", '{"device_id":"abcdefgh99","name":"ok"}'
    )
    assert (status, error["code"]) == (429, "RATE_LIMITED")


async def test_a_client_gone_half_way_through_its_body_logs_one_line_not_a_traceback(
    arena: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    host, port = arena.removeprefix("http://").split(":")
    for _ in range(3):
        _reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /v1/auth/guest HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"device_id":"abcdefgh99",'
        )
        await writer.drain()
        writer.transport.abort()  # a reset, mid-body

    def answered() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage().startswith("HTTP POST /v1/auth/guest")]

    async def all_answered() -> bool:
        return len(answered()) == 3

    await eventually(all_answered, within_s=5)
    # One line each, the request's own: a 400 (nobody reads it), not a 500 and a traceback.
    assert [r.getMessage().split()[3] for r in answered()] == ["400"] * 3
    assert {r.levelno for r in answered()} == {logging.INFO}
    assert tracebacks(caplog) == []
