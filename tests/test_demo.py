"""``make demo`` honours the settings of the environment and keeps the server's log apart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import redis as redis_sync

from server.embedded_redis import RedisProcess, free_port

WITHIN_S = 60.0  # a bound on a demo that hangs; never reached when it works


def test_the_demo_serves_on_arena_port_and_logs_the_server_to_a_file(
    redis_server: RedisProcess, redis_client: redis_sync.Redis, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "ARENA_PORT": str(port),
        "REDIS_URL": redis_server.url,
        "ARENA_DATA_DIR": str(tmp_path / "var"),
    }
    demo = subprocess.Popen(
        [sys.executable, "-m", "client_sim.demo", "--bots", "1", "--duration", "600"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "demo.err").open("wb"),
        text=True,
    )
    watchdog = threading.Timer(WITHIN_S, demo.kill)
    watchdog.start()
    try:
        assert demo.stdout is not None
        lines = []
        for line in demo.stdout:  # up to the line that says the demo is under way
            lines.append(line)
            if line.startswith("demo: Arena on"):
                break
        log_path = tmp_path / "var" / "demo-server.log"
        assert lines[0] == f"demo: starting Arena; its log goes to {log_path}\n"
        assert lines[-1].startswith(f"demo: Arena on http://127.0.0.1:{port} "), lines
        assert f"game http://127.0.0.1:{port}/play" in lines[-1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
            assert resp.status == 200
        # The server's log is in the file, not among the bots' lines.
        server_log = log_path.read_text()
        assert (
            f"Arena listening on http://127.0.0.1:{port}: dashboard http://127.0.0.1:{port}/, "
            f"game http://127.0.0.1:{port}/play"
        ) in server_log
        assert not any("Arena listening" in line for line in lines)
        demo.send_signal(signal.SIGINT)
        assert demo.wait(WITHIN_S) == 0
    finally:
        watchdog.cancel()
        if demo.poll() is None:  # a failed check: Ctrl-C, so the demo stops its server too
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(WITHIN_S)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()
