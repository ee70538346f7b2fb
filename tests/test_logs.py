"""The log: one JSON object per line when asked, ids on each, and never a secret."""

from __future__ import annotations

import asyncio
import json
import logging
import signal

import aiohttp

from client_sim.client import ArenaClient
from server import logs
from tests.conftest import SpawnNode
from tests.helpers import ANY_RESULTS, eventually, http_json, login, start_match

ADMIN_KEY = "admin-" + "s" * 32


async def test_a_whole_session_logs_json_lines_with_ids_and_no_secret(
    spawn_node: SpawnNode,
) -> None:
    node = spawn_node(
        ARENA_LOG_FORMAT="json",
        ARENA_LOG_LEVEL="DEBUG",
        ARENA_ADMIN_KEY=ADMIN_KEY,
        ARENA_MODES=ANY_RESULTS,  # one report ends the match
    )
    device = "secret-device-" + "9" * 10
    player = await login(node.url, "frank", device_id=device)
    async with await ArenaClient.connect(node.url, player.token) as frank:
        await frank.request("ping")
        await frank.request("lb.submit", board="global", score=42)
        await frank.request("chat.join", room="general")
        await frank.request("chat.send", room="general", text="hello")
    match_id, clients, players = await start_match([node.url], 2)
    for client in clients:
        await client.send("match.send", match_id=match_id, type="move", data=1)
    scores = {p.player_id: 1 for p in players}
    await clients[0].request("match.result", match_id=match_id, scores=scores)
    status, _ = await http_json(
        "POST", f"{node.url}/v1/admin/players/{players[1].player_id}/kick", token=ADMIN_KEY
    )
    assert status == 200
    for client in clients:
        await client.close()
    assert (await http_json("DELETE", node.url + "/v1/session", token=player.token))[0] == 200
    node.signal(signal.SIGTERM)
    await asyncio.to_thread(node.wait, 10)

    text = node.log()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "msg"} <= line.keys() for line in lines)
    socket_lines = [line for line in lines if line["msg"].startswith("socket ")]
    assert socket_lines
    assert all(line.get("conn") for line in socket_lines)  # the socket's id on its lines
    http_lines = [line for line in lines if line["msg"].startswith("HTTP ")]
    assert any(line["msg"].startswith("HTTP POST /v1/auth/guest 200") for line in http_lines)
    assert all(line.get("req") for line in http_lines)  # the request's id on its lines
    assert any("admin kicked player" in line["msg"] for line in lines)
    assert player.player_id in text  # the log does speak of the player...
    for secret in (player.token, device, ADMIN_KEY, *(p.token for p in players)):
        assert secret not in text  # ...but never of a credential


async def test_a_path_cannot_forge_a_text_log_line(spawn_node: SpawnNode) -> None:
    node = spawn_node(ARENA_LOG_FORMAT="text")
    # A newline, a terminal escape and Unicode's line separator, URL-encoded in the path.
    forged = "/x%0aFAKE%20LINE%0d%1b[31m%e2%80%a8END"
    async with aiohttp.ClientSession() as http, http.get(node.url + forged) as resp:
        assert resp.status == 404

    def request_lines() -> list[str]:
        return [line for line in node.log().split("\n") if "FAKE" in line or "END" in line]

    async def logged() -> bool:
        return bool(request_lines())

    await eventually(logged, within_s=5)
    (line,) = request_lines()  # one line: nothing a client sent started another
    assert " HTTP GET /x\\nFAKE LINE\\r\\x1b[31m\\u2028END 404 " in line
    assert not any(line.startswith("FAKE") for line in node.log().splitlines())


def test_the_text_formatter_escapes_what_a_client_sent_and_json_stays_one_line() -> None:
    record = logging.LogRecord(
        "server.ws", logging.INFO, __file__, 1, "op %s from %s", ("a\nb\x1b", "\u202eevil"), None
    )
    text = logs.TextFormatter().format(record)
    assert "\n" not in text
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert text.endswith("op a\\nb\\x1b from \\u202eevil")
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line)["msg"] == "op a\nb\x1b from \u202eevil"  # valid, and exact
