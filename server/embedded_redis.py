"""A private redis-server child process: what `make run` uses when REDIS_URL is unset,
and what the tests start for themselves."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)

MISSING = (
    "redis-server was not found on PATH: install Debian's redis-server package "
    "(sudo apt-get install redis-server), or set REDIS_URL to a Redis you run."
)


# How many ports RedisProcess.start tries when the one it picked was taken meanwhile.
PORT_TRIES = 5


class PortTaken(OSError):
    """The port picked for a child was bound by someone else before the child bound it."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_from(path: Path, offset: int) -> str:
    """What ``path`` says past ``offset`` ("" while it does not exist)."""
    try:
        with path.open("rb") as file:
            file.seek(offset)
            return file.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))  # up, password or not
    except OSError:
        return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # Linux: the private Redis goes when its server goes, even after kill -9.
    with contextlib.suppress(Exception):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def private_redis(stack: contextlib.ExitStack, data_dir: str) -> RedisProcess:
    """The private Redis of ``make run`` (REDIS_URL unset): data in ``data_dir``/redis, AOF
    on, stopped when ``stack`` closes. RuntimeError says why it could not start."""
    path = Path(data_dir) / "redis"
    redis = stack.enter_context(RedisProcess(path))
    log.info("started a private redis-server at %s (data in %s)", redis.url, path)
    return redis


class ChildProcess:
    """Something started and stopped as child processes, usable as ``with X(...) as x``."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class RedisProcess(ChildProcess):
    """``with RedisProcess(dir) as r: r.url`` — a redis-server on a free loopback port."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        appendonly: bool = True,
        extra_args: list[str] | None = None,
        die_with_parent: bool = True,
        cluster_bus: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        # A cluster node's bus on a free port of its own: the default (port + 10000) may be
        # taken or past 65535.
        self.bus_port = free_port() if cluster_bus else None
        # A port picked here may be taken between free_port() and redis-server binding it
        # (another test worker, another program): until it has run once, start() may pick
        # another. A port it ran on is kept, so a restart comes back where clients look.
        self._may_move = port is None
        self.appendonly = appendonly
        self.extra_args = extra_args or []
        self.die_with_parent = die_with_parent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> Self:
        for _ in range(PORT_TRIES - 1):
            try:
                return self._start_once(timeout_s)
            except PortTaken:
                self.port = free_port()
                if self.bus_port is not None:
                    self.bus_port = free_port()
        return self._start_once(timeout_s)

    def _start_once(self, timeout_s: float) -> Self:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(MISSING)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_file = self.data_dir / "redis.log"
        log_start = log_file.stat().st_size if log_file.exists() else 0
        args = [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir.resolve()),
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(log_file.resolve()),
            *self.extra_args,
        ]  # fmt: skip
        if self.bus_port is not None:
            args += ["--cluster-port", str(self.bus_port)]
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if self.die_with_parent else None,
            # Its own session: a Ctrl-C at the terminal reaches the server, which then
            # closes its sockets and stops Redis last, not Redis first.
            start_new_session=True,
        )
        self._wait_ready(timeout_s, log_file, log_start)
        self._may_move = False
        return self

    def _wait_ready(self, timeout_s: float, log_file: Path, log_start: int) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                said = _read_from(log_file, log_start)
                if self._may_move and "Address already in use" in said:
                    raise PortTaken(self.port)
                raise RuntimeError(
                    f"redis-server exited with {self.process.returncode}; see {log_file}"
                )
            # Its own log first: a PONG alone may come from whoever else holds the port.
            said = _read_from(log_file, log_start)
            if "Ready to accept connections" in said and _answers_ping(self.port):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} in {timeout_s}s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # Redis flushes its AOF on SIGTERM
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class RedisClusterProcesses(ChildProcess):
    """``with RedisClusterProcesses(dir) as c: c.url`` — a Redis Cluster of ``masters``
    redis-server processes on free loopback ports, joined by ``redis-cli --cluster create``.

    What the tests and ``make bench`` run the cluster code paths against; ``c.url`` is
    ``redis+cluster://`` naming the first node, as a deployment would.
    """

    def __init__(
        self, data_dir: Path, *, masters: int = 3, replicas: int = 0, appendonly: bool = False
    ) -> None:
        self.data_dir = Path(data_dir)
        self.replicas = replicas
        self.nodes = [
            RedisProcess(
                self.data_dir / f"node{i}",
                appendonly=appendonly,
                extra_args=[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                ],
                cluster_bus=True,
            )
            for i in range(masters * (1 + replicas))
        ]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self, timeout_s: float = 20.0) -> Self:
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError(MISSING)
        try:
            for node in self.nodes:
                node.start()
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            subprocess.run(
                [
                    cli,
                    "--cluster",
                    "create",
                    *addresses,
                    "--cluster-replicas",
                    str(self.replicas),
                    "--cluster-yes",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=timeout_s,
            )
            self._wait_ok(cli, timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ok(self, cli: str, timeout_s: float) -> None:
        """Until every node says the cluster is ok: each has learnt every slot's owner."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = [
                subprocess.run(
                    [cli, "-p", str(node.port), "cluster", "info"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                ).stdout
                for node in self.nodes
            ]
            if all("cluster_state:ok" in state for state in states):
                return
            time.sleep(0.05)
        raise RuntimeError(f"the Redis cluster did not become ok in {timeout_s}s")

    def stop(self) -> None:
        # All at once: a master stopping alone waits (up to shutdown-timeout) for its
        # replicas to catch up, and stopped one by one that adds up.
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            node.stop()
