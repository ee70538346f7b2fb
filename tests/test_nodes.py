"""Several real server processes sharing one Redis: what players see across nodes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

from client_sim.client import ArenaClient
from server.embedded_redis import RedisProcess
from tests.conftest import SpawnNode
from tests.helpers import answers_ping, eventually, http_json, login

FAST_PRESENCE = {"ARENA_PRESENCE_INTERVAL": "0.3", "ARENA_PRESENCE_TTL": "1.5"}


async def online(node_url: str) -> int:
    _, body = await http_json("GET", node_url + "/v1/presence")
    return int(body["online"])


async def test_a_session_made_on_one_node_is_accepted_by_another(spawn_node: SpawnNode) -> None:
    a, b = spawn_node(), spawn_node()
    player = await login(a.url, "erin")
    status, session = await http_json("GET", b.url + "/v1/session", token=player.token)
    assert status == 200
    assert session["player_id"] == player.player_id
    async with await ArenaClient.connect(b.url, player.token) as client:
        assert (await client.request("session.get"))["name"] == "erin"


async def test_a_socket_on_node_b_replaces_the_players_socket_on_node_a(
    spawn_node: SpawnNode,
) -> None:
    a, b = spawn_node(), spawn_node()
    player = await login(a.url)
    on_a = await ArenaClient.connect(a.url, player.token)
    await on_a.request("ping")
    async with await ArenaClient.connect(b.url, player.token) as on_b:
        assert (await on_a.next_push("session.replaced"))["ev"] == "session.replaced"
        assert await on_a.wait_closed() == 4001
        assert "server_time_ms" in await on_b.request("ping")
        assert await online(a.url) == 1
    await on_a.close()


async def test_revoking_on_one_node_closes_the_socket_on_another(spawn_node: SpawnNode) -> None:
    a, b = spawn_node(), spawn_node()
    player = await login(a.url)
    async with await ArenaClient.connect(a.url, player.token) as client:
        await client.request("ping")
        assert (await http_json("DELETE", b.url + "/v1/session", token=player.token))[0] == 200
        assert await client.wait_closed() == 4002


async def test_players_of_a_killed_node_leave_the_online_count_within_the_bound(
    spawn_node: SpawnNode,
) -> None:
    doomed, survivor = spawn_node(**FAST_PRESENCE), spawn_node(**FAST_PRESENCE)
    clients = []
    for i, node in enumerate([doomed, doomed, doomed, survivor]):
        player = await login(node.url, f"p{i}")
        clients.append(await ArenaClient.connect(node.url, player.token))
    for client in clients:
        await client.request("ping")
    assert await online(survivor.url) == 4
    assert (await http_json("GET", survivor.url + "/v1/stats"))[1]["nodes"] == 2
    doomed.signal(signal.SIGKILL)

    async def only_survivors_count() -> bool:
        return await online(survivor.url) == 1

    # The documented bound is ARENA_PRESENCE_TTL (1.5 s here), plus a little for the asking.
    await eventually(only_survivors_count, within_s=1.5 + 0.5)
    _, stats = await http_json("GET", survivor.url + "/v1/stats")
    assert (stats["online"], stats["nodes"]) == (1, 1)  # the dead node left the count too
    await asyncio.to_thread(doomed.wait, 5)
    for client in clients:
        await client.close()


async def test_logs_never_show_tokens_or_device_ids(spawn_node: SpawnNode) -> None:
    node = spawn_node(ARENA_LOG_LEVEL="DEBUG")
    device = "secret-device-" + "7" * 10
    player = await login(node.url, "frank", device_id=device)
    async with await ArenaClient.connect(node.url, player.token) as client:
        await client.request("ping")
        await client.request("session.get")
    assert (await http_json("DELETE", node.url + "/v1/session", token=player.token))[0] == 200
    node.signal(signal.SIGTERM)
    await asyncio.to_thread(node.wait, 10)
    log = node.log()
    assert player.player_id in log  # the log does speak of the player...
    assert player.token not in log  # ...but never of their credentials
    assert device not in log
    assert player.device_secret is not None
    assert player.device_secret not in log


async def test_sigterm_tells_clients_and_exits_cleanly(spawn_node: SpawnNode) -> None:
    node = spawn_node(ARENA_SHUTDOWN_GRACE="2")
    clients = []
    for i in range(3):
        player = await login(node.url, f"p{i}")
        clients.append(await ArenaClient.connect(node.url, player.token))
        await clients[-1].request("ping")
    node.signal(signal.SIGTERM)
    for client in clients:
        assert (await client.next_push("server.shutdown"))["reconnect"] is True
        assert await client.wait_closed() == 1001
        await client.close()
    assert await asyncio.to_thread(node.wait, 10) == 0


async def test_a_second_signal_while_stopping_does_not_cut_the_clean_up(
    spawn_node: SpawnNode,
) -> None:
    node = spawn_node(ARENA_SHUTDOWN_GRACE="2")
    player = await login(node.url, "impatient")
    async with await ArenaClient.connect(node.url, player.token) as client:
        await client.request("ping")
        node.signal(signal.SIGTERM)
        await client.next_push("server.shutdown")  # the clean-up is under way
        node.signal(signal.SIGINT)  # Ctrl-C, pressed again
        node.signal(signal.SIGTERM)
        assert await client.wait_closed() == 1001
    assert await asyncio.to_thread(node.wait, 10) == 0
    assert "Traceback" not in node.log()
    assert "already stopping" in node.log()


async def test_without_redis_url_the_server_runs_a_private_redis_and_stops_it(
    spawn_node: SpawnNode, tmp_path: Path
) -> None:
    data_dir = tmp_path / "private"
    node = spawn_node(redis_url=None, ARENA_DATA_DIR=str(data_dir))
    found = re.search(r"started a private redis-server at redis://127.0.0.1:(\d+)", node.log())
    assert found is not None
    redis_port = int(found.group(1))
    assert answers_ping(redis_port)
    player = await login(node.url)
    assert (await http_json("GET", node.url + "/v1/session", token=player.token))[0] == 200
    assert (data_dir / "redis" / "appendonlydir").is_dir()  # AOF on
    node.signal(signal.SIGTERM)
    assert await asyncio.to_thread(node.wait, 10) == 0
    # The server waits for its Redis to exit before it does.
    assert not answers_ping(redis_port)


def test_a_port_in_use_is_one_clear_line_not_a_traceback(
    redis_server: RedisProcess, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "REDIS_URL": redis_server.url, "ARENA_DATA_DIR": str(tmp_path)}
        done = subprocess.run(
            [sys.executable, "-m", "server", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert f"127.0.0.1:{port} is in use" in done.stderr
    assert "ARENA_PORT" in done.stderr
    assert "Traceback" not in done.stderr
