"""Leaderboards at a million players: submits/s through the server beside Redis's own ZADD
ceiling, read latencies (top from the cache and cold, rank, around), memory per entry."""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from client_sim.client import ArenaClient, guest_login
from loadtest.bench.common import (
    LOAD_CORE,
    SERVER_CORE,
    ServerProcess,
    percentile,
    pin_self,
    pinned,
    start_redis,
)
from loadtest.bench.flood import flood
from server.storage import keys
from server.storage.mux import RedisMux
from server.storage.scripts import Scripts

BOARD = "global"
FILL_BATCH = 2000
SOCKETS, WINDOW = 256, 2


async def fill_board(redis_url: str, players: int) -> float:
    """Put ``players`` entries on the all-time global board the way the server writes them."""
    mux = RedisMux(redis_url)
    scripts = Scripts.load(mux)
    rng = random.Random(1)
    started = time.perf_counter()
    board_keys = [
        keys.board_scores(BOARD, "all"),
        keys.board_members(BOARD, "all"),
        keys.board_names(BOARD, "all"),
        keys.board_arrivals(BOARD, "all"),
    ]
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


def zadd_ceiling(port: int, requests: int) -> float:
    """redis-benchmark ZADD on the same Redis, one command per round trip, 50 clients."""
    out = subprocess.run(
        pinned(
            SERVER_CORE,
            [
                "redis-benchmark",
                "-p",
                str(port),
                "-t",
                "zadd",
                "-n",
                str(requests),
                "-c",
                "50",
                "-r",
                "1000000",
                "-q",
            ],
        ),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"ZADD[^:]*:\s*([\d.]+) requests per second", out.replace("\r", "\n"))
    if not found:
        raise RuntimeError(f"could not read redis-benchmark's output: {out!r}")
    return float(found.group(1))


async def run(workdir: Path, *, players: int, duration_s: float, samples: int) -> str:
    redis = start_redis(workdir / "redis-lb")
    server = ServerProcess(
        redis.url,
        env={
            "ARENA_RATE_LIMITS": "lb.submit=1000000000/1000000000,auth.guest=1000000/1000000",
            "ARENA_MSG_RATE": "1000000",
            "ARENA_MSG_RATE_BURST": "1000000",
            # Long enough that the hit measurement sees only hits.
            "ARENA_LB_CACHE_TTL": "600",
        },
    )
    try:
        before = await used_memory(redis.url)
        fill_s = await fill_board(redis.url, players)
        per_entry = (await used_memory(redis.url) - before) / players
        server.start(workdir / "server-lb.log")
        pin_self(LOAD_CORE)
        rate, errors = await flood(
            server.url,
            sockets=SOCKETS,
            window=WINDOW,
            duration_s=duration_s,
            make_request=submit_request,
        )
        lat = await latencies(server.url, players, samples)
        server.stop()
        ceiling = zadd_ceiling(redis.port, 500_000)
    finally:
        server.stop()
        redis.stop()

    rows = "\n".join(
        f"| `{name}` | {len(v)} | {percentile(v, 50):.2f} | {percentile(v, 99):.2f} |"
        for name, v in lat.items()
    )
    return f"""### Leaderboards ({players:,} players on one board)

| measure | figure |
|---|---|
| `lb.submit` through the server over WebSocket (server on one core; \
{SOCKETS} sockets × {WINDOW} in flight) | **{rate:,.0f} submits/s** ({errors} errors) |
| baseline: `redis-benchmark -t zadd -c 50 -r 1000000` on the same Redis | {ceiling:,.0f} ZADD/s |
| server submits as a share of that ceiling | **{rate / ceiling:.0%}** (aim: 25%) |
| Redis memory per entry (sorted set + member and name hashes) | {per_entry:,.0f} bytes |
| filling the board through the submit script, pipelined | {players / fill_s:,.0f} entries/s |

Read latency, one client, requests one after another (ms):

| op | samples | p50 | p99 |
|---|---|---|---|
{rows}
"""
