"""The composition root: settings in, a ready aiohttp application out.

Long-lived resources (the Redis pool, the services, the pub/sub hub, the
node's upkeep loop) live in cleanup contexts, in the order they depend on each
other, and are torn down in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from server import http_api, http_common, http_headers, logs
from server.app_metrics import loop_lag, metrics_site, node_metrics
from server.appkeys import HUB, METRICS, MUX, REDIS, REGISTRY, SERVICES, SETTINGS, STOPPING
from server.background import every, stop
from server.connection import SocketRegistry
from server.errors import ArenaError
from server.hub import Hub
from server.hub_out import HubPushes
from server.protocol import CloseCode, Frame, Push, push
from server.redelivery import Redelivery
from server.services import Services
from server.services.activity import ActivityFeed
from server.services.admin import AdminService
from server.services.cache import CacheStats, ReadThroughCache
from server.services.chat import ChatService
from server.services.health import HealthService
from server.services.leaderboards import Clock, LeaderboardService
from server.services.lobbies import LobbyService
from server.services.match_life import MatchLifeService
from server.services.matches import MatchService
from server.services.notifications import NotificationService
from server.services.presence import PresenceService
from server.services.profiles import ProfileService
from server.services.ratelimits import RateLimiter
from server.services.results import ResultService
from server.services.sessions import SessionService
from server.services.stats import StatsService
from server.services.watch import WatchFeed
from server.settings import Settings
from server.storage.accounts import AccountStore
from server.storage.cache import CacheStore
from server.storage.clients import BlockingClient, open_mux, open_redis, open_subscriber
from server.storage.connection import redis_answers, require_redis_version, wait_for_redis
from server.storage.consensus import ConsensusStore
from server.storage.feeds import ActivityStore, ChatStore, Feeds, NoteStore
from server.storage.leaderboards import LeaderboardStore
from server.storage.lobbies import LobbyStore
from server.storage.locks import Locks
from server.storage.matches import MatchStore
from server.storage.mux import Commands
from server.storage.players import PlayerStore
from server.storage.presence import PresenceStore
from server.storage.pubsub import Publisher
from server.storage.pushes import PushStore
from server.storage.queue import TaskQueue
from server.storage.ratelimit import RateLimitStore
from server.storage.scripts import Scripts
from server.storage.sessions import SessionStore
from server.storage.socket_commands import SocketCommandBus
from server.upkeep import Upkeep
from server.worker import finish_jobs, make_workers, run_workers
from server.ws import SocketEndpoint

log = logging.getLogger(__name__)

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def create_app(settings: Settings, *, clock: Clock = time.time) -> web.Application:
    """The whole server. ``clock`` is injectable so tests can roll board periods over."""
    if not settings.node_id:
        settings = dataclasses.replace(settings, node_id=secrets.token_hex(4))
    logs.quiet_client_http_errors()  # a malformed request is the client's fault, not a bug
    app = web.Application(
        client_max_size=settings.max_frame_bytes,
        middlewares=[http_api.request_log_middleware, http_api.error_middleware],
    )
    app[SETTINGS] = settings
    app[REGISTRY] = SocketRegistry()
    app[METRICS] = node_metrics(app)
    app[STOPPING] = asyncio.Event()
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(_services(clock))
    app.cleanup_ctx.append(_hub_and_upkeep)
    app.cleanup_ctx.append(_result_workers)
    app.cleanup_ctx.append(loop_lag)
    app.cleanup_ctx.append(metrics_site)
    app.on_shutdown.append(_tell_sockets_and_close)
    app.on_response_prepare.append(http_headers.security_headers)

    http_api.add_routes(app)
    ops = app[METRICS].ops if settings.metrics else None
    endpoint = SocketEndpoint(settings, app[REGISTRY], ops, address_of=http_common.address_key)
    app.router.add_get("/v1/ws", endpoint.handle)
    _add_pages(app)
    return app


STATIC = Path(__file__).parent / "static"


def _add_pages(app: web.Application) -> None:
    """The dashboard (``/``) and the playable client (``/play``): plain files, no build step."""

    def page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

        return serve

    app.router.add_get("/", page("dashboard.html"))
    app.router.add_get("/play", page("play.html"))
    app.router.add_static("/static/", STATIC)
    app.on_response_prepare.append(_revalidate_static)


async def _revalidate_static(request: web.Request, response: web.StreamResponse) -> None:
    # The pages' scripts change with the server: a browser asks again (ETag, cheap)
    # rather than run an old script against a new page.
    if request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-cache"


def build_services(
    settings: Settings, mux: Commands, clock: Clock, redis: BlockingClient
) -> Services:
    """Every store and service, wired once (the server and ``server.worker`` share it)."""
    scripts = Scripts.load(mux)
    feeds = Feeds(mux, scripts)
    rate_limiter = RateLimiter(RateLimitStore(scripts), settings.rate_limit_table())
    cache_store = CacheStore(mux, scripts)
    profile_cache = ReadThroughCache("profile", cache_store, ttl_s=settings.profile_cache_ttl_s)
    top_cache = ReadThroughCache("lb_top", cache_store, ttl_s=settings.lb_cache_ttl_s)
    presence = PresenceService(
        PresenceStore(mux, scripts),
        SocketCommandBus(Publisher(mux), mux),
        node_id=settings.node_id,
        presence_ttl_s=settings.presence_ttl_s,
    )
    profiles = ProfileService(PlayerStore(mux), profile_cache)
    push_store = PushStore(mux)
    pushes = HubPushes(push_store)
    watch = WatchFeed(pushes, channel=push_store.watch_channel())
    leaderboards = LeaderboardService(
        LeaderboardStore(scripts),
        profiles,
        rate_limiter,
        top_cache,
        settings.board_specs(),
        watch,
        clock=clock,
    )
    profiles.rename_listeners.append(leaderboards.player_renamed)
    profiles.rename_listeners.append(presence.player_renamed)
    sessions = SessionService(
        SessionStore(mux),
        rate_limiter,
        presence,
        profiles,
        AccountStore(mux, scripts),
        ttl_s=settings.session_ttl_s,
        touch_interval_s=settings.session_touch_interval_s,
        account_ttl_s=settings.guest_ttl_days * 86400,
    )
    modes = settings.mode_book()
    results_queue = TaskQueue(
        "results",
        mux,
        redis,
        scripts,
        timeout_s=settings.job_timeout_s,
        max_tries=settings.job_tries,
    )
    match_store = MatchStore(mux, scripts, feeds, feed_keep=settings.match_feed_max)
    matches = MatchService(
        match_store,
        presence,
        rate_limiter,
        results_queue,
        watch,
        consensus=ConsensusStore(mux, scripts, feed_keep=settings.match_feed_max),
        modes=modes,
        clock=clock,
    )
    locks = Locks(scripts)
    lobbies = LobbyService(
        LobbyStore(mux, scripts, locks),
        rate_limiter,
        presence,
        matches,
        watch,
        pushes,
        grace_s=settings.lobby_grace_s,
        renew_interval_s=settings.presence_interval_s,
        modes=modes,
    )
    notifications = NotificationService(NoteStore(feeds), clock=clock)
    activity = ActivityFeed(ActivityStore(mux), watch, clock=clock)
    results = ResultService(
        matches,
        leaderboards,
        profiles,
        notifications,
        activity,
        results_queue,
        modes=modes,
    )
    cache_stats = CacheStats(cache_store, [profile_cache, top_cache])
    stats = StatsService(presence, lobbies, matches, results, cache_stats)
    return Services(
        sessions=sessions,
        presence=presence,
        profiles=profiles,
        leaderboards=leaderboards,
        lobbies=lobbies,
        matches=matches,
        match_life=MatchLifeService(
            match_store,
            presence,
            watch,
            abandon_s=settings.match_abandon_s,
            check_every_s=settings.presence_interval_s,
            clock=clock,
        ),
        chat=ChatService(
            ChatStore(feeds),
            rate_limiter,
            lobbies,
            matches,
            public_rooms=settings.public_rooms(),
            clock=clock,
        ),
        notifications=notifications,
        activity=activity,
        results=results,
        results_queue=results_queue,
        cache_stats=cache_stats,
        health=HealthService(functools.partial(redis_answers, mux)),
        stats=stats,
        watch=watch,
        admin=AdminService(stats, lobbies, matches, presence, profiles, sessions),
        rate_limiter=rate_limiter,
        locks=locks,
    )


async def _redis(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    redis = open_redis(
        settings.redis_url, pool_size=settings.redis_pool_size, timeout_s=settings.redis_timeout_s
    )
    app[REDIS] = redis
    app[MUX] = mux = open_mux(settings.redis_url, timeout_s=settings.redis_timeout_s)
    try:
        await wait_for_redis(
            mux,
            settings.redis_url,
            within_s=settings.redis_wait_s,
            timeout_s=settings.redis_timeout_s,
        )
        await require_redis_version(mux, settings.redis_timeout_s)
    except BaseException:
        await mux.aclose()
        await redis.aclose()
        raise
    yield
    await mux.aclose()
    await redis.aclose()


def _services(clock: Clock) -> CleanupContext:
    async def services(app: web.Application) -> AsyncIterator[None]:
        app[SERVICES] = build_services(app[SETTINGS], app[MUX], clock, app[REDIS])
        yield
        with contextlib.suppress(ArenaError):
            await app[SERVICES].cache_stats.flush()

    return services


async def _hub_and_upkeep(app: web.Application) -> AsyncIterator[None]:
    settings, services = app[SETTINGS], app[SERVICES]
    upkeep = Upkeep(services, app[REGISTRY], session_ttl_s=settings.session_ttl_s)
    channel = services.presence.command_channel
    hub = Hub(app[REGISTRY], channel)
    redelivery = Redelivery(services, app[REGISTRY], hub)

    async def connected() -> None:
        hub.refill()  # first: match taps hold live events until they caught up
        # Catch up on socket commands only once new ones are sure to arrive.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(subscriber.until_subscribed(channel), settings.redis_timeout_s)
        await upkeep.resubscribed()
        # Pushes on player channels published while this node was deaf: told again.
        redelivery.after_resubscribe()

    subscriber = open_subscriber(
        settings.redis_url,
        app[MUX],
        hub.on_message,
        connected,
        timeout_s=settings.redis_timeout_s,
    )
    hub.subscriber = subscriber
    hub.match_feeds = services.matches
    hub.rooms_left_by = services.chat.rooms_left_after
    if settings.metrics:
        hub.fanout_lag = app[METRICS].fanout_lag
    # Ready once Redis confirmed the command channel on this connection: connected alone
    # is not subscribed (a refused or still unanswered SSUBSCRIBE).
    services.health.commands_connected = lambda: (
        subscriber.connected.is_set() and subscriber.is_confirmed(channel)
    )
    app[HUB] = hub
    await subscriber.subscribe(channel)
    task = asyncio.create_task(subscriber.run(), name="hub")
    # Serve only once commands for this node can reach it (a replaced socket must close).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(subscriber.until_subscribed(channel), settings.redis_timeout_s)
    async with every(settings.presence_interval_s, upkeep.tick, name="upkeep"):
        yield
    await stop(task, subscriber.stopping)
    await redelivery.aclose()
    await hub.aclose()
    with contextlib.suppress(ArenaError):
        await services.presence.node_stopping()


async def _result_workers(app: web.Application) -> AsyncIterator[None]:
    """``ARENA_WORKERS`` result workers inside the server, so one process is a whole game."""
    settings, services = app[SETTINGS], app[SERVICES]
    workers = make_workers(services, settings, settings.workers, f"{settings.node_id}-")
    if not workers:
        yield
        return
    stopping = app[STOPPING]
    task = asyncio.create_task(run_workers(workers, stopping), name="result-workers")
    yield
    stopping.set()
    await finish_jobs(workers, settings.shutdown_grace_s)
    await stop(task, stopping)


async def _tell_sockets_and_close(app: web.Application) -> None:
    """On SIGTERM/SIGINT: every socket gets ``server.shutdown``, then close code 1001."""
    app[STOPPING].set()
    frame = Frame(push(Push.SERVER_SHUTDOWN, reconnect=True))
    conns = app[REGISTRY].all()
    log.info("stopping: %d sockets told to reconnect elsewhere", len(conns))
    for conn in conns:
        conn.push(frame)
        conn.close(CloseCode.GOING_AWAY, "server shutting down")
    if conns:
        await asyncio.gather(*(c.wait_closed(app[SETTINGS].shutdown_grace_s) for c in conns))
