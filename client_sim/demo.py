"""``make demo`` / ``python -m client_sim.demo``: Arena with its private Redis, plus bots
playing the whole loop, until Ctrl-C.

The server runs as its own process (as in production), on ``--port``; the bots
play ``--scenario`` (default ``play``) and print their table when stopped.
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
from collections.abc import Sequence

from client_sim.__main__ import main as bots_main

DAY_S = 86_400.0


def wait_ready(url: str, server: subprocess.Popen[bytes], within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"demo: the server exited (status {server.returncode})")
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/readyz", timeout=1) as r:
            if r.status == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"demo: the server was not ready within {within_s:.0f} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m client_sim.demo", description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--bots", type=int, default=50)
    parser.add_argument("--scenario", default="play")
    parser.add_argument("--duration", type=float, default=DAY_S, help="seconds (default: a day)")
    args = parser.parse_args(argv)
    url = f"http://127.0.0.1:{args.port}"
    # Its own session: Ctrl-C reaches only the demo, which stops the bots and then the
    # server, once, with SIGTERM (a second signal mid-shutdown would cut its clean-up).
    server = subprocess.Popen(
        [sys.executable, "-m", "server", "--port", str(args.port)],
        env={**os.environ},
        start_new_session=True,
    )
    try:
        wait_ready(url, server)
        print(f"demo: Arena on {url} with {args.bots} bots; Ctrl-C stops both", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # the bots take Ctrl-C themselves
            return bots_main(
                ["--url", url, "--bots", str(args.bots), "--scenario", args.scenario,
                 "--duration", str(args.duration), "--max-error-fraction", "1"]
            )  # fmt: skip
        return 0
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
