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
import itertools
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import msgpack
import uvloop
from redis import asyncio as aioredis

from loadtest.bench.common import (
    LOAD_CORE,
    SERVER_CORE,
    BaselineProcess,
    ServerProcess,
    percentile,
    pin_self,
    start_redis,
)
from loadtest.bench.relay_load import busy_since, core_jiffies, cpu_seconds

SOCKETS = 15_000
IN_FLIGHT = 100  # logins or opens at once; the listen backlog is aiohttp's 128
OPEN_FILES = 65_536  # each side holds one descriptor per socket, and a few more
SPARE_FILES = 1_000  # descriptors kept aside from SOCKETS: Redis, logs, the loop
PHASE_LIMIT_S = 20.0  # any phase (logins, opens, pings) ends by then, done or not
CALL_LIMIT_S = 10.0  # one login, open or ping
IDLE_S = 10.0  # two presence intervals (5 s): two upkeep rounds, nearly always
BARE_IDLE_S = 4.0  # the bare server has no periodic work
CPU_SLICE_S = 0.25
QUIET = 0.02  # a server this busy (share of a core) or less is idle
GENERATOR_BUSY = 0.8  # the generator's core this busy: it may be what limits a rate
PRESENCE_S = 5.0  # Arena's upkeep interval (ARENA_PRESENCE_INTERVAL, default)
DRAIN_LIMIT_S = 15.0
PING_SAMPLES = 1_000
HEARTBEAT_S = 600.0  # WebSocket pings: none during the run, on either server
ARENA_ENV = {
    # Every login comes from one client IP: the per-IP login budget must not decide.
    "ARENA_RATE_LIMITS": "auth.guest=1000000/100000",
    "ARENA_WS_HEARTBEAT": str(HEARTBEAT_S),
    # Every socket comes from one address: the per-address cap must not decide either.
    "ARENA_MAX_SOCKETS_PER_IP": "10000000",
}


@dataclass(frozen=True, slots=True)
class Limits:
    """The open-files limit before and after raising it, and what it allows."""

    soft_before: int
    hard_before: int
    now: int
    refused: str  # why the hard limit stayed, if it did
    sockets: int
    ports: int


def raise_open_files(want: int) -> Limits:
    """Raise this process's open-files limit (``RLIMIT_NOFILE``) to ``want``, the hard limit
    too if need be, else as far as the hard limit; servers started afterwards inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    refused = ""
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
        except (ValueError, OSError) as exc:  # raising the hard limit needs CAP_SYS_RESOURCE
            refused = str(exc)
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    now = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return Limits(soft, hard, now, refused, min(SOCKETS, now - SPARE_FILES), port_range())


async def used_memory(redis_url: str) -> int:
    client = aioredis.Redis.from_url(redis_url)
    try:
        return int((await client.info("memory"))["used_memory"])
    finally:
        await client.aclose()


def rss_kb(pid: int | str) -> int:
    """Resident memory of a process in KiB (``VmRSS``), 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def listen_overflows() -> int:
    """Times a listening socket's accept queue was full, since boot (all sockets)."""
    try:
        head, values = (
            line.split()
            for line in Path("/proc/net/netstat").read_text().splitlines()
            if line.startswith("TcpExt:")
        )
        return int(dict(zip(head, values, strict=True)).get("ListenOverflows", 0))
    except (OSError, ValueError):
        return 0


def port_range() -> int:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(high) - int(low) + 1
    except (OSError, ValueError):
        return 0


@dataclass
class Phase:
    """A batch of calls (logins, opens or pings) with a bounded number in flight."""

    tried: int = 0
    done: int = 0
    errors: int = 0
    first_error: str = ""
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    redis_cpu_s: float = 0.0
    own_cpu_s: float = 0.0
    cores_busy: tuple[float, float] = (0.0, 0.0)  # the server's core, the generator's
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.done / self.wall_s if self.wall_s else 0.0

    def share(self, cpu_s: float) -> float:
        return cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50)


