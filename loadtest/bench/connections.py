"""Connection capacity: how many authenticated idle sockets one server process holds, what
each costs in memory, and how fast players get in, beside a bare aiohttp WebSocket server.

Arena: every player logs in as a guest (``POST /v1/auth/guest``), then opens
``GET /v1/ws`` with its token; both phases are timed apart, with a bounded number
of requests in flight. The server's resident memory (``VmRSS``) is read before
the logins, after them and with every socket open, then the server is left idle
for a while (its CPU read from ``/proc``), a sample of sockets pings one after
another, and finally every socket pings once: the sockets that answer are the
ones held. The bare server (``loadtest/bench/bare_sockets.py``) gets the same
opens, idle wait and pings, with no login.

The bench process raises its open-files limit (``RLIMIT_NOFILE``) first; the
servers it starts inherit it.
"""

from __future__ import annotations

import asyncio
import gc
import resource
import time
from pathlib import Path

import aiohttp
import uvloop

from loadtest.bench.common import LOAD_CORE, BaselineProcess, ServerProcess, pin_self, start_redis
from loadtest.bench.connections_host import (
    LATE_OPENS,
    OPEN_FILES,
    Limits,
    listen_overflows,
    raise_open_files,
    rss_kb,
    used_memory,
)
from loadtest.bench.connections_load import (
    BARE_IDLE_S,
    HEARTBEAT_S,
    IDLE_S,
    IN_FLIGHT,
    Target,
    bounded,
    hold,
)
from loadtest.bench.connections_report import headline, render
from loadtest.bench.summary import SocketsHeadline

ARENA_ENV = {
    # Every login comes from one client IP: the per-IP login budget must not decide.
    "ARENA_RATE_LIMITS": "auth.guest=1000000/100000",
    "ARENA_WS_HEARTBEAT": str(HEARTBEAT_S),
    # Every socket comes from one address: the per-address cap must not decide either.
    "ARENA_MAX_SOCKETS_PER_IP": "10000000",
}


async def arena(workdir: Path, sockets: int) -> tuple[Target, str]:
    target = Target("Arena", sockets, sockets)
    redis = start_redis(workdir / "redis-connections")
    log_path = workdir / "server-connections.log"
    try:
        server = ServerProcess(redis.url, env=ARENA_ENV).start(log_path)
        try:
            assert server.process is not None
            assert redis.process is not None
            pids = {"server": server.process.pid, "redis": redis.process.pid}
            target.rss_start_kb = rss_kb(pids["server"])
            target.redis_bytes = await used_memory(redis.url)
            tokens = [""] * sockets
            login_url = server.url + "/v1/auth/guest"
            overflows0 = listen_overflows()
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

                async def login(i: int, into: list[str]) -> None:
                    body = {"device_id": f"bench-connections-{i:06d}", "name": f"b{i}"}
                    async with http.post(login_url, json=body) as resp:
                        reply = await resp.json()
                        if resp.status != 200:
                            raise ValueError(f"login refused ({resp.status}): {reply}")
                        into[i - (sockets if into is late else 0)] = reply["token"]

                late = [""] * LATE_OPENS
                target.login = await bounded(sockets, IN_FLIGHT, lambda i: login(i, tokens), pids)
                await asyncio.sleep(0.2)  # the server sees the keep-alive connections go
                target.rss_logged_in_kb = rss_kb(pids["server"])
                # The late openers' logins: untimed, and their Redis bytes kept out of the
                # per-player figure (the baseline takes them in).
                before_late = await used_memory(redis.url)
                target.late_logins = await bounded(
                    LATE_OPENS, IN_FLIGHT, lambda i: login(sockets + i, late), pids
                )
                target.redis_bytes += await used_memory(redis.url) - before_late
            logged_in = [t for t in tokens if t]
            target.sockets = len(logged_in)
            await hold(
                target, server.url, pids, "/v1/ws", logged_in,
                late_tokens=[t for t in late if t], idle_s=IDLE_S, redis_url=redis.url,
            )  # fmt: skip
            target.overflows = listen_overflows() - overflows0
            t0 = time.monotonic()
        finally:
            server.stop()
        target.stop_s = time.monotonic() - t0
    finally:
        redis.stop()
    return target, log_path.read_text(errors="replace")


async def bare(workdir: Path, sockets: int) -> Target:
    target = Target("bare aiohttp", sockets, sockets)
    server = BaselineProcess(
        "loadtest.bench.bare_sockets", ["--heartbeat", str(HEARTBEAT_S)]
    ).start(workdir / "bare-sockets.log")
    try:
        assert server.process is not None
        pids = {"server": server.process.pid}
        target.rss_start_kb = target.rss_logged_in_kb = rss_kb(pids["server"])
        overflows0 = listen_overflows()
        await hold(target, server.url, pids, "/ws", None, idle_s=BARE_IDLE_S)
        target.overflows = listen_overflows() - overflows0
        t0 = time.monotonic()
    finally:
        server.stop()
    target.stop_s = time.monotonic() - t0
    return target


async def _measure(workdir: Path, limits: Limits) -> tuple[Target, Target, str]:
    pin_self(LOAD_CORE)  # this thread: the generator's
    a, server_log = await arena(workdir, limits.sockets)
    b = await bare(workdir, limits.sockets)
    return a, b, server_log


async def run(workdir: Path) -> tuple[str, SocketsHeadline]:
    limits = raise_open_files(OPEN_FILES)
    started = time.monotonic()
    collecting = gc.isenabled()
    gc.disable()  # the generator's: a full collection over 15,000 sockets stalls every open
    try:
        # As the relay's: the generator on a uvloop of its own, in a thread pinned to core 1.
        a, b, server_log = await asyncio.to_thread(uvloop.run, _measure(workdir, limits))
    finally:
        if collecting:
            gc.enable()
        if limits.now != limits.soft_before:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits.soft_before, limits.hard_before))
    return render(a, b, server_log, limits, time.monotonic() - started), headline(a, b)
