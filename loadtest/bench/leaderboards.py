"""Leaderboards at a million players: submits/s through the server beside Redis's own ZADD
ceiling, read latencies (top from the cache and cold, rank, around), memory per entry; on
one Redis, then on a 3-master Redis Cluster holding the same board, under the same load."""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from client_sim.client import ArenaClient, guest_login
from loadtest.bench.common import (
    LOAD_CORE,
    OTHER_CPU,
    SERVER_CORE,
    ServerProcess,
    percentile,
    pin_self,
    pinned,
    redis_pids,
    start_cluster,
    start_redis,
)
from loadtest.bench.flood import flood
from loadtest.bench.relay_load import busy_since, core_jiffies, cpu_seconds, interrupts_since
from loadtest.bench.summary import BoardHeadline
from server.embedded_redis import RedisClusterProcesses, RedisProcess
from server.storage import keys
from server.storage.clients import open_mux
from server.storage.mux import RedisMux
from server.storage.scripts import Scripts

BOARD = "global"
BOARD_KEYS = [
    keys.board_scores(BOARD, "all"),
    keys.board_members(BOARD, "all"),
    keys.board_names(BOARD, "all"),
    keys.board_arrivals(BOARD, "all"),
]
FILL_BATCH = 2000
SOCKETS, WINDOW = 256, 2
ZADD_REQUESTS = 500_000
ROUNDS = 2  # the submits, and the ZADD ceiling, alternate between the targets this often
ARENA_ENV = {
    "ARENA_RATE_LIMITS": "lb.submit=1000000000/1000000000,auth.guest=1000000/1000000",
    "ARENA_MSG_RATE": "1000000",
    "ARENA_MSG_RATE_BURST": "1000000",
    # Long enough that the hit measurement sees only hits.
    "ARENA_LB_CACHE_TTL": "600",
    "ARENA_MAX_SOCKETS_PER_IP": "1000000",  # every socket comes from one address
}


@dataclass(frozen=True, slots=True)
class Figures:
    """One Redis (or cluster) under the bench's load."""

    submits_per_s: float
    errors: int
    server_cpu: float  # during the submits, as a share of one core
    redis_cpu: float  # every redis-server together
    other_cpu: float  # other work busy on the two cores then (not the generator, interrupts)
    ceiling: float  # redis-benchmark's ZADD/s
    latencies: dict[str, list[float]]


async def fill_board(redis_url: str, players: int) -> float:
    """Put ``players`` entries on the all-time global board the way the server writes them."""
    mux = RedisMux(redis_url)
    scripts = Scripts.load(mux)
    rng = random.Random(1)
    started = time.perf_counter()
    board_keys = BOARD_KEYS
    for start in range(0, players, FILL_BATCH):
        await asyncio.gather(
            *(
                scripts.lb_submit(
                    keys=board_keys,
                    args=[
                        f"bench{i:011d}",
                        rng.randrange(1_000_000_000),
                        "desc",
                        "best",
                        f"player {i}",
                        0,
                        2**53 - 1,
                    ],
                )
                for i in range(start, min(players, start + FILL_BATCH))
            )
        )
    await mux.aclose()
    return time.perf_counter() - started


async def used_memory(redis_url: str) -> int:
    client = aioredis.Redis.from_url(redis_url)
    info = await client.info("memory")
    await client.aclose()
    return int(info["used_memory"])


async def copy_board(source_url: str, target_url: str) -> float:
    """The filled board, key by key (DUMP, RESTORE), into another Redis or a cluster: the
    same entries in a few seconds instead of a second fill. Its keys share a hash tag, so
    on a cluster the whole board lands on one master."""
    started = time.perf_counter()
    source = aioredis.Redis.from_url(source_url)
    target = open_mux(target_url, timeout_s=60.0)
    try:
        for key in BOARD_KEYS:
            payload = await source.dump(key)
            if payload is not None:
                await target.execute("RESTORE", key, 0, payload)
    finally:
        await source.aclose()
        await target.aclose()
    return time.perf_counter() - started


def submit_request(rng: random.Random, _: int) -> dict[str, object]:
    return {"op": "lb.submit", "board": BOARD, "score": rng.randrange(1_000_000_000)}


