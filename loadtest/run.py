"""``make loadtest``: Locust, headless, against a server started here or at ``--url``.

    python -m loadtest.run --users 50 --spawn-rate 10 --duration 60s [--url http://host:port]
                           [--format json] [any Locust option, e.g. --exclude-tags chat]

Without ``--url`` it starts ``python -m server`` on a free port of 127.0.0.1, as
``make run`` does (a private Redis unless REDIS_URL is set, its data in a fresh
folder under the output folder, removed afterwards), with guest logins unthrottled:
every simulated player logs in from the same address. It waits for ``/readyz``,
runs Locust, and stops the server (SIGINT, then SIGKILL if it lingers).

Locust's CSV files (``arena_stats.csv``, ...), its HTML report and the server's log go
to ``--out`` (default ``var/loadtest``). The exit code is Locust's (1 if any request
failed).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
# Every user logs in from 127.0.0.1; the default allowance (300, then 30/s) would
# refuse a fast ramp-up.
RATE_LIMITS = "auth.guest=100000/1000"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0  # the server's own bound is about twice its 5 s shutdown grace
LOCUST_GRACE_S = 60.0  # past the run time: start-up, spawning, the final report

_SPAN = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?")


def parse_duration(text: str) -> int:
    """Locust's run-time syntax (``90``, ``60s``, ``2m``, ``1h30m``) in seconds."""
    match = _SPAN.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 60s, 2m, 1h30m)")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, server: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited early with code {server.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url + "/readyz", timeout=1) as resp,
        ):
            if resp.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the server was not ready within {timeout_s:g} s")


@contextlib.contextmanager
def local_server(out: Path) -> Iterator[str]:
    """``python -m server`` on a free port; yields its base URL, stops it after."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = Path(tempfile.mkdtemp(prefix="data-", dir=out))
    limits = ",".join(filter(None, [RATE_LIMITS, os.environ.get("ARENA_RATE_LIMITS", "")]))
    env = {**os.environ, "ARENA_RATE_LIMITS": limits, "ARENA_DATA_DIR": str(data_dir)}
    # Every Locust user connects from this machine: one address, past the per-address cap.
    env.setdefault("ARENA_MAX_SOCKETS_PER_IP", "1000000")
    log_path = out / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(url, server, READY_TIMEOUT_S)
        print(f"loadtest: server at {url} (log: {log_path})", flush=True)
        yield url
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def run_locust(url: str, args: argparse.Namespace, out: Path) -> int:
    command = [
        sys.executable, "-m", "locust",
        "-f", str(LOCUSTFILE),
        "--headless",
        "--master-bind-host", "127.0.0.1",  # used with --processes only
        "--host", url,
        "--users", str(args.users),
        "--spawn-rate", str(args.spawn_rate),
        "--run-time", f"{args.duration}s",
        "--csv", str(out / "arena"),
        "--html", str(out / "report.html"),
        "--arena-format", args.format,
        *args.locust_args,
    ]  # fmt: skip
    print("loadtest:", " ".join(command), flush=True)
    locust = subprocess.Popen(command)
    try:
        return locust.wait(timeout=args.duration + LOCUST_GRACE_S)
    except subprocess.TimeoutExpired:
        print("loadtest: Locust did not finish in time; stopped", file=sys.stderr)
        return 1
    finally:
        # Interrupted (Ctrl-C, SIGTERM) or late: SIGTERM lets Locust write its reports.
        if locust.poll() is None:
            locust.terminate()
            try:
                locust.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                locust.kill()
                locust.wait()


def summary(stats_csv: Path) -> str:
    """One line from Locust's stats: requests and pushes apart (its Aggregated row adds them)."""
    requests = pushes = failures = 0
    rps = push_rate = 0.0
    with stats_csv.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["Name"] == "Aggregated":
                continue
            count, rate = int(row["Request Count"]), float(row["Requests/s"])
            if row["Type"] == "PUSH":
                pushes, push_rate = pushes + count, push_rate + rate
            else:
                requests, rps = requests + count, rps + rate
                failures += int(row["Failure Count"])
    return (
        f"{requests} requests ({rps:.1f}/s), {failures} failed; "
        f"{pushes} pushes received ({push_rate:.1f}/s)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.run", description="make loadtest")
    parser.add_argument("--url", default="", help="an Arena server's base URL; empty: start one")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second")
    parser.add_argument("--duration", type=parse_duration, default=60, help="e.g. 60s, 2m")
    parser.add_argument("--format", choices=["msgpack", "json"], default="msgpack")
    parser.add_argument("--out", type=Path, default=Path("var/loadtest"))
    # Anything else goes to Locust as is (e.g. --exclude-tags chat).
    # SIGTERM unwinds like Ctrl-C, so the server and Locust are stopped either way.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    args, locust_args = parser.parse_known_args(argv)
    args.locust_args = locust_args
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("arena_*.csv"), out / "report.html"]:
        old.unlink(missing_ok=True)  # never summarise an earlier run's numbers
    try:
        if args.url:
            code = run_locust(args.url.rstrip("/"), args, out)
        else:
            with local_server(out) as url:
                code = run_locust(url, args, out)
    except RuntimeError as exc:
        print(f"loadtest: {exc}; see {out / 'server.log'}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("loadtest: interrupted", file=sys.stderr)
        code = 130
    stats_csv = out / "arena_stats.csv"
    if stats_csv.exists():
        print(f"loadtest: {summary(stats_csv)}")
    print(f"loadtest: reports in {out}/ (arena_stats.csv, report.html)", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
