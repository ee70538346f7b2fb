"""A node's metrics: where each number is read from (``node_metrics``, which the
composition root calls), and the cleanup contexts of the metrics-only port
(ARENA_METRICS_PORT) and of the event loop lag probe."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from server import http_api, http_headers
from server.appkeys import METRICS, SETTINGS
from server.background import stop
from server.connection import SocketRegistry
from server.errors import ArenaError
from server.metrics import GameTotals, Histogram, Metrics, Sources
from server.protocol import Op
from server.services import Services
from server.services.host_outputs import LATE_BOUNDS
from server.storage.mux import Commands
from server.storage.pubsub import Subscriptions

# The start-up line keeps the logger it had before this moved out of app.py.
log = logging.getLogger("server.app")


def node_metrics(
    services: Services, registry: SocketRegistry, mux: Commands, subscriber: Subscriptions
) -> Metrics:
    """The node's metrics, each figure read from where it lives when scraped."""

    async def game_totals() -> GameTotals:
        try:
            stats = await services.stats.snapshot()
        except ArenaError:
            return GameTotals(redis_up=False)
        return GameTotals(
            players_online=stats.online,
            nodes_alive=stats.nodes,
            queues={"results": stats.queue},
            matches_abandoned=stats.abandoned,
            matches_disputed=stats.disputed,
        )

    host = services.host
    maker = services.matchmaker

    def host_counts() -> dict[str, int]:
        counts = host.counts
        return {
            "hosted": len(host),
            "ticks": counts.ticks,
            "skipped": host.scheduler.plan.skipped + counts.busy,
            "errors": counts.errors,
            "takeovers": counts.takeovers,
            "fenced": counts.fenced,
        }

    def tick_lateness() -> Histogram:
        lateness = Histogram(LATE_BOUNDS)
        lateness.counts = list(host.counts.late)
        lateness.sum = host.counts.late_sum
        return lateness

    def redis_errors() -> dict[str, int]:
        errors = mux.error_counts()
        errors.update(subscriber.error_counts())
        return dict(errors)

    return Metrics(
        Sources(
            sockets_open=lambda: len(registry),
            cache_counts=services.cache_stats.node_counts,
            lock_counts=lambda: services.locks.counts,
            rate_limit_refusals=lambda: services.rate_limiter.refusals,
            redis_errors=redis_errors,
            game_totals=game_totals,
            host_counts=host_counts,
            tick_lateness=tick_lateness,
            mm_counts=lambda: {
                "matches": maker.counts.matches,
                "widened": maker.counts.widened,
                "stale": maker.counts.stale,
                "expired": maker.counts.expired,
            },
            mm_waiting=lambda: maker.counts.waiting,
            mm_time_to_match=lambda: maker.counts.time_to_match,
        ),
        known_ops=[str(op) for op in Op],
    )


async def metrics_site(app: web.Application) -> AsyncIterator[None]:
    """With ARENA_METRICS_PORT: GET /metrics on that port of ARENA_HOST, and nothing else
    there (the public port then answers 404 for it)."""
    settings = app[SETTINGS]
    if not (settings.metrics and settings.metrics_port):
        yield
        return
    site_app = web.Application()
    site_app[METRICS] = app[METRICS]
    site_app.router.add_get("/metrics", http_api.metrics)
    site_app.on_response_prepare.append(http_headers.security_headers)
    runner = web.AppRunner(site_app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.metrics_port).start()
    except OSError:
        await runner.cleanup()
        raise
    log.info("metrics on http://%s:%d/metrics", settings.host, settings.metrics_port)
    yield
    await runner.cleanup()


async def loop_lag(app: web.Application) -> AsyncIterator[None]:
    if not app[SETTINGS].metrics:
        yield
        return
    stopping = asyncio.Event()
    task = asyncio.create_task(app[METRICS].loop_lag.run(stopping), name="loop-lag")
    yield
    await stop(task, stopping)
