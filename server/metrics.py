"""Prometheus metrics (``GET /metrics``): what a node did, read cheaply.

Recording is kept off the hot path's bill: an op costs one dict increment and one
bucket increment (``OpMeter.record``), with no lock, no label lookup object and
no per-call allocation. The components keep plain counters of their own
(the Redis clients' errors, the locks' waits, the caches' hits); nothing is
converted into Prometheus's form until a scrape asks, in ``ArenaCollector``.
``ARENA_METRICS=false`` turns the recording and the route off (the relay
benchmark measures both ways; docs/benchmarks.md has the cost).

Per-node metrics (sockets, ops, fan-out lag, caches, locks, Redis errors) add up
across nodes in Prometheus. Game-wide ones (players online, nodes alive, queue
depth, disputed matches) are read from Redis and are the same on every node: take
``max()``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

OP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LAG_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
OK = "OK"


class Histogram:
    """One series' buckets: ``observe`` is a bisect and two additions."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def buckets(self) -> list[tuple[str, float]]:
        cumulative, total = [], 0
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            total += count
            cumulative.append((bound, float(total)))
        return cumulative


class OpMeter:
    """Ops by name and result code, and their latency; op names outside ``known`` (a
    client's typo or probe) count as ``unknown``, so labels stay bounded."""

    def __init__(self, known: Iterable[str]) -> None:
        self._known = frozenset(known)
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self.latency: dict[str, Histogram] = {}

    def record(self, op: str, code: str, seconds: float) -> None:
        if op not in self._known:
            op = "unknown"
        self.calls[op, code] += 1
        histogram = self.latency.get(op)
        if histogram is None:
            histogram = self.latency[op] = Histogram(OP_BUCKETS)
        histogram.observe(seconds)


class LoopLag:
    """How late the event loop runs a timer: every other wait on the node is that late too."""

    def __init__(self, interval_s: float = 0.5) -> None:
        self.interval_s = interval_s
        self.histogram = Histogram(LAG_BUCKETS)

    async def run(self, stopping: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stopping.is_set():
            start = loop.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.interval_s)
            self.histogram.observe(max(0.0, loop.time() - start - self.interval_s))


@dataclass(slots=True)
class GameTotals:
    """Game-wide figures read from Redis just before a scrape renders."""

    players_online: int = 0
    nodes_alive: int = 0
    queues: dict[str, dict[str, int]] = field(default_factory=dict)
    redis_up: bool = True
    matches_abandoned: int = 0
    matches_disputed: int = 0


@dataclass(slots=True)
class Sources:
    """Where the collector reads each figure; every callable is cheap and synchronous."""

    sockets_open: Callable[[], int]
    cache_counts: Callable[[], Mapping[str, Mapping[str, int]]]
    lock_counts: Callable[[], Mapping[str, float]]
    rate_limit_refusals: Callable[[], Mapping[str, int]]
    redis_errors: Callable[[], Mapping[str, int]]
    game_totals: Callable[[], Awaitable[GameTotals]]
    # Server-run matches on this node: hosted (a gauge), ticks, skipped, errors,
    # takeovers and fenced (counters); and how late tick batches started.
    host_counts: Callable[[], Mapping[str, int]] = dict
    tick_lateness: Callable[[], Histogram] | None = None
    # The matchmaking passes this node ran: counters by name, waiting tickets and the
    # time to match by mode (the modes whose passes it leads).
    mm_counts: Callable[[], Mapping[str, int]] = dict
    mm_waiting: Callable[[], Mapping[str, int]] = dict
    mm_time_to_match: Callable[[], Mapping[str, Histogram]] = dict


class Metrics:
    """The node's recorders and its registry; ``render`` answers a scrape."""

    def __init__(self, sources: Sources, known_ops: Iterable[str]) -> None:
        self.ops = OpMeter(known_ops)
        self.fanout = Histogram(LAG_BUCKETS)
        self.loop_lag = LoopLag()
        self.sources = sources
        self.totals = GameTotals()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ArenaCollector(self))

    def fanout_lag(self, published_ms: int) -> None:
        """A live match event reached this node's sockets; ``published_ms``: its feed id's
        time, from Redis's clock."""
        self.fanout.observe(max(0.0, time.time() - published_ms / 1000))

    async def render(self) -> bytes:
        self.totals = await self.sources.game_totals()
        return generate_latest(self.registry)


def _histogram(name: str, doc: str, series: Mapping[str, Histogram], label: str) -> Metric:
    family = HistogramMetricFamily(name, doc, labels=[label] if label else None)
    for value, histogram in series.items():
        family.add_metric([value] if label else [], histogram.buckets(), histogram.sum)
    return family


class ArenaCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def collect(self) -> Iterable[Metric]:
        m, src = self._m, self._m.sources
        yield GaugeMetricFamily(
            "arena_sockets_open", "WebSockets open on this node.", value=src.sockets_open()
        )
        ops = CounterMetricFamily(
            "arena_ops", "Socket ops handled, by op and result code (OK or the error code).",
            labels=["op", "code"],
        )  # fmt: skip
        for (op, code), count in sorted(m.ops.calls.items()):
            ops.add_metric([op, code], count)
        yield ops
        yield _histogram(
            "arena_op_duration_seconds",
            "Time from a socket op's frame read to its reply queued.",
            m.ops.latency,
            "op",
        )
        yield _histogram(
            "arena_fanout_lag_seconds",
            "Match events: from the publishing script (the feed id's time) to this node "
            "queueing the frame on its sockets.",
            {"": m.fanout},
            "",
        )
        yield _histogram(
            "arena_event_loop_lag_seconds",
            "How late the event loop ran a 0.5 s timer.",
            {"": m.loop_lag.histogram},
            "",
        )
        cache = CounterMetricFamily(
            "arena_cache_requests", "Cache-aside reads on this node, by cache and result.",
            labels=["cache", "result"],
        )  # fmt: skip
        for name, counts in sorted(src.cache_counts().items()):
            for result, count in sorted(counts.items()):
                cache.add_metric([name, result], count)
        yield cache
        locks = src.lock_counts()
        yield CounterMetricFamily(
            "arena_lock_waits", "Lock acquisitions that found the lock held and waited.",
            value=locks.get("waits", 0),
        )  # fmt: skip
        yield CounterMetricFamily(
            "arena_lock_timeouts", "Lock acquisitions that gave up (LOCK_TIMEOUT).",
            value=locks.get("timeouts", 0),
        )  # fmt: skip
        yield CounterMetricFamily(
            "arena_lock_wait_seconds", "Time spent waiting for held locks.",
            value=locks.get("wait_s", 0.0),
        )  # fmt: skip
        refusals = CounterMetricFamily(
            "arena_rate_limit_refusals", "Attempts refused by a rate limit, by action.",
            labels=["action"],
        )  # fmt: skip
        for action, count in sorted(src.rate_limit_refusals().items()):
            refusals.add_metric([action], count)
        yield refusals
        errors = CounterMetricFamily(
            "arena_redis_errors", "Redis connection failures on this node, by kind.",
            labels=["kind"],
        )  # fmt: skip
        for kind, count in sorted(src.redis_errors().items()):
            errors.add_metric([kind], count)
        yield errors
        totals = m.totals
        yield GaugeMetricFamily(
            "arena_redis_up",
            "1 when Redis answered this scrape's reads.",
            value=int(totals.redis_up),
        )
        yield GaugeMetricFamily(
            "arena_players_online", "Players online in the whole game (same on every node).",
            value=totals.players_online,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "arena_nodes_alive", "Server nodes alive (same on every node).",
            value=totals.nodes_alive,
        )  # fmt: skip
        yield CounterMetricFamily(
            "arena_matches_abandoned",
            "Matches ended abandoned: no player online for ARENA_MATCH_ABANDON_S (same on "
            "every node).",
            value=totals.matches_abandoned,
        )
        depth = GaugeMetricFamily(
            "arena_queue_jobs", "Jobs in a task queue, by state: ready, taken or dead (letters).",
            labels=["queue", "state"],
        )  # fmt: skip
        for queue, states in sorted(totals.queues.items()):
            for state, count in sorted(states.items()):
                depth.add_metric([queue, state], count)
        yield depth
        yield from _hosting(src)
        yield from _matchmaking(src)
        yield CounterMetricFamily(
            "arena_matches_disputed",
            "Matches that ended disputed: their players' reports agreed on no result (same "
            "on every node).",
            value=totals.matches_disputed,
        )


HOST_COUNTERS = {
    "ticks": "Ticks run by this node's server-run matches.",
    "skipped": "Ticks skipped because the scheduler ran late (an overrun), not bunched.",
    "errors": "Server-run matches ended because their game raised.",
    "takeovers": "Server-run matches this node took over after their host's lease lapsed.",
    "fenced": "Server-run matches this node dropped because another node had taken them.",
}


MM_COUNTERS = {
    "matches": "Matches the matchmaking passes on this node made.",
    "widened": "Matches made where some ticket's rating window had widened to reach.",
    "stale": "Groups refused at commit: one of their tickets left the queue meanwhile.",
    "expired": "Tickets that waited past their mode's ticket_ttl_s.",
}


def _matchmaking(src: Sources) -> Iterable[Metric]:
    counts = src.mm_counts()
    for name, doc in MM_COUNTERS.items():
        yield CounterMetricFamily(f"arena_mm_{name}", doc, value=counts.get(name, 0))
    waiting = GaugeMetricFamily(
        "arena_mm_tickets_waiting",
        "Tickets waiting, by mode, at the last pass on this node (the node leading it).",
        labels=["mode"],
    )
    for mode, count in sorted(src.mm_waiting().items()):
        waiting.add_metric([mode], count)
    yield waiting
    yield _histogram(
        "arena_mm_time_to_match_seconds",
        "Seconds from a ticket's queueing to its match, by mode (matches made here).",
        src.mm_time_to_match(),
        "mode",
    )


def _hosting(src: Sources) -> Iterable[Metric]:
    counts = src.host_counts()
    yield GaugeMetricFamily(
        "arena_matches_hosted", "Server-run matches this node runs now.",
        value=counts.get("hosted", 0),
    )  # fmt: skip
    for name, doc in HOST_COUNTERS.items():
        yield CounterMetricFamily(f"arena_match_{name}", doc, value=counts.get(name, 0))
    if src.tick_lateness is not None:
        yield _histogram(
            "arena_match_tick_lateness_seconds",
            "How late a batch of server-run match ticks started after its due time.",
            {"": src.tick_lateness()},
            "",
        )
