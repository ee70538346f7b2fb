"""Fixtures that start real things: a redis-server per test session, Arena servers per test.

No fakes: a missing redis-server fails the run loudly (it never skips).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from aiohttp import web

from server.app import create_app
from server.embedded_redis import RedisClusterProcesses, RedisProcess
from server.settings import Settings
from server.transport import ArenaRunner
from tests import contract
from tests.nodes import NodeProcess

StartArena = Callable[..., Awaitable[str]]
SpawnNode = Callable[..., NodeProcess]

SOCKET_CONTRACT = pytest.StashKey[contract.SocketContract | None]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SOCKET_CONTRACT] = contract.install()


@pytest.fixture(autouse=True)
def frames_keep_the_contract(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test whose sockets received a frame the published documents do not allow
    (tests/contract.py): the documents cannot drift from what the server sends."""
    checker = request.config.stash[SOCKET_CONTRACT]
    if checker is not None:
        checker.take_violations()  # frames of an earlier test's leftovers are not this one's
    yield
    if checker is not None and (violations := checker.take_violations()):
        shown = "\n".join(violations[:20])
        pytest.fail(f"{len(violations)} frames break the published protocol:\n{shown}")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    with RedisProcess(tmp_path_factory.mktemp("redis"), appendonly=False) as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterProcesses]:
    """A 3-master Redis Cluster for the session (started once: about 3 s)."""
    with RedisClusterProcesses(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


@pytest.fixture
def redis_client(redis_server: RedisProcess) -> Iterator[redis_sync.Redis]:
    """A plain client for looking at what the server stored; Redis is empty at the start."""
    client = redis_sync.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


def settings_for_test(**overrides: Any) -> Settings:
    # No result worker unless a test asks for one: a stopping worker waits for its
    # blocking take to end (up to a second), which every test would pay.
    return Settings.from_env({}, **{"port": 0, "workers": 0, **overrides})


@pytest.fixture
async def start_arena(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> AsyncIterator[StartArena]:
    """Start Arena in this process on a free port; returns its base URL. Stopped after."""
    runners: list[web.AppRunner] = []

    async def start(*, clock: Callable[[], float] = time.time, **overrides: Any) -> str:
        settings = settings_for_test(**{"redis_url": redis_server.url, **overrides})
        runner = web.AppRunner(
            create_app(settings, clock=clock), shutdown_timeout=settings.shutdown_grace_s
        )
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in reversed(runners):
        await runner.cleanup()


@pytest.fixture
async def arena(start_arena: StartArena) -> str:
    return await start_arena()


@pytest.fixture
def spawn_node(
    redis_server: RedisProcess, redis_client: redis_sync.Redis, tmp_path: Path
) -> Iterator[SpawnNode]:
    """Start ``python -m server`` as a real separate process sharing the test Redis."""
    nodes: list[NodeProcess] = []

    def spawn(*, redis_url: str | None = redis_server.url, **env: str) -> NodeProcess:
        node_env = {**os.environ, "ARENA_DATA_DIR": str(tmp_path / f"node{len(nodes)}"), **env}
        node_env.pop("REDIS_URL", None)
        if redis_url is not None:
            node_env["REDIS_URL"] = redis_url
        node = NodeProcess(node_env, log_path=tmp_path / f"node{len(nodes)}.log")
        nodes.append(node)
        node.start()
        return node

    yield spawn
    for node in nodes:
        node.kill()


@pytest.fixture
async def app_node(redis_server: RedisProcess) -> AsyncIterator[tuple[web.Application, str]]:
    """A node's app served in the test's own process (its objects inspectable), and its
    URL."""
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
