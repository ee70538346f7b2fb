"""Matchmaking (issue 17): a pass over 10,000 waiting tickets, and tickets through the
server at a set rate and as fast as it takes them.

1. The pass, in process against a private Redis: 10,000 tickets of a 1v1 mode with a
   rating window (ratings drawn like a real population: normal, mean 1500, sd 300)
   written through the real store, then what a pass does before its commits, timed:
   reading them (``MatchmakingStore.waiting``) and grouping them (``mm_pass.plan``).
2. Through a server process pinned to core 0 (Redis and the load on core 1): players
   queue (``mm.enqueue``), wait for ``mm.matched`` and queue again, first paced at
   RATE enqueues a second, then unpaced: enqueues accepted a second, the server's and
   Redis's CPU per enqueue, and the time to match (``waited_ms`` of ``mm.matched``).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import redis as redis_sync

from client_sim.client import ArenaClient, guest_login
from loadtest.bench.common import (
    LOAD_CORE,
    ServerProcess,
    percentile,
    pin_self,
    redis_pids,
    start_redis,
)
from loadtest.bench.relay_load import cpu_seconds
from server.boards import ALLTIME_ID
from server.mm_rules import MatchRules, Window
from server.services.mm_pass import Waiting, plan
from server.services.rating_model import Rating
from server.services.ratings import rating_board_id
from server.storage import keys
from server.storage.clients import open_mux
from server.storage.matchmaking import MatchmakingStore, TicketRecord
from server.storage.scripts import Scripts

MODE = "ranked"
WINDOW = {"start": 100, "widen": 50, "every_s": 5, "max": 600}
MODES = json.dumps({MODE: {"capacity": 2, "matchmaker": {"min": 2, "max": 2, "rating": WINDOW}}})
WAITING = 10_000
RATE = 1_000  # enqueues a second, paced
PLAYERS = 3_000  # sockets queueing again and again: enough for RATE with a second to match
PACED_S = 10.0
UNPACED_S = 5.0


@dataclass(frozen=True, slots=True)
class PassCost:
    tickets: int
    read_ms: float  # the first pass's read: every ticket whole
    steady_read_ms: float  # a later pass's: the ids, nothing new
    plan_ms: float
    matches: int
    spread_p50: float
    spread_p99: float


@dataclass(frozen=True, slots=True)
class Throughput:
    label: str
    enqueues_per_s: float
    server_us: float  # server CPU per enqueue (its match's share included)
    redis_us: float
    wait_p50_ms: float
    wait_p99_ms: float
    matched: int
    spread_p50: float
    spread_p99: float


def population(rng: random.Random, n: int) -> list[float]:
    return [min(3500.0, max(0.0, rng.gauss(1500, 300))) for _ in range(n)]


async def pass_cost(redis_url: str, seed: int = 17) -> PassCost:
    """The pass over WAITING tickets (before its commits): the read and the grouping."""
    mux = open_mux(redis_url, timeout_s=5.0)
    try:
        store = MatchmakingStore(mux, Scripts.load(mux))
        rng = random.Random(seed)
        now = int(time.time() * 1000)
        ratings = population(rng, WAITING)
        ages = [now - rng.randrange(30_000) for _ in ratings]  # queued in the last 30 s
        records = [
            TicketRecord(f"{MODE}.{i:016x}", (f"p{i:012d}",), rating, (), at, "")
            for i, (rating, at) in enumerate(zip(ratings, ages, strict=True))
        ]
        for start in range(0, WAITING, 500):
            await asyncio.gather(
                *(
                    store.enqueue(MODE, t, ttl_ms=600_000, most=100_000)
                    for t in records[start : start + 500]
                )
            )
        started = time.perf_counter()
        known: dict[str, TicketRecord] = {}
        waiting = await store.waiting(MODE, known)  # a pass's first read: every ticket whole
        read = time.perf_counter()
        await store.waiting(MODE, known)  # a later pass's: ids, and only new tickets whole
        steady_ms = (time.perf_counter() - read) * 1000
        read = time.perf_counter()
        rules = MatchRules(min=2, max=2, rating=Window(**WINDOW))
        pool = [Waiting(t.ticket_id, t.players, t.rating, t.bucket, t.created_ms) for t in waiting]
        groups = plan(pool, rules, now)
        planned = time.perf_counter()
        spreads = [abs(g.tickets[0].rating - g.tickets[1].rating) for g in groups]
        return PassCost(
            len(waiting),
            (read - started) * 1000 - steady_ms,
            steady_ms,
            (planned - read) * 1000,
            len(groups),
            percentile(spreads, 50),
            percentile(spreads, 99),
        )
    finally:
        # The server's phase starts from an empty queue of the same mode.
        await mux.execute(
            "DEL", *(f(MODE) for f in (keys.mm_tickets, keys.mm_queue, keys.mm_holders))
        )
        await mux.aclose()


async def _player(
    client: ArenaClient,
    turns: asyncio.Queue[None] | None,
    until: float,
    waits: list[float],
    spreads: list[float],
    ratings: dict[str, float],
) -> int:
    """Queue, wait for the match, queue again, until ``until``; enqueues accepted."""
    accepted = 0
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        if turns is not None:
            try:
                await asyncio.wait_for(turns.get(), until - loop.time())
            except TimeoutError:
                break
        await client.request("mm.enqueue", mode=MODE, timeout=30)
        accepted += 1
        try:
            matched = await client.next_push("mm.matched", timeout=max(until - loop.time(), 0.1))
        except TimeoutError:
            break
        waits.append(float(matched["waited_ms"]))
        mus = [ratings[p] for p in matched["players"]]
        spreads.append(max(mus) - min(mus))
    return accepted


async def _pace(turns: asyncio.Queue[None], rate: float, until: float) -> None:
    loop = asyncio.get_running_loop()
    step = 0.01
    due = loop.time()
    while loop.time() < until:
        for _ in range(int(rate * step)):
            turns.put_nowait(None)
        due += step
        await asyncio.sleep(max(0.0, due - loop.time()))


async def through_server(workdir: Path, redis_url: str, pids: list[int]) -> list[Throughput]:
    unlimited = "mm.enqueue=1000000000/1000000000,auth.guest=1000000/1000000"
    server = ServerProcess(
        redis_url,
        env={
            "ARENA_MODES": MODES,
            "ARENA_RATE_LIMITS": unlimited,
            "ARENA_MSG_RATE": "1000000",
            "ARENA_MSG_RATE_BURST": "1000000",
            "ARENA_MAX_SOCKETS_PER_IP": "1000000",
            "ARENA_MM_PASS_S": "0.1",
        },
    ).start(workdir / "server-matchmaking.log")
    assert server.process is not None
    results = []
    try:
        async with aiohttp.ClientSession() as http:
            logins = [
                await guest_login(server.url, f"bench-mm-{i:05d}", f"mm{i}", http=http)
                for i in range(PLAYERS)
            ]
            clients = [await ArenaClient.connect(server.url, p.token) for p in logins]
            ratings = _rate(redis_url, [p.player_id for p in logins])
            try:
                for label, rate, seconds in (
                    (f"paced at {RATE:,}/s", float(RATE), PACED_S),
                    ("unpaced", 0.0, UNPACED_S),
                ):
                    results.append(
                        await _phase(
                            label, clients, rate, seconds, (server.process.pid, pids), ratings
                        )
                    )
            finally:
                await asyncio.gather(*(c.close() for c in clients))
    finally:
        server.stop()
    return results


def _rate(redis_url: str, players: list[str], seed: int = 19) -> dict[str, float]:
    """Give the players ratings like a population (written where the server reads them:
    the mode's rating board), and return them."""
    ratings = dict(zip(players, population(random.Random(seed), len(players)), strict=True))
    client = redis_sync.Redis.from_url(redis_url)
    try:
        key = keys.board_ratings(rating_board_id(MODE), ALLTIME_ID)
        client.hset(
            key, mapping={p: Rating(mu=r, sigma=100.0, games=20).pack() for p, r in ratings.items()}
        )
    finally:
        client.close()
    return ratings


async def _phase(
    label: str,
    clients: list[ArenaClient],
    rate: float,
    seconds: float,
    processes: tuple[int, list[int]],
    ratings: dict[str, float],
) -> Throughput:
    pid, pids = processes
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    turns: asyncio.Queue[None] | None = asyncio.Queue() if rate else None
    waits: list[float] = []
    spreads: list[float] = []
    cpu_before = cpu_seconds(pid), cpu_seconds(*pids)
    started = loop.time()
    pacer = asyncio.create_task(_pace(turns, rate, until)) if turns is not None else None
    counts = await asyncio.gather(
        *(_player(c, turns, until, waits, spreads, ratings) for c in clients)
    )
    if pacer is not None:
        await pacer
    took = loop.time() - started
    server_s, redis_s = cpu_seconds(pid) - cpu_before[0], cpu_seconds(*pids) - cpu_before[1]
    accepted = sum(counts)
    await asyncio.sleep(1.0)  # the last matches land before the next phase
    for client in clients:
        while not client.pushes.empty():
            client.pushes.get_nowait()
    return Throughput(
        label,
        accepted / took,
        server_s / accepted * 1e6,
        redis_s / accepted * 1e6,
        percentile(waits, 50),
        percentile(waits, 99),
        len(waits),
        percentile(spreads, 50),
        percentile(spreads, 99),
    )


async def run(workdir: Path) -> str:
    pin_self(LOAD_CORE)
    redis = start_redis(workdir / "redis-matchmaking")
    try:
        cost = await pass_cost(redis.url)
        flows = await through_server(workdir, redis.url, redis_pids(redis))
    finally:
        redis.stop()
    return render(cost, flows)


def render(cost: PassCost, flows: list[Throughput]) -> str:
    lines = [
        "### Matchmaking (1v1 with a rating window; ratings like a population)",
        "",
        f"A pass over {cost.tickets:,} waiting tickets, before its commits (in process, "
        "the real store and a private Redis):",
        "",
        "| read them all (a first pass) | read them again (a later pass) | group them "
        "| matches found | rating spread in a match, p50 / p99 |",
        "|---|---|---|---|---|",
        f"| {cost.read_ms:.1f} ms | {cost.steady_read_ms:.1f} ms | {cost.plan_ms:.1f} ms "
        f"| {cost.matches:,} "
        f"| {cost.spread_p50:.0f} / {cost.spread_p99:.0f} |",
        "",
        f"Tickets through the server ({PLAYERS:,} players queueing again once matched; "
        "server on core 0, Redis and load on core 1):",
        "",
        "| load | enqueues accepted/s | server CPU / enqueue | Redis CPU / enqueue "
        "| time to match p50 / p99 | matched | rating spread in a match p50 / p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for flow in flows:
        lines.append(
            f"| {flow.label} | **{flow.enqueues_per_s:,.0f}** | {flow.server_us:.0f} µs "
            f"| {flow.redis_us:.0f} µs | {flow.wait_p50_ms:,.0f} / {flow.wait_p99_ms:,.0f} ms "
            f"| {flow.matched:,} | {flow.spread_p50:.0f} / {flow.spread_p99:.0f} |"
        )
    lines.append("")
    return "\n".join(lines)
