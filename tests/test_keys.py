"""Admin and server keys: long, distinct, checked at start; wrong guesses throttled per address."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest
import redis as redis_sync
from aiohttp import web

from server.app import create_app
from server.appkeys import MUX
from server.embedded_redis import RedisProcess
from server.settings import Settings
from server.storage.mux import RedisMux
from tests.conftest import StartArena, settings_for_test
from tests.helpers import eventually, login

ADMIN_KEY = "admin-key-" + "a" * 30
SERVER_KEY = "server-key-" + "s" * 30


def test_a_short_key_is_refused_naming_the_setting() -> None:
    for env in ("ARENA_ADMIN_KEY", "ARENA_SERVER_KEY"):
        with pytest.raises(ValueError, match=rf"^{env} must be at least 32 characters"):
            Settings.from_env({env: "k" * 31})
        assert Settings.from_env({env: "k" * 32})  # 32 is enough


def test_the_admin_and_server_keys_must_differ() -> None:
    with pytest.raises(ValueError, match="ARENA_ADMIN_KEY must be different from ARENA_SERVER_KEY"):
        Settings.from_env({"ARENA_ADMIN_KEY": "k" * 40, "ARENA_SERVER_KEY": "k" * 40})
    Settings.from_env({"ARENA_ADMIN_KEY": ADMIN_KEY, "ARENA_SERVER_KEY": SERVER_KEY})


def test_the_server_refuses_to_start_with_a_short_key() -> None:
    env = {**os.environ, "ARENA_ADMIN_KEY": "letmein", "REDIS_URL": "redis://127.0.0.1:1"}
    done = subprocess.run(
        [sys.executable, "-m", "server", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "ARENA_ADMIN_KEY must be at least 32 characters" in done.stderr
    assert "Traceback" not in done.stderr
    assert "letmein" not in done.stderr + done.stdout  # the key is never echoed


async def get(
    url: str, key: str | None, forwarded_for: str | None = None
) -> tuple[int, str, str | None]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        body = await resp.json()
        return resp.status, body.get("error", {}).get("code", "OK"), resp.headers.get("Retry-After")


async def test_wrong_admin_keys_are_throttled_per_address(start_arena: StartArena) -> None:
    arena = await start_arena(
        admin_key=ADMIN_KEY, rate_limits="auth.key=3/2", trusted_proxies="127.0.0.1"
    )
    stats = arena + "/v1/admin/stats"
    assert (await get(stats, ADMIN_KEY))[0] == 200
    for guess in range(3):
        assert (await get(stats, f"guess-{guess}"))[:2] == (403, "FORBIDDEN")
    # Over the limit: another guess, and even the right key, wait.
    status, code, retry_after = await get(stats, "guess-3")
    assert (status, code) == (429, "RATE_LIMITED")
    assert retry_after is not None
    assert int(retry_after) >= 1
    assert (await get(stats, ADMIN_KEY))[:2] == (429, "RATE_LIMITED")
    # Another client address is not held up by this one's guesses.
    assert (await get(stats, ADMIN_KEY, forwarded_for="198.51.100.7"))[0] == 200

    # Once the window passes (one guess's worth at 2 per second), the right key works again.
    async def admitted() -> bool:
        return (await get(stats, ADMIN_KEY))[0] == 200

    await eventually(admitted, within_s=3, every_s=0.1)


async def test_wrong_server_keys_count_against_the_same_limit(start_arena: StartArena) -> None:
    arena = await start_arena(server_key=SERVER_KEY, rate_limits="auth.key=2/0.01")
    player = await login(arena)
    url = f"{arena}/v1/leaderboards/global/scores"
    body = {"player_id": player.player_id, "score": 1}
    async with aiohttp.ClientSession() as http:

        async def post(key: str) -> int:
            headers = {"Authorization": f"Bearer {key}"}
            async with http.post(url, json=body, headers=headers) as resp:
                return resp.status

        assert [await post("nope-1"), await post("nope-2")] == [403, 403]
        assert await post("nope-3") == 429
        assert await post(SERVER_KEY) == 429


async def test_parallel_wrong_guesses_are_answered_at_most_burst_times(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(
        admin_key=ADMIN_KEY, rate_limits="auth.key=3/0.01", trusted_proxies="127.0.0.1"
    )
    stats = arena + "/v1/admin/stats"
    replies = await asyncio.gather(*(get(stats, f"guess-{n}") for n in range(20)))
    codes = sorted(code for _, code, _ in replies)
    assert codes.count("FORBIDDEN") <= 3
    assert codes.count("RATE_LIMITED") >= 17
    assert set(codes) == {"FORBIDDEN", "RATE_LIMITED"}
    # The key holder calling from another address is not held up.
    assert (await get(stats, ADMIN_KEY, forwarded_for="198.51.100.7"))[0] == 200


@pytest.fixture
async def arena_and_mux(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> AsyncIterator[tuple[str, RedisMux]]:
    settings = settings_for_test(
        redis_url=redis_server.url, admin_key=ADMIN_KEY, rate_limits="auth.key=3/0.01"
    )
    app = create_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    mux = app[MUX]
    assert isinstance(mux, RedisMux)
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", mux
    await runner.cleanup()


async def test_the_right_key_behind_a_wave_of_wrong_guesses_is_not_answered(
    arena_and_mux: tuple[str, RedisMux], redis_client: redis_sync.Redis
) -> None:
    """The race a reviewer found: guesses sent together were all checked against the limit
    before any was counted, so the right key anywhere in a large enough wave was let in.
    Redis is paused while the wave is queued, so every guess's step reaches Redis before
    any is answered, the right key's last."""
    arena, mux = arena_and_mux
    stats = arena + "/v1/admin/stats"
    # The server is up and the limit's script loaded (no NOSCRIPT retry to reorder the
    # wave); a right key counts nothing.
    assert (await get(stats, ADMIN_KEY))[0] == 200
    # Every command waits, the server's included (under its 5 s Redis timeout); a pause
    # cannot be lifted early, so it is long enough for a loaded machine to queue the wave.
    redis_client.client_pause(3000)
    wrong = [asyncio.create_task(get(stats, f"guess-{n}")) for n in range(30)]

    async def queued(at_least: int) -> bool:
        # Commands the server has sent and Redis (paused) has not answered yet.
        return len(mux._pending) >= at_least

    # At least 27 of the wave ahead of the right key (a background loop may add a few).
    await eventually(lambda: queued(30), within_s=2.5, every_s=0.01)
    right = asyncio.create_task(get(stats, ADMIN_KEY))
    await eventually(lambda: queued(31), within_s=2.5, every_s=0.01)
    codes = [code for _, code, _ in await asyncio.gather(*wrong)]
    assert codes.count("FORBIDDEN") == 3  # the burst, whatever the order
    assert codes.count("RATE_LIMITED") == 27
    assert (await right)[:2] == (429, "RATE_LIMITED")