async def latencies(url: str, players: int, count: int) -> dict[str, list[float]]:
    login = await guest_login(url, "bench-reader-0001", "reader")
    client = await ArenaClient.connect(url, login.token)
    rng = random.Random(2)
    results: dict[str, list[float]] = {}

    async def timed(name: str, op: str, **fields: Any) -> None:
        started = time.perf_counter()
        await client.request(op, **fields)
        results.setdefault(name, []).append((time.perf_counter() - started) * 1000)

    await client.request("lb.top", board=BOARD, limit=100)  # warm the cached page
    for _ in range(count):
        await timed("lb.top limit=100 (cache hit)", "lb.top", board=BOARD, limit=100)
    for i in range(min(count, 500)):
        # A new offset each time: a cold page, rebuilt from the sorted set.
        await timed(
            "lb.top limit=100 (cache miss)", "lb.top", board=BOARD, limit=100, offset=1000 + i * 100
        )
    for _ in range(count):
        player = f"bench{rng.randrange(players):011d}"
        await timed("lb.rank", "lb.rank", board=BOARD, player_id=player)
    for _ in range(count):
        player = f"bench{rng.randrange(players):011d}"
        await timed("lb.around radius=10", "lb.around", board=BOARD, player_id=player, radius=10)
    await client.close()
    return results


def zadd_ceiling(redis: RedisProcess | RedisClusterProcesses, requests: int) -> float:
    """redis-benchmark ZADD on the same Redis, one command per round trip, 50 clients; on
    a cluster (``--cluster``) its keys are spread over every master."""
    if isinstance(redis, RedisClusterProcesses):
        where = ["--cluster", "-p", str(redis.nodes[0].port)]
    else:
        where = ["-p", str(redis.port)]
    argv = ["redis-benchmark", *where, "-t", "zadd", "-n", str(requests), "-c", "50",
            "-r", "1000000", "-q"]  # fmt: skip
    out = subprocess.run(
        pinned(SERVER_CORE, argv), capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"ZADD[^:]*:\s*([\d.]+) requests per second", out.replace("\r", "\n"))
    if not found:
        raise RuntimeError(f"could not read redis-benchmark's output: {out!r}")
    return float(found.group(1))


@dataclass(slots=True)
class Submits:
    """One target's submit rounds, added up."""

    rates: list[float] = field(default_factory=list)
    errors: int = 0
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    redis_cpu_s: float = 0.0
    other_cpu_s: float = 0.0


async def submit_round(
    server: ServerProcess,
    redis: RedisProcess | RedisClusterProcesses,
    seconds: float,
    into: Submits,
    round_no: int,
) -> None:
    """One round of lb.submit under the flood, with the CPU each party spent meanwhile.
    Each round logs in devices of its own: a device logged in by an earlier round would
    need the secret its first login was given."""
    assert server.process is not None
    pids = redis_pids(redis)
    server0, redis0, wall0 = cpu_seconds(server.process.pid), cpu_seconds(*pids), time.monotonic()
    own0, cores0 = time.process_time(), core_jiffies()
    rate, errors = await flood(
        server.url,
        sockets=SOCKETS,
        window=WINDOW,
        duration_s=seconds,
        make_request=submit_request,
        name_prefix=f"submit{round_no}",
    )
    wall = time.monotonic() - wall0
    cores = (SERVER_CORE, LOAD_CORE)
    busy_s = sum(busy_since(cores0, c) - interrupts_since(cores0, c) for c in cores) * wall
    server_s = cpu_seconds(server.process.pid) - server0
    redis_s = cpu_seconds(*pids) - redis0
    into.rates.append(rate)
    into.errors += errors
    into.wall_s += wall
    into.server_cpu_s += server_s
    into.redis_cpu_s += redis_s
    into.other_cpu_s += max(0.0, busy_s - server_s - redis_s - (time.process_time() - own0))


