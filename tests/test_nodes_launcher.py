"""``python -m server.nodes`` (``make run NODES=N``): nodes on consecutive ports, one Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from client_sim.client import ArenaClient
from server.embedded_redis import free_port
from server.nodes import node_command, parse
from tests.helpers import answers_ping, eventually, http_json, login


def consecutive_free_ports(count: int) -> int:
    """The first of ``count`` loopback ports free right now."""
    for _ in range(50):
        first = free_port()
        with contextlib.ExitStack() as held:
            try:
                for port in range(first, first + count):
                    held.enter_context(socket.socket()).bind(("127.0.0.1", port))
            except OSError:
                continue
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


def test_each_node_gets_the_flags_given_and_a_port_and_name_of_its_own() -> None:
    count, settings, flags = parse(
        ["--nodes", "3", "--port", "9000", "--node-id", "web", "--workers", "0",
         "--redis-url", "redis://:secret@10.0.0.5:6379/0"]
    )  # fmt: skip
    assert count == 3
    third = node_command(3, settings, flags)
    assert third[1:3] == ["-m", "server"]
    assert third[3:] == ["--workers", "0", "--port", "9002", "--node-id", "web-3"]
    # The Redis URL (a password, maybe) reaches the nodes through their environment.
    assert not any("secret" in arg for arg in third)


@pytest.mark.parametrize(
    "argv", [["--nodes", "0"], ["--nodes", "2", "--port", "0"], ["--nodes", "2", "--port", "65535"]]
)
def test_impossible_node_counts_and_ports_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(argv)
    assert exit_info.value.code == 2
    assert "--nodes" in capsys.readouterr().err


class Launched:
    def __init__(self, tmp_path: Path, count: int) -> None:
        self.first_port = consecutive_free_ports(count)
        self.urls = [f"http://127.0.0.1:{self.first_port + i}" for i in range(count)]
        self.log_path = tmp_path / "nodes.log"
        env = {name: value for name, value in os.environ.items() if name != "REDIS_URL"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server.nodes", "--nodes", str(count),
                 "--port", str(self.first_port), "--data-dir", str(tmp_path / "data"),
                 "--workers", "0", "--node-id", "web", "--shutdown-grace-s", "2"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[Launched]:
    """``python -m server.nodes --nodes 2`` without REDIS_URL; killed after if still up."""
    launched = Launched(tmp_path, 2)
    yield launched
    if launched.process.poll() is None:
        launched.process.kill()  # its nodes and Redis follow (they die with their parent)
        launched.process.wait()


async def test_nodes_share_one_private_redis_and_stop_together_on_one_signal(
    two_nodes: Launched,
) -> None:
    launcher, urls = two_nodes.process, two_nodes.urls

    async def all_ready() -> bool:
        assert launcher.poll() is None, two_nodes.log()
        return "2 Arena nodes ready" in two_nodes.log()

    await eventually(all_ready, within_s=20)
    # One Redis for both: a session made on one node is good on the other, and two
    # nodes count (each got a name of its own).
    player = await login(urls[0])
    assert (await http_json("GET", urls[1] + "/v1/session", token=player.token))[0] == 200
    assert (await http_json("GET", urls[0] + "/v1/stats"))[1]["nodes"] == 2
    async with await ArenaClient.connect(urls[1], player.token) as client:
        await client.request("ping")
        launcher.send_signal(signal.SIGTERM)
        assert (await client.next_push("server.shutdown"))["reconnect"] is True
        assert await client.wait_closed() == 1001
    assert await asyncio.to_thread(launcher.wait, 15) == 0
    log = two_nodes.log()
    assert "Traceback" not in log
    started = re.findall(r"started a private redis-server at redis://127.0.0.1:(\d+)", log)
    assert len(started) == 1  # by the launcher; the nodes were given it
    assert not answers_ping(int(started[0]))  # and it stopped after them
    assert f"[{two_nodes.first_port + 1}] " in log  # each node's lines carry its port
    # Where to go: the pages, on the first port (any node serves them).
    assert f"game {urls[0]}/play" in log
