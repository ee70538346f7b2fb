"""What every benchmark needs: a private Redis, pinned server processes, the machine's facts."""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import uvloop
from aiohttp import web

from server.embedded_redis import RedisClusterProcesses, RedisProcess, free_port

SERVER_CORE = "0"
LOAD_CORE = "1"  # the load generator and Redis share the other core
OTHER_CPU = 0.15  # work besides the bench's taking this much of a core is worth a note


def pinned(core: str, argv: list[str]) -> list[str]:
    """Pin a command to a core where taskset exists and there are two cores to split."""
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", core, *argv]
    return argv


def pin_self(core: str) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {int(core)})


def pin_process(core: str, pid: int) -> None:
    """Pin a running process, every thread of it (-a), where there are two cores to split."""
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        subprocess.run(["taskset", "-a", "-pc", core, str(pid)], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip


def start_redis(data_dir: Path, core: str = LOAD_CORE) -> RedisProcess:
    """A Redis without persistence, pinned to the generator's core unless told otherwise."""
    redis = RedisProcess(data_dir, appendonly=False).start()
    assert redis.process is not None
    pin_process(core, redis.process.pid)
    return redis


def start_cluster(data_dir: Path, masters: int = 3) -> RedisClusterProcesses:
    """A Redis Cluster of ``masters`` on loopback, without persistence, every node on the
    generator's core as the single Redis is: they share that one core among themselves."""
    cluster = RedisClusterProcesses(data_dir, masters=masters).start()
    for node in cluster.nodes:
        assert node.process is not None
        pin_process(LOAD_CORE, node.process.pid)
    return cluster


def redis_pids(redis: RedisProcess | RedisClusterProcesses) -> list[int]:
    nodes = redis.nodes if isinstance(redis, RedisClusterProcesses) else [redis]
    return [node.process.pid for node in nodes if node.process is not None]


@dataclass
class ServerProcess:
    redis_url: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_path: Path) -> ServerProcess:
        env = {
            **os.environ,
            "REDIS_URL": self.redis_url,
            "ARENA_PORT": str(self.port),
            "ARENA_LOG_LEVEL": "WARNING",
            **self.env,
        }
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                pinned(SERVER_CORE, [sys.executable, "-m", "server"]),
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_ready(self.url, f"server did not start; see {log_path}")
        return self

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class BaselineProcess:
    """A baseline server (``python -m MODULE --port P ...``) in a process of its own, pinned
    to the server's core as Arena is."""

    module: str
    args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_path: Path) -> BaselineProcess:
        argv = [sys.executable, "-m", self.module, "--port", str(self.port), *self.args]
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                pinned(SERVER_CORE, argv), stdout=log, stderr=subprocess.STDOUT
            )
        wait_ready(self.url, f"{self.module} did not start; see {log_path}")
        return self

    def stop(self) -> None:
        stop_process(self.process)


def serve_baseline(app: web.Application, port: int) -> int:
    """Run a baseline server as Arena runs: uvloop, loopback only, no access log."""
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        shutdown_timeout=5.0,
        print=None,
        access_log=None,
        loop=uvloop.new_event_loop(),
    )
    return 0


def wait_ready(url: str, failure: str, within_s: float = 20.0) -> None:
    """Wait until ``url``/readyz answers 200; RuntimeError(failure) after ``within_s``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(failure)


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = found.group(1).strip() if found else cpu
    except OSError:
        pass
    redis_version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=False
    ).stdout.split()[2:3]
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"redis-server {''.join(redis_version).removeprefix('v=')}, {platform.system()} "
        f"{platform.release()}"
    )