async def measure(
    workdir: Path,
    targets: dict[str, RedisProcess | RedisClusterProcesses],
    *,
    players: int,
    duration_s: float,
    samples: int,
) -> dict[str, Figures]:
    """A fresh server on each filled board; submits in ROUNDS alternating between them (so
    that other work on the machine falls on both alike), then reads one at a time; with
    the servers stopped, redis-benchmark's ZADD ceiling, alternating too."""
    servers = {name: ServerProcess(redis.url, env=ARENA_ENV) for name, redis in targets.items()}
    submits = {name: Submits() for name in targets}
    ceilings: dict[str, list[float]] = {name: [] for name in targets}
    try:
        for name, server in servers.items():
            server.start(workdir / f"server-lb-{name}.log")
        pin_self(LOAD_CORE)
        for round_no in range(ROUNDS):
            for name, server in servers.items():
                await submit_round(
                    server, targets[name], duration_s / ROUNDS, submits[name], round_no
                )
        lat = {name: await latencies(s.url, players, samples) for name, s in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
    for _ in range(ROUNDS):
        for name, redis in targets.items():
            ceilings[name].append(zadd_ceiling(redis, ZADD_REQUESTS // ROUNDS))
    return {
        name: Figures(
            submits_per_s=statistics.fmean(s.rates),
            errors=s.errors,
            server_cpu=s.server_cpu_s / s.wall_s,
            redis_cpu=s.redis_cpu_s / s.wall_s,
            other_cpu=s.other_cpu_s / s.wall_s,
            ceiling=statistics.fmean(ceilings[name]),
            latencies=lat[name],
        )
        for name, s in submits.items()
    }


async def run(
    workdir: Path, *, players: int, duration_s: float, samples: int
) -> tuple[str, BoardHeadline]:
    redis = start_redis(workdir / "redis-lb")
    cluster: RedisClusterProcesses | None = None
    try:
        before = await used_memory(redis.url)
        fill_s = await fill_board(redis.url, players)
        per_entry = (await used_memory(redis.url) - before) / players
        cluster = start_cluster(workdir / "cluster-lb")
        copy_s = await copy_board(redis.url, cluster.url)
        figures = await measure(
            workdir,
            {"single": redis, "cluster": cluster},
            players=players,
            duration_s=duration_s,
            samples=samples,
        )
    finally:
        redis.stop()
        if cluster is not None:
            cluster.stop()
    single = figures["single"]
    text = render(
        players, duration_s, single, figures["cluster"], per_entry, players / fill_s, copy_s
    )
    return text, BoardHeadline(single.submits_per_s, single.ceiling)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.0%}" if b else "n/a"


def render(
    players: int,
    duration_s: float,
    single: Figures,
    cluster: Figures,
    per_entry: float,
    fill_rate: float,
    copy_s: float,
) -> str:
    lat = []
    for name, v in single.latencies.items():
        w = cluster.latencies.get(name, [])
        lat.append(
            f"| `{name}` | {len(v)} | {percentile(v, 50):.2f} | {percentile(v, 99):.2f} "
            f"| {percentile(w, 50):.2f} | {percentile(w, 99):.2f} "
            f"| {_ratio(percentile(w, 50), percentile(v, 50))} |"
        )
    rows = "\n".join(lat)
    return f"""### Leaderboards ({players:,} players on one board)

One Redis beside a 3-master Redis Cluster holding the same board (copied key by key), each
with a server of its own (both pinned to core 0, only one loaded at a time); the submits
alternate between them, {ROUNDS} rounds of {duration_s / ROUNDS:.0f} s each, so that other
work on the machine falls on both alike. The cluster's three redis-servers share core 1
with the generator and the one Redis; the board's keys share a hash tag, so on the
cluster the whole board is on one master, while the other key a submit touches (the
player's rate limit) lands on any of the three.

| measure | one Redis | 3-master Redis Cluster | cluster / one Redis |
|---|---|---|---|
| `lb.submit` through the server over WebSocket (server on one core; \
{SOCKETS} sockets × {WINDOW} in flight) | **{single.submits_per_s:,.0f} submits/s** \
({single.errors} errors) | **{cluster.submits_per_s:,.0f} submits/s** ({cluster.errors} errors) \
| **{_ratio(cluster.submits_per_s, single.submits_per_s)}** |
| CPU during the submits, share of a core: server / Redis (every redis-server) \
| {single.server_cpu:.0%} / {single.redis_cpu:.0%} | {cluster.server_cpu:.0%} / \
{cluster.redis_cpu:.0%} | |
| baseline: `redis-benchmark -t zadd -c 50 -r 1000000` on the same Redis (`--cluster` on \
the cluster: its keys on every master; {ROUNDS} alternating rounds, mean) \
| {single.ceiling:,.0f} ZADD/s | {cluster.ceiling:,.0f} ZADD/s \
| {_ratio(cluster.ceiling, single.ceiling)} |
| server submits as a share of that ceiling | **{_ratio(single.submits_per_s, single.ceiling)}** \
(aim: 25%) | {_ratio(cluster.submits_per_s, cluster.ceiling)} | |
| Redis memory per entry (sorted set + member and name hashes) | {per_entry:,.0f} bytes \
| (the same entries) | |
| filling the board through the submit script, pipelined | {fill_rate:,.0f} entries/s \
| copied with DUMP + RESTORE in {copy_s:.1f} s | |

Read latency, one client, requests one after another (ms):

| op | samples | one Redis p50 | p99 | cluster p50 | p99 | p50, cluster / one Redis |
|---|---|---|---|---|---|---|
{rows}
{_other_note(single, cluster)}"""


def _other_note(single: Figures, cluster: Figures) -> str:
    """Whether work other than the bench's took a share of the cores during the submits."""
    worst = max(single.other_cpu, cluster.other_cpu)
    if worst < OTHER_CPU:
        return ""
    return (
        "\nWork other than the server, the generator, Redis and the network's interrupts took "
        f"{single.other_cpu:.0%} "
        f"of a core during the submits on one Redis and {cluster.other_cpu:.0%} on the "
        "cluster: the machine was not the bench's alone, and the submit figures say less.\n"
    )