async def bounded(
    count: int, in_flight: int, call: Callable[[int], Awaitable[None]], pids: dict[str, int]
) -> Phase:
    """``call(0)`` .. ``call(count - 1)``, ``in_flight`` at a time, each within CALL_LIMIT_S,
    the whole within PHASE_LIMIT_S; the server's, Redis's and this process's CPU meanwhile."""
    phase = Phase()
    indices = iter(range(count))
    deadline = time.monotonic() + PHASE_LIMIT_S

    async def worker() -> None:
        for i in indices:
            if time.monotonic() > deadline:
                return
            phase.tried += 1
            t0 = time.perf_counter()
            try:
                async with asyncio.timeout(CALL_LIMIT_S):
                    await call(i)
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError) as exc:
                phase.errors += 1
                phase.first_error = phase.first_error or f"{type(exc).__name__}: {exc}"[:160]
                continue
            phase.latencies_ms.append((time.perf_counter() - t0) * 1000)
            phase.done += 1

    server0, redis0 = cpu_seconds(pids["server"]), cpu_seconds(pids.get("redis", 0))
    own0, wall0, cores0 = time.process_time(), time.monotonic(), core_jiffies()
    await asyncio.gather(*(worker() for _ in range(min(in_flight, count))))
    phase.cores_busy = (busy_since(cores0, SERVER_CORE), busy_since(cores0, LOAD_CORE))
    phase.wall_s = time.monotonic() - wall0
    phase.own_cpu_s = time.process_time() - own0
    phase.server_cpu_s = cpu_seconds(pids["server"]) - server0
    phase.redis_cpu_s = cpu_seconds(pids.get("redis", 0)) - redis0 if "redis" in pids else 0.0
    return phase


async def ping(ws: aiohttp.ClientWebSocketResponse, rid: int) -> None:
    """One ``ping`` round trip; anything else the server sends meanwhile is skipped."""
    await ws.send_bytes(msgpack.packb({"op": "ping", "rid": rid}))
    for _ in range(16):
        msg = await ws.receive()
        if msg.type is aiohttp.WSMsgType.BINARY:
            reply = msgpack.unpackb(msg.data)
            if reply.get("rid") == rid:
                if not reply.get("ok"):
                    raise ValueError(f"ping refused: {reply.get('error')}")
                return
        elif msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSING,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
        ):
            raise ConnectionResetError(f"socket closed ({ws.close_code})")
    raise ValueError("no reply to ping among 16 frames")


@dataclass
class Idle:
    """A server left alone with every socket open."""

    wall_s: float
    server_cpu_s: float
    redis_cpu_s: float
    slices: list[float]  # the server's CPU share in each CPU_SLICE_S

    @property
    def server(self) -> float:
        return self.server_cpu_s / self.wall_s

    @property
    def redis(self) -> float:
        return self.redis_cpu_s / self.wall_s


async def idle(pids: dict[str, int], seconds: float) -> Idle:
    server0, redis0 = cpu_seconds(pids["server"]), cpu_seconds(pids.get("redis", 0))
    wall0 = time.monotonic()
    slices = []
    last = server0
    while time.monotonic() - wall0 < seconds:
        await asyncio.sleep(CPU_SLICE_S)
        now = cpu_seconds(pids["server"])
        slices.append((now - last) / CPU_SLICE_S)
        last = now
    redis_cpu = cpu_seconds(pids["redis"]) - redis0 if "redis" in pids else 0.0
    return Idle(time.monotonic() - wall0, last - server0, redis_cpu, slices)


@dataclass
class Target:
    """One server's figures."""

    name: str
    wanted: int
    sockets: int = 0  # those to open: for Arena, the players who logged in
    rss_start_kb: int = 0
    rss_logged_in_kb: int = 0
    rss_idle_kb: int = 0
    own_rss_delta_kb: int = 0
    redis_bytes: int = 0
    login: Phase | None = None
    opens: Phase = field(default_factory=Phase)
    idle: Idle | None = None
    pings: Phase = field(default_factory=Phase)
    sweep: Phase = field(default_factory=Phase)
    drain_s: float = 0.0  # the server busy with the sockets' ends after the clients left
    drain_cpu_s: float = 0.0
    stop_s: float = 0.0
    overflows: int = 0

    @property
    def held(self) -> int:
        return self.sweep.done

    @property
    def kb_per_socket(self) -> float:
        return (self.rss_idle_kb - self.rss_start_kb) / self.held if self.held else float("nan")


