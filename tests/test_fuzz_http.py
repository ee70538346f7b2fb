"""HTTP routes sent the fuzz values (tests/fuzz_values.py) in query strings, path
segments and JSON bodies: never a 5xx, always a stable code, some accepted; a player
name that passes comes back NFC-normalised from session.get."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import quote

import aiohttp
import msgpack
import pytest

from client_sim.client import ArenaClient
from server.settings import DEFAULT_RATE_LIMITS
from tests.conftest import StartArena
from tests.fuzz_values import BAD_UTF8, CODES, HOSTILE, MISSING, MSGPACK_ONLY, Value, nfc
from tests.helpers import new_device, start_match

SERVER_KEY = "fuzz-server-key-" + "k" * 32  # long enough for any key-length rule


def as_text(value: Value) -> str | None:
    """The value as a query or path text (None: it has no text form)."""
    given = value.value
    if given is MISSING or isinstance(given, bytes | msgpack.ExtType | msgpack.Timestamp):
        return None
    if isinstance(given, str):
        text = given if "\ud800" not in given and given != BAD_UTF8 else None
    else:
        text = json.dumps(given)
    # aiohttp refuses a request line past 8,190 bytes itself (a plain-text 400).
    return text if text is not None and len(quote(text)) < 4000 else None


async def test_http_routes_survive_hostile_values(
    start_arena: StartArena, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    unlimited = ",".join(f"{action}=1000000/1000000" for action in DEFAULT_RATE_LIMITS)
    arena = await start_arena(server_key=SERVER_KEY, rate_limits=unlimited)
    match_id, clients, players = await start_match([arena], 2)
    for client in clients:
        await client.close()
    headers = {"Authorization": f"Bearer {SERVER_KEY}", "Content-Type": "application/json"}
    me = players[0].player_id
    requests: list[tuple[str, str, dict[str, str], Any]] = []  # method, path, query, body
    for value in HOSTILE:
        text = as_text(value)
        if text is not None:
            segment = quote(text, safe="") or "%20"
            for name in ("limit", "offset", "period"):
                requests.append(("GET", "/v1/leaderboards/daily/top", {name: text}, None))
            requests.append(("GET", f"/v1/leaderboards/{segment}/top", {}, None))
            requests.append(("GET", f"/v1/leaderboards/daily/players/{segment}", {}, None))
            requests.append(("GET", f"/v1/leaderboards/daily/players/{me}", {"period": text}, None))
            requests.append(("POST", f"/v1/matches/{segment}/result", {}, {"scores": {me: 1}}))
        if value.value is MISSING or value.formats == MSGPACK_ONLY:
            continue
        given = value.value
        requests += [
            ("POST", "/v1/auth/guest", {}, {"device_id": new_device(), "name": given}),
            ("POST", "/v1/auth/guest", {}, {"device_id": given, "name": "fuzz"}),
            ("POST", "/v1/auth/guest", {}, given),
            ("POST", "/v1/leaderboards/global/scores", {}, {"player_id": me, "score": given}),
            ("POST", "/v1/leaderboards/global/scores", {}, {"player_id": given, "score": 1}),
            ("POST", f"/v1/matches/{match_id}/result", {}, {"scores": given}),
        ]
    problems = []
    answered: set[tuple[str, int]] = set()
    named: list[tuple[str, str]] = []  # (the name a guest login accepted, its token)
    async with aiohttp.ClientSession() as http:

        async def send(method: str, path: str, query: dict[str, str], body: Any) -> None:
            data = None if body is None else json.dumps(body)
            async with http.request(
                method, arena + path, params=query, data=data, headers=headers
            ) as resp:
                text = await resp.text()
            answered.add((path, resp.status))
            name = body.get("name") if isinstance(body, dict) else None
            if path == "/v1/auth/guest" and resp.status == 200 and isinstance(name, str):
                named.append((name, json.loads(text)["token"]))
            label = f"{method} {path[:60]} {query!r:.60} {data!r:.80}"
            if resp.status >= 500:
                problems.append(f"{label}: {resp.status} {text[:200]}")
            elif resp.status >= 400:
                code = json.loads(text).get("error", {}).get("code")
                if code not in CODES:
                    problems.append(f"{label}: {resp.status} {text[:200]}")

        for start in range(0, len(requests), 50):  # 50 at a time
            await asyncio.gather(*(send(*r) for r in requests[start : start + 50]))
    assert len(requests) > 500
    assert not problems, "\n".join(problems)
    # The values got past the door: some were accepted, so the refusals were the values'.
    for path in ("/v1/auth/guest", "/v1/leaderboards/daily/top"):
        assert {(path, 200), (path, 400)} <= answered, path
    # A name that passed is kept NFC-normalised and trimmed: session.get reads it back.
    assert "Zoe\u0301" in {name for name, _ in named}
    for name, token in named:
        async with await ArenaClient.connect(arena, token) as client:
            assert (await client.request("session.get"))["name"] == nfc(name), repr(name)
    logged = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.exc_info or r.levelno >= logging.ERROR or r.name == "server.storage.connection"
    ]
    assert not logged, "\n".join(logged)
