"""Arena server processes for tests that need more than one node."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from server.embedded_redis import PORT_TRIES, PortTaken, free_port

# What `python -m server` says once its port is bound (server/__main__.py, at INFO), and
# what it says when the port was taken.
LISTENING = "Arena listening on "
IN_USE = "is in use by another program"


class NodeProcess:
    def __init__(self, env: dict[str, str], *, log_path: Path) -> None:
        self.env = env
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> None:
        # The port free_port() found may be bound by another test worker before the node
        # binds it: then the node says so and exits, and another port is tried.
        for _ in range(PORT_TRIES - 1):
            try:
                return self._start_once(timeout_s)
            except PortTaken:
                self.port = free_port()
        return self._start_once(timeout_s)

    def _start_once(self, timeout_s: float) -> None:
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if IN_USE in self._said_since(log_start):
                    raise PortTaken(self.port)
                raise RuntimeError(f"node exited early:\n{self.log()}")
            # Its own log first: /readyz alone may be answered by whoever else holds the port.
            if LISTENING in self._said_since(log_start) and self._ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"node not ready in {timeout_s}s:\n{self.log()}")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=1) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def _said_since(self, offset: int) -> str:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout_s)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
