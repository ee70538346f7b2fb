"""The composition root: settings in, a ready aiohttp application out.

Long-lived resources (the Redis pool, the pub/sub subscriber, the presence
heartbeat) live in cleanup contexts, in the order they depend on each other,
and are torn down in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import secrets
import time
from collections.abc import AsyncIterator

from aiohttp import web

from server import http_api
from server.appkeys import HUB, REDIS, REGISTRY, SERVICES, SETTINGS
from server.background import every, stop
from server.connection import SocketRegistry
from server.errors import ArenaError
from server.hub import Hub
from server.protocol import CloseCode, Frame, Push, push
from server.services import Services
from server.services.presence import PresenceService
from server.services.sessions import SessionService
from server.settings import Settings
from server.storage.connection import open_redis
from server.storage.presence import PresenceStore
from server.storage.pubsub import Publisher, Subscriber
from server.storage.ratelimit import RateLimitStore
from server.storage.scripts import Scripts
from server.storage.sessions import SessionStore
from server.ws import SocketEndpoint

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    if not settings.node_id:
        settings = _with_node_id(settings)
    app = web.Application(
        client_max_size=settings.max_frame_bytes,
        middlewares=[http_api.error_middleware],
    )
    app[SETTINGS] = settings
    app[REGISTRY] = SocketRegistry()
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(_services)
    app.cleanup_ctx.append(_hub)
    app.cleanup_ctx.append(_presence_heartbeat)
    app.on_shutdown.append(_tell_sockets_and_close)

    http_api.add_routes(app)
    app.router.add_get("/v1/ws", SocketEndpoint(settings, app[REGISTRY]).handle)
    return app


def _with_node_id(settings: Settings) -> Settings:
    return dataclasses.replace(settings, node_id=secrets.token_hex(4))


async def _redis(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    redis = open_redis(
        settings.redis_url, pool_size=settings.redis_pool_size, timeout_s=settings.redis_timeout_s
    )
    app[REDIS] = redis
    yield
    await redis.aclose()


async def _services(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    redis = app[REDIS]
    scripts = Scripts.load(redis)
    presence = PresenceService(
        PresenceStore(redis, scripts),
        Publisher(redis),
        node_id=settings.node_id,
        presence_ttl_s=settings.presence_ttl_s,
        session_ttl_s=settings.session_ttl_s,
    )
    sessions = SessionService(
        SessionStore(redis),
        RateLimitStore(redis, scripts),
        presence,
        ttl_s=settings.session_ttl_s,
        guest_auth_burst=settings.guest_auth_burst,
        guest_auth_per_s=settings.guest_auth_per_s,
    )
    app[SERVICES] = Services(sessions=sessions, presence=presence)
    yield


async def _hub(app: web.Application) -> AsyncIterator[None]:
    hub = Hub(app[REGISTRY], app[SERVICES].presence.command_channel)
    subscriber = Subscriber(app[REDIS], hub.on_message)
    hub.subscriber = subscriber
    app[HUB] = hub
    await subscriber.subscribe(app[SERVICES].presence.command_channel)
    task = asyncio.create_task(subscriber.run(), name="hub")
    # Serve only once commands for this node can reach it (a replaced socket must close).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(subscriber.connected.wait(), app[SETTINGS].redis_timeout_s)
    yield
    await stop(task, subscriber.stopping)


async def _presence_heartbeat(app: web.Application) -> AsyncIterator[None]:
    async with every(
        app[SETTINGS].presence_interval_s, functools.partial(_heartbeat, app), name="presence"
    ):
        yield
    with contextlib.suppress(ArenaError):
        await app[SERVICES].presence.node_stopping()


async def _heartbeat(app: web.Application) -> None:
    """Stamp this node's players as online, and keep idle sockets' sessions alive."""
    settings, registry, services = app[SETTINGS], app[REGISTRY], app[SERVICES]
    # An idle but connected player is still playing: refresh their session well before it ends.
    idle_refresh_s = settings.session_ttl_s / 3
    try:
        await services.presence.heartbeat(registry.player_ids())
        now = time.monotonic()
        stale = [c for c in registry if now - c.session_touched >= idle_refresh_s]
        if stale:
            alive = await services.sessions.refresh([c.session_hash for c in stale])
            for conn, ok in zip(stale, alive, strict=True):
                conn.session_touched = now
                if not ok:
                    conn.close(CloseCode.SESSION_EXPIRED, "session expired")
    except ArenaError as exc:
        log.warning("presence heartbeat skipped: %s", exc.message)


async def _tell_sockets_and_close(app: web.Application) -> None:
    """On SIGTERM/SIGINT: every socket gets ``server.shutdown``, then close code 1001."""
    registry = app[REGISTRY]
    frame = Frame(push(Push.SERVER_SHUTDOWN, reconnect=True))
    conns = list(registry)
    for conn in conns:
        conn.push(frame)
        conn.close(CloseCode.GOING_AWAY, "server shutting down")
    if conns:
        log.info("closing %d sockets for shutdown", len(conns))
        await asyncio.gather(*(c.wait_closed(app[SETTINGS].shutdown_grace_s) for c in conns))