async def hold(
    target: Target,
    url: str,
    pids: dict[str, int],
    ws_path: str,
    tokens: list[str] | None,
    *,
    idle_s: float,
    redis_url: str | None = None,
) -> None:
    """Open ``target.sockets`` sockets (with ``tokens`` if given), hold them idle, ping
    them, then close them all; fills ``target`` in."""
    sockets: list[aiohttp.ClientWebSocketResponse | None] = [None] * target.sockets
    own0 = rss_kb("self")
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def open_one(i: int) -> None:
            headers = {"Authorization": f"Bearer {tokens[i]}"} if tokens else {}
            sockets[i] = await http.ws_connect(
                url + ws_path, headers=headers, autoping=True, compress=0, max_msg_size=0
            )

        target.opens = await bounded(target.sockets, IN_FLIGHT, open_one, pids)
        gc.collect()  # the generator's garbage, out of the timed phases
        target.own_rss_delta_kb = rss_kb("self") - own0
        target.idle = await idle(pids, idle_s)
        target.rss_idle_kb = rss_kb(pids["server"])
        if redis_url:
            target.redis_bytes = await used_memory(redis_url) - target.redis_bytes
        live = [ws for ws in sockets if ws is not None]
        rids = itertools.count(1)
        if live:
            step = max(1, len(live) // PING_SAMPLES)
            sample = live[::step][:PING_SAMPLES]
            target.pings = await bounded(
                len(sample), 1, lambda i: ping(sample[i], next(rids)), pids
            )
        target.sweep = await bounded(
            len(live), IN_FLIGHT, lambda i: ping(live[i], next(rids)), pids
        )
    # Closing the session dropped every socket's connection at once.
    target.drain_s, target.drain_cpu_s = await until_quiet(pids["server"])


async def until_quiet(pid: int) -> tuple[float, float]:
    """Seconds (and CPU seconds) until the server has been quiet for two CPU slices running,
    after its clients left; DRAIN_LIMIT_S at most."""
    cpu0 = last = cpu_seconds(pid)
    t0 = time.monotonic()
    quiet = 0
    while quiet < 2 and time.monotonic() - t0 < DRAIN_LIMIT_S:
        await asyncio.sleep(CPU_SLICE_S)
        now = cpu_seconds(pid)
        quiet = quiet + 1 if now - last < QUIET * CPU_SLICE_S else 0
        last = now
    return time.monotonic() - t0 - quiet * CPU_SLICE_S, last - cpu0


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

                async def login(i: int) -> None:
                    body = {"device_id": f"bench-connections-{i:06d}", "name": f"b{i}"}
                    async with http.post(login_url, json=body) as resp:
                        reply = await resp.json()
                        if resp.status != 200:
                            raise ValueError(f"login refused ({resp.status}): {reply}")
                        tokens[i] = reply["token"]

                target.login = await bounded(sockets, IN_FLIGHT, login, pids)
            await asyncio.sleep(0.2)  # the server sees the keep-alive connections go
            target.rss_logged_in_kb = rss_kb(pids["server"])
            logged_in = [t for t in tokens if t]
            target.sockets = len(logged_in)
            await hold(
                target, server.url, pids, "/v1/ws", logged_in, idle_s=IDLE_S, redis_url=redis.url
            )
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


async def run(workdir: Path) -> str:
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
    return render(a, b, server_log, limits, time.monotonic() - started)


def _ms(phase: Phase, top: bool = False) -> str:
    if not phase.latencies_ms:
        return "n/a"
    text = f"{phase.p50_ms:.2f} / {phase.p99_ms:.2f}"
    return text + f" / {max(phase.latencies_ms):.1f}" if top else text


def _cpu(phase: Phase, redis: bool) -> str:
    text = f"{phase.share(phase.server_cpu_s):.0%} / {phase.share(phase.own_cpu_s):.0%}"
    text += f" / {phase.share(phase.redis_cpu_s):.0%}" if redis else " / -"
    return text + f" | {phase.cores_busy[0]:.0%} / {phase.cores_busy[1]:.0%}"


def _notes(a: Target, b: Target, server_log: str, limits: Limits) -> list[str]:
    notes = []
    for t in (a, b):
        for what, phase, expected in (
            ("logins", t.login, t.wanted),
            ("opens", t.opens, t.sockets),
            ("sample pings", t.pings, 0),
            ("final pings", t.sweep, t.opens.done),
        ):
            if phase is not None and phase.errors:
                notes.append(
                    f"{t.name}: {phase.errors:,} of {phase.tried:,} {what} failed; first: "
                    f"`{phase.first_error}`."
                )
            if phase is not None and phase.tried < expected:
                notes.append(
                    f"{t.name}: {what} stopped at {phase.tried:,} of {expected:,} after "
                    f"{PHASE_LIMIT_S:.0f} s."
                )
        for what, phase in (("logins", t.login), ("opens", t.opens)):
            if phase is not None and phase.cores_busy[1] >= GENERATOR_BUSY:
                notes.append(
                    f"{t.name}: the generator's core was {phase.cores_busy[1]:.0%} busy during "
                    f"the {what} (server's core {phase.cores_busy[0]:.0%}): that rate is partly "
                    "the generator's ceiling, not the server's."
                )
        if t.overflows:
            notes.append(
                f"{t.name}: a listen queue overflowed {t.overflows:,} times while it ran "
                "(connects then wait for a SYN retry, about 1 s)."
            )
        if t.stop_s > 3:
            notes.append(f"{t.name}: stopping the server took {t.stop_s:.1f} s.")
    if limits.sockets < SOCKETS:
        notes.append(
            f"The open-files limit could only be raised to {limits.now:,}: "
            f"{limits.sockets:,} sockets tried instead of {SOCKETS:,}."
        )
    lines = server_log.splitlines()
    errors = [x for x in lines if " ERROR " in x or "Traceback" in x]
    warnings = [x for x in lines if " WARNING " in x]
    if not errors and not warnings:
        notes.append("Arena's log held no warnings or errors.")
    else:
        first = (errors or warnings)[0][:200]
        notes.append(
            f"Arena's log: {len(errors)} errors, {len(warnings)} warnings; first: `{first}`."
        )
    return notes


def _limit_text(limits: Limits) -> str:
    before = f"soft {limits.soft_before:,}, hard {limits.hard_before:,}"
    if limits.refused:
        return (
            f"The bench asks for an open-files limit (`RLIMIT_NOFILE`) of {OPEN_FILES:,} for "
            f"itself and the servers it starts (they inherit it); here it was {before}, and "
            f"raising the hard limit was refused (`{limits.refused}`; it takes "
            f"CAP_SYS_RESOURCE), so all ran at {limits.now:,}."
        )
    if limits.now != limits.soft_before:
        return (
            f"The bench raised its open-files limit (`RLIMIT_NOFILE`, {before}) to "
            f"{limits.now:,} for itself and the servers it starts (they inherit it)."
        )
    return f"The open-files limit (`RLIMIT_NOFILE`) was already {limits.now:,}."


def render(a: Target, b: Target, server_log: str, limits: Limits, spent_s: float) -> str:
    assert a.login is not None
    assert a.idle is not None
    assert b.idle is not None
    login, opens = a.login, a.opens
    spent = login.wall_s + opens.wall_s
    per_player = opens.done / spent if spent else 0.0
    share = a.kb_per_socket / b.kb_per_socket if b.kb_per_socket else float("nan")
    round_ms = a.idle.server * PRESENCE_S * 1000
    rows = [
        ("sockets held (answered a ping after the idle wait)",
         f"**{a.held:,}** of {a.wanted:,}", f"{b.held:,} of {b.wanted:,}"),
        ("server memory (VmRSS): fresh / after the logins / every socket open (MB)",
         f"{a.rss_start_kb / 1024:.0f} / {a.rss_logged_in_kb / 1024:.0f} / "
         f"{a.rss_idle_kb / 1024:.0f}",
         f"{b.rss_start_kb / 1024:.0f} / - / {b.rss_idle_kb / 1024:.0f}"),
        ("server memory per socket (for Arena, its player's login included)",
         f"**{a.kb_per_socket:.1f} KB**", f"{b.kb_per_socket:.1f} KB"),
        ("Redis memory per player (session, profile, presence, subscription)",
         f"{a.redis_bytes / max(a.held, 1):,.0f} bytes", "-"),
        (f"guest logins/s ({IN_FLIGHT} in flight)", f"**{login.rate:,.0f}**", "-"),
        (f"socket opens/s ({IN_FLIGHT} in flight)", f"**{opens.rate:,.0f}**",
         f"{b.opens.rate:,.0f}"),
        ("players in/s, login then open", f"{per_player:,.0f}", "-"),
        ("login p50 / p99 ms", _ms(login), "-"),
        ("open p50 / p99 ms", _ms(opens), _ms(b.opens)),
        (f"`ping` round trip p50 / p99 / max ms ({PING_SAMPLES:,} sockets, one at a time, "
         "all held)", f"**{_ms(a.pings, True)}**", _ms(b.pings, True)),
        ("server CPU idle with every socket open (share of a core)",
         f"**{a.idle.server:.1%}** (Redis {a.idle.redis:.1%})", f"{b.idle.server:.1%}"),
        ("after the clients left: server busy for (s) / its CPU per socket closed",
         f"{a.drain_s:.1f} / {a.drain_cpu_s * 1e6 / max(a.held, 1):.0f} µs",
         f"{b.drain_s:.1f} / {b.drain_cpu_s * 1e6 / max(b.held, 1):.0f} µs"),
    ]  # fmt: skip
    table = "\n".join(
        ["| measure | Arena | bare aiohttp |", "|---|---|---|"]
        + [f"| {m} | {x} | {y} |" for m, x, y in rows]
    )
    busy = (
        "| phase | CPU: server / generator / Redis (share of a core) "
        "| busy: core 0 / core 1 |\n|---|---|---|\n"
        f"| Arena logins | {_cpu(login, True)} |\n"
        f"| Arena opens | {_cpu(opens, True)} |\n"
        f"| bare opens | {_cpu(b.opens, False)} |"
    )
    per_open = opens.server_cpu_s * 1e6 / max(opens.done, 1)
    per_bare_open = b.opens.server_cpu_s * 1e6 / max(b.opens.done, 1)
    per_login = login.server_cpu_s * 1e6 / max(login.done, 1)
    notes = [
        f"Memory per socket is a socket's share of the server's growth from fresh to every "
        f"socket open and idle; Arena's is {share:.1f}× the bare server's. The logins alone "
        f"grew Arena by {(a.rss_logged_in_kb - a.rss_start_kb) / 1024:.0f} MB.",
        f"Server CPU per login {per_login:.0f} µs; per open {per_open:.0f} µs for Arena "
        f"(token lookup, presence claim, a subscription, profile, match and notification "
        f"reads) against {per_bare_open:.0f} µs for the bare server.",
        f"Idle, Arena spent {round_ms:.0f} ms of CPU per {PRESENCE_S:.0f} s, in bursts (the "
        f"busiest {CPU_SLICE_S:.2f} s slice {max(a.idle.slices, default=0.0):.0%} of a core): "
        "the upkeep round, whose presence heartbeat covers every socket (session refresh is "
        "due only after a third of the session TTL, so it does not run here).",
        f"The generator's memory grew {a.own_rss_delta_kb / max(a.held, 1):.1f} KB per "
        "socket on its side (aiohttp client; its cyclic GC is off during the run).",
        *_notes(a, b, server_log, limits),
    ]
    return f"""### Connection capacity ({limits.sockets:,} idle authenticated sockets, one process)

The server runs on core 0; the generator (one asyncio thread: aiohttp on uvloop) and
Redis share core 1. Arena: every player logs in (`POST /v1/auth/guest`), then opens
`GET /v1/ws` with its token; logins and opens are timed as two phases, {IN_FLIGHT} at a
time. The server is then left idle ({IDLE_S:.0f} s; the bare one, which has no periodic
work, {BARE_IDLE_S:.0f} s), {PING_SAMPLES:,} sockets spread over the lot ping one after
another, and every socket pings once: those that answer are the sockets held. Last, the
generator drops every connection at once and the server's CPU is watched until it is
quiet. WebSocket heartbeats are {HEARTBEAT_S:.0f} s on both servers, so none fall in the
run, which took {spent_s:.0f} s.

{_limit_text(limits)} {limits.ports:,} local ports are available to the generator.

Baseline: a bare aiohttp WebSocket server (`loadtest/bench/bare_sockets.py`: no auth,
no Redis; it keeps its sockets in a set and answers `ping`), same cores, same generator.

{table}

{busy}

{chr(10).join(f"- {note}" for note in notes)}
"""
