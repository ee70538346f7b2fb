"""The Locust users play a real server for a few seconds: every op answers, none fails.

Locust runs in a subprocess: it monkey-patches the standard library with gevent on
import, which must not happen inside pytest's asyncio process.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from tests.conftest import SpawnNode

LOCUSTFILE = Path(__file__).resolve().parents[1] / "loadtest" / "locustfile.py"
RUN_TIME_S = 15
USERS = 30

# Ops the mix must have sent and seen answered, within a run this short.
OPS = {"ping", "lb.submit", "lb.top", "lb.rank", "presence.get", "chat.send"}
GAME_OPS = {"lobby.quickjoin", "lobby.ready", "match.send"}


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_locust_users_play_every_part_of_the_mix_without_failures(
    spawn_node: SpawnNode, tmp_path: Path
) -> None:
    # Every simulated player logs in from 127.0.0.1: logins must not be throttled.
    node = spawn_node(ARENA_RATE_LIMITS="auth.guest=100000/1000")
    prefix = tmp_path / "arena"
    proc = subprocess.run(
        [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--host", node.url, "-u", str(USERS), "-r", str(USERS), "-t", f"{RUN_TIME_S}s",
            "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIME_S + 20,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    failures = read_rows(Path(f"{prefix}_failures.csv"))
    assert failures == [], output
    assert read_rows(Path(f"{prefix}_exceptions.csv")) == [], output  # errors in user code
    assert proc.returncode == 0, output

    stats = {(row["Type"], row["Name"]): row for row in read_rows(Path(f"{prefix}_stats.csv"))}
    done = {name for (kind, name), row in stats.items() if int(row["Request Count"]) > 0}
    assert int(stats["POST", "/v1/auth/guest"]["Request Count"]) == USERS
    assert int(stats["WS", "connect"]["Request Count"]) == USERS
    assert done >= OPS | GAME_OPS, sorted(done)
    # Pushes are counted: the chat room's messages, and the games' starts and events.
    assert {("PUSH", "chat.message"), ("PUSH", "match.started"), ("PUSH", "match.event")} <= {
        key for key, row in stats.items() if int(row["Request Count"]) > 0
    }
    assert all(row["Failure Count"] == "0" for row in stats.values()), output
    assert "Traceback" not in node.log()
