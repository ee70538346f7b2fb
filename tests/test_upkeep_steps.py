"""A node's upkeep round: a step that fails does not stop the steps after it, and players
the heartbeat brought back are told to their matches even when the first telling fails.
Real nodes in this process, real Redis; a failure is one service method made to fail."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis as redis_sync
from aiohttp import web

from server.app import create_app
from server.appkeys import SERVICES
from server.embedded_redis import RedisProcess
from server.errors import Unavailable
from server.services import Services
from tests.conftest import settings_for_test
from tests.helpers import Pushes, connect, start_match
from tests.test_match_life import presence_of

StartNode = Callable[..., Awaitable[tuple[str, Services]]]
FAST = {"presence_interval_s": 0.1, "presence_ttl_s": 0.5, "lobby_grace_s": 0.2}


@pytest.fixture
async def start_node(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> AsyncIterator[StartNode]:
    """An Arena node in this process: its URL and its services (to make one step fail)."""
    runners: list[web.AppRunner] = []

    async def start(**overrides: Any) -> tuple[str, Services]:
        app = create_app(settings_for_test(redis_url=redis_server.url, **overrides))
        runner = web.AppRunner(app, shutdown_timeout=2)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}", app[SERVICES]

    yield start
    for runner in reversed(runners):
        await runner.cleanup()


async def unavailable(*_: object, **__: object) -> Any:
    raise Unavailable("injected: this step fails")


async def test_a_failing_upkeep_step_leaves_the_later_steps_running(
    start_node: StartNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    arena, services = await start_node(**FAST)
    # An early step fails every round; freeing lapsed seats comes after it.
    monkeypatch.setattr(services.presence, "refresh_spectator_sockets", unavailable)
    _, olga = await connect(arena, "olga")
    bob_login, bob = await connect(arena, "bob")
    async with olga:
        lobby_id = (await olga.request("lobby.create", mode="arena", capacity=4))["lobby"][
            "lobby_id"
        ]
        updates = Pushes(olga, "lobby.updated")
        await bob.request("lobby.join", lobby_id=lobby_id)
        await bob.close()  # his seat lapses after the grace: a later step frees it
        await updates.until(
            lambda pushed: any(
                bob_login.player_id not in {m["player_id"] for m in p["lobby"]["members"]}
                for p in pushed[1:]  # after his join
            ),
            within_s=10,
        )


async def test_a_player_back_whose_match_could_not_be_told_is_told_on_a_later_round(
    start_node: StartNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    steady_url, _ = await start_node(**FAST, match_abandon_s=60.0)
    stalling_url, stalling = await start_node(**FAST, match_abandon_s=60.0)
    match_id, (watcher, returning), players = await start_match([steady_url, stalling_url], 2)
    returning_id = players[1].player_id
    try:
        # The stalling node's heartbeat fails: its player lapses, and the steady node
        # tells the match he is gone.
        heartbeat = stalling.presence.heartbeat
        monkeypatch.setattr(stalling.presence, "heartbeat", unavailable)
        gone = await presence_of(watcher, returning_id, timeout=10)
        assert gone["online"] is False
        # The heartbeat works again and brings him back; the first telling of it fails.
        match_store = stalling.match_life._store
        presence_changed = match_store.presence_changed
        failures: list[str] = []

        async def fails_once(*args: Any, **kwargs: Any) -> Any:
            if not failures:
                failures.append("failed")
                raise Unavailable("injected: the match cannot be told now")
            return await presence_changed(*args, **kwargs)

        monkeypatch.setattr(match_store, "presence_changed", fails_once)
        monkeypatch.setattr(stalling.presence, "heartbeat", heartbeat)
        back = await presence_of(watcher, returning_id, timeout=10)
        assert (back["online"], back["match_id"]) == (True, match_id)
        assert failures == ["failed"]
    finally:
        for client in (watcher, returning):
            await client.close()
