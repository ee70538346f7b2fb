"""The bots console script plays against a real server and reports what it saw."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from tests.conftest import SpawnNode


async def test_ping_bots_run_to_completion_with_no_errors(
    spawn_node: SpawnNode, tmp_path: Path
) -> None:
    node = spawn_node()
    # The secrets file in this test's folder: the default (var/ under the repository) is
    # shared with every other run of the bots, an xdist worker's included.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "client_sim", "--url", node.url, "--bots", "5",
        "--duration", "1.5", "--rate", "20", "--ramp", "0.2", "--scenario", "ping",
        "--secrets", str(tmp_path / "bot-secrets.json"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, out.decode() + err.decode()
    lines = out.decode().splitlines()
    auth = next(line for line in lines if line.startswith("auth.guest"))
    assert auth.split()[1] == "5"
    ping = next(line for line in lines if line.startswith("ping"))
    assert int(ping.split()[1]) > 5
    assert lines[-1].endswith("0 unexpected errors"), lines[-1]


async def test_twenty_bots_play_the_whole_loop_with_only_expected_refusals(
    spawn_node: SpawnNode, tmp_path: Path
) -> None:
    node = spawn_node()
    report_path = tmp_path / "bots.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "client_sim", "--url", node.url, "--bots", "20",
        "--duration", "10", "--scenario", "play", "--rate", "10", "--quiet",
        "--max-error-fraction", "0", "--json", str(report_path),
        "--secrets", str(tmp_path / "bot-secrets.json"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode() + err.decode()
    report = json.loads(report_path.read_text())
    ops = report["ops"]
    # The whole loop happened: lobbies and the matchmaker (alone and in parties), matches,
    # results, boards, the feed, chat.
    for op in ("lobby.quickjoin", "lobby.ready", "mm.enqueue", "party.create", "party.join",
               "match.send", "match.result", "lb.top", "feed.global"):  # fmt: skip
        assert ops[op]["ok"] > 0, op
    assert report["unexpected_errors"] == 0
    refused = {code for op in ops.values() for code in op["errors"]}
    assert refused <= set(report["expected_codes"])
    assert report["crashes"] == {}


async def test_bots_log_in_as_the_same_players_next_run_with_their_kept_secrets(
    spawn_node: SpawnNode, tmp_path: Path
) -> None:
    node = spawn_node()
    secrets_path = tmp_path / "bot-secrets.json"

    async def run_bots(url: str = node.url) -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "client_sim", "--url", url, "--bots", "3",
            "--duration", "1", "--rate", "5", "--ramp", "0.1", "--scenario", "ping",
            "--quiet", "--secrets", str(secrets_path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, out.decode() + err.decode()
        return out.decode()

    await run_bots()
    kept = json.loads(secrets_path.read_text())
    assert len(kept[node.url]) == 3  # one device secret per bot
    # The same seed is the same device ids: logging in again needs the kept secrets.
    lines = (await run_bots()).splitlines()
    auth = next(line for line in lines if line.startswith("auth.guest"))
    assert auth.split()[1] == "3"
    assert auth.endswith("-"), auth  # no refusals (BAD_CREDENTIALS without the secrets)
    assert json.loads(secrets_path.read_text()) == kept
    # The same server (the same Redis) under another address, as a demo restarted on a new
    # port is: the secrets kept for the first address still log the bots in.
    other_address = node.url.replace("127.0.0.1", "localhost")
    auth = next(
        line for line in (await run_bots(other_address)).splitlines() if "auth.guest" in line
    )
    assert auth.endswith("-"), auth
