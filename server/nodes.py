"""``python -m server.nodes --nodes 3``: several Arena nodes sharing one Redis, on one machine.

What ``make run NODES=3`` runs. Each node is a plain ``python -m server`` child on its
own port, counting up from ``--port`` (ARENA_PORT, default 8080), and with
ARENA_METRICS_PORT set, its own metrics port counting up from that; every other flag is
handed to each node as given. With REDIS_URL unset, one private redis-server is started
here for all of them (left alone, each node would start its own, and they would share
nothing). Each node's log lines come out prefixed with its port.

A SIGINT or SIGTERM is passed on to every node once: each tells its players to reconnect
and stops within about twice ARENA_SHUTDOWN_GRACE (past that it is killed); Redis stops
last. A node that dies on its own is reported and the others go on, as they would
behind a load balancer (docs/deployment.md). The exit status is 0 when every node
stopped cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from types import FrameType
from typing import IO, Any

from server import logs
from server.banner import pages
from server.embedded_redis import private_redis
from server.settings import Settings
from server.storage.clients import check_redis

log = logging.getLogger("server.nodes")

PROG = "python -m server.nodes"
READY_WITHIN_S = 30.0
POLL_S = 0.1
# Flags each node gets from here rather than as given: its own port and name, and the
# Redis URL (in its environment, where a password is not shown by ps).
PER_NODE = frozenset({"port", "node_id", "redis_url", "metrics_port"})
_output_lock = threading.Lock()


@dataclasses.dataclass(slots=True)
class Node:
    port: int
    process: subprocess.Popen[bytes]
    ready: bool = False
    reported: bool = False


def parse(argv: Sequence[str] | None) -> tuple[int, Settings, dict[str, Any]]:
    """The node count, the settings (checked once, here), and the flags given."""
    parser = Settings.argument_parser(PROG)
    parser.description = (
        "Start N Arena nodes on consecutive ports sharing one Redis (a private one when "
        "REDIS_URL is unset). Every other flag is passed to each node."
    )
    parser.add_argument("--nodes", type=int, default=1, metavar="N", help="Nodes to start.")
    args = vars(parser.parse_args(argv))
    count: int = args.pop("nodes")
    flags = {name: value for name, value in args.items() if value is not None}
    try:
        settings = Settings.from_env(None, **flags)
    except ValueError as exc:
        parser.error(str(exc))
    if count < 1:
        parser.error("--nodes must be 1 or more")
    if settings.port == 0 or settings.port + count - 1 > 65535:
        parser.error(
            f"--nodes {count} needs ports {settings.port} and up (from ARENA_PORT), within 1..65535"
        )
    if settings.metrics_port:
        metrics = range(settings.metrics_port, settings.metrics_port + count)
        if metrics.stop - 1 > 65535:
            parser.error(f"--nodes {count} needs metrics ports {metrics.start} and up, to 65535")
        if set(metrics) & set(range(settings.port, settings.port + count)):
            parser.error(
                f"ARENA_METRICS_PORT: the metrics ports {metrics.start}..{metrics.stop - 1} "
                f"overlap the nodes' ports {settings.port}..{settings.port + count - 1}"
            )
    return count, settings, flags


def node_command(number: int, settings: Settings, flags: dict[str, Any]) -> list[str]:
    """``python -m server`` with the flags given, this node's port and, when one was set,
    a name of its own (two nodes under one name would take each other's sockets)."""
    command = [sys.executable, "-m", "server"]
    for name, value in flags.items():
        if name not in PER_NODE:
            command += ["--" + name.replace("_", "-"), str(value)]
    command += ["--port", str(settings.port + number - 1)]
    if settings.metrics_port:  # like the ports: node i serves /metrics on metrics_port + i - 1
        command += ["--metrics-port", str(settings.metrics_port + number - 1)]
    if settings.node_id:
        command += ["--node-id", f"{settings.node_id}-{number}"]
    return command


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # Linux: a node goes when this launcher goes, even after kill -9.
    with contextlib.suppress(Exception):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _relay(stream: IO[bytes], prefix: bytes) -> None:
    """Copy a node's output (its log) to ours line by line, prefixed; never stop reading
    (a node blocked on a full pipe would stop serving), even when our own output is gone."""
    out = sys.stderr.buffer
    for line in iter(stream.readline, b""):
        with _output_lock, contextlib.suppress(OSError, ValueError):
            out.write(prefix + line)
            out.flush()
    stream.close()


class Launcher:
    def __init__(self, count: int, settings: Settings, flags: dict[str, Any]) -> None:
        self.count = count
        self.settings = settings
        self.flags = flags
        self.nodes: list[Node] = []
        self.relays: list[threading.Thread] = []
        self.stop_signal: signal.Signals | None = None
        self.failed_start = False
        self._stop = threading.Event()

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stop_signal is not None:
            log.info("already stopping; signal %s ignored", signal.Signals(signum).name)
            return
        self.stop_signal = signal.Signals(signum)
        self._stop.set()

    def run(self, redis_url: str) -> None:
        """Start the nodes, then wait until asked to stop or every node is gone."""
        if self.stop_signal is not None:
            return
        self.start(redis_url)
        if not self.wait_ready():
            self.failed_start = self.stop_signal is None
            return
        ports = ", ".join(str(node.port) for node in self.nodes)
        log.info(
            "%d Arena nodes ready on %s, ports %s; any of them serves %s",
            self.count,
            self.host,
            ports,
            pages(self.settings.host, self.settings.port),
        )
        while not self._stop.wait(POLL_S) and self.report_exits():
            pass

    @property
    def host(self) -> str:
        host = self.settings.host
        if host in ("", "0.0.0.0", "::"):
            return "127.0.0.1"
        return f"[{host}]" if ":" in host else host

    def start(self, redis_url: str) -> None:
        env = {**os.environ, "REDIS_URL": redis_url}
        # Every node first, then the relays: a fork while threads run may hang the child.
        for number in range(1, self.count + 1):
            process = subprocess.Popen(
                node_command(number, self.settings, self.flags),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                # Its own group: a Ctrl-C reaches this launcher only, which passes it on
                # once (a second signal while a node stops would be logged and ignored).
                process_group=0,
            )
            self.nodes.append(Node(self.settings.port + number - 1, process))
        for node in self.nodes:
            assert node.process.stdout is not None
            relay = threading.Thread(
                target=_relay,
                args=(node.process.stdout, f"[{node.port}] ".encode()),
                name=f"relay-{node.port}",
                daemon=True,
            )
            relay.start()
            self.relays.append(relay)

    def wait_ready(self) -> bool:
        """Wait until every node answers /readyz; False if one exits or is late."""
        deadline = time.monotonic() + READY_WITHIN_S
        while not self._stop.is_set():
            for node in self.nodes:
                if node.process.poll() is not None:
                    log.error("node on port %d exited while starting", node.port)
                    return False
                node.ready = node.ready or self._answers_ready(node.port)
            if all(node.ready for node in self.nodes):
                return True
            if time.monotonic() > deadline:
                late = [node.port for node in self.nodes if not node.ready]
                log.error("nodes on ports %s not ready within %.0f s", late, READY_WITHIN_S)
                return False
            self._stop.wait(POLL_S)
        return False

    def _answers_ready(self, port: int) -> bool:
        url = f"http://{self.host}:{port}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                status: int = resp.status
        except OSError:
            return False
        return status == 200

    def report_exits(self) -> bool:
        """Log each node that ended on its own, once; False when none is left."""
        for node in self.nodes:
            if node.process.poll() is not None and not node.reported:
                node.reported = True
                log.warning(
                    "node on port %d ended (status %s); the others go on",
                    node.port,
                    node.process.returncode,
                )
        return any(node.process.poll() is None for node in self.nodes)

    def stop(self) -> int:
        """Pass the signal on (SIGTERM when none came), wait within the bound, kill the
        rest. 0 when every node stopped cleanly."""
        sig = self.stop_signal or signal.SIGTERM
        running = [node for node in self.nodes if node.process.poll() is None]
        if running:
            log.info("stopping %d nodes (%s)", len(running), sig.name)
        for node in running:
            node.process.send_signal(sig)
        # A node takes at most about twice its grace to stop; the rest is a margin.
        deadline = time.monotonic() + 2 * self.settings.shutdown_grace_s + 5
        for node in self.nodes:
            try:
                node.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("node on port %d did not stop in time; killing it", node.port)
                node.process.kill()
                node.process.wait()
        for relay in self.relays:
            relay.join(timeout=2)
        failed = [n for n in self.nodes if n.process.returncode != 0]
        for node in failed:
            log.error("node on port %d ended with status %s", node.port, node.process.returncode)
        if running and not failed:
            log.info("all %d nodes stopped", len(self.nodes))
        return 1 if failed or self.failed_start else 0


def main(argv: Sequence[str] | None = None) -> int:
    count, settings, flags = parse(argv)
    logs.configure(settings.log_level, "json" if settings.log_format == "json" else "text")
    launcher = Launcher(count, settings, flags)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, launcher.on_signal)
    with contextlib.ExitStack() as stack:
        redis_url = settings.redis_url
        try:
            if redis_url and settings.redis_wait_s > 0:
                # Once here, rather than each node failing alike with its own line.
                asyncio.run(
                    check_redis(
                        redis_url,
                        within_s=settings.redis_wait_s,
                        timeout_s=settings.redis_timeout_s,
                    )
                )
            elif not redis_url:
                redis_url = private_redis(stack, settings.data_dir).url
        except RuntimeError as exc:  # RedisUnreachable, or no private Redis
            print(f"arena: {exc}", file=sys.stderr)
            return 1
        try:
            launcher.run(redis_url)
        finally:
            status = launcher.stop()  # before Redis stops, whatever happened
        return status


if __name__ == "__main__":
    sys.exit(main())
