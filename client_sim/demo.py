"""``make demo`` / ``python -m client_sim.demo``: Arena with its private Redis, plus bots
playing the whole loop, until Ctrl-C.

The server runs as its own process (as in production) with the settings of the
environment, as ``make run`` would: ``ARENA_PORT``, ``ARENA_HOST``, ``REDIS_URL`` and
the rest (``--port`` sets ARENA_PORT for it). Its log goes to
``ARENA_DATA_DIR/demo-server.log`` (``var/demo-server.log``), so the bots' live line
stays readable; the bots play ``--scenario`` (default ``play``) and print their table
when stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from client_sim.__main__ import main as bots_main
from server.banner import local_url, pages
from server.embedded_redis import free_port
from server.setting_errors import EXIT_BAD_SETTING, SettingError
from server.settings import Settings

DAY_S = 86_400.0
LOG_NAME = "demo-server.log"
LOG_TAIL_LINES = 20  # shown when the server stops before it is ready


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (it drains its sockets and hands off its matches), then SIGKILL after 15 s."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()


def wait_ready(
    url: str, server: subprocess.Popen[bytes], log_path: Path | None = None, within_s: float = 30.0
) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(
                f"{log_tail(log_path)}demo: the server exited (status {server.returncode})"
            )
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/readyz", timeout=1) as r:
            if r.status == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"{log_tail(log_path)}demo: the server was not ready within {within_s:.0f} s")


def log_tail(log_path: Path | None) -> str:
    """The end of the server's log, to show why it stopped (the log is a file, unseen)."""
    if log_path is None or not log_path.exists():
        return ""
    lines = log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    return "".join(f"{line}\n" for line in lines)


def server_env(environ: Mapping[str, str], port: int | None) -> tuple[dict[str, str], Settings]:
    """The server's environment and the settings it will read from it. Settings reach the
    server only through its environment: a flag would override what the user set."""
    env = dict(environ)
    if port is not None:
        env["ARENA_PORT"] = str(port)
    settings = Settings.from_env(env)
    if settings.port == 0:  # any free port: choose it here, so the bots know where to go
        env["ARENA_PORT"] = str(free_port())
        settings = Settings.from_env(env)
    return env, settings


def start_server(env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m server`` with no flags, its output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        # Its own session: Ctrl-C reaches only the demo, which stops the bots and then the
        # server, once, with SIGTERM (a second signal mid-shutdown would cut its clean-up).
        return subprocess.Popen(
            [sys.executable, "-m", "server"],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m client_sim.demo", description=__doc__)
    parser.add_argument("--port", type=int, default=None, help="sets ARENA_PORT (default: it)")
    parser.add_argument("--bots", type=int, default=50)
    parser.add_argument("--scenario", default="play")
    parser.add_argument("--duration", type=float, default=DAY_S, help="seconds (default: a day)")
    args = parser.parse_args(argv)
    try:
        env, settings = server_env(os.environ, args.port)
    except SettingError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTING
    url = local_url(settings.host, settings.port)
    log_path = Path(settings.data_dir) / LOG_NAME
    print(f"demo: starting Arena; its log goes to {log_path}", flush=True)
    server = start_server(env, log_path)
    try:
        wait_ready(url, server, log_path)
        print(
            f"demo: Arena on {url} ({pages(settings.host, settings.port)}) with {args.bots} "
            "bots; Ctrl-C stops both",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):  # the bots take Ctrl-C themselves
            return bots_main(
                ["--url", url, "--bots", str(args.bots), "--scenario", args.scenario,
                 "--duration", str(args.duration), "--max-error-fraction", "1"]
            )  # fmt: skip
        return 0
    finally:
        stop_server(server)


if __name__ == "__main__":
    sys.exit(main())
