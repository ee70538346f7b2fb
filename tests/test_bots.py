"""The bots console script plays against a real server and reports what it saw."""

from __future__ import annotations

import asyncio
import sys

from tests.conftest import SpawnNode


async def test_ping_bots_run_to_completion_with_no_errors(spawn_node: SpawnNode) -> None:
    node = spawn_node()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "client_sim", "--url", node.url, "--bots", "5",
        "--duration", "1.5", "--rate", "20", "--ramp", "0.2",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, out.decode()
    lines = out.decode().splitlines()
    auth = next(line for line in lines if line.startswith("auth.guest"))
    assert auth.split()[1] == "5"
    ping = next(line for line in lines if line.startswith("ping"))
    assert int(ping.split()[1]) > 5
    assert not any(line.startswith("error") for line in lines)
