"""The aiohttp application: settings in, a ready application out.

``server.compose`` builds the node's parts; this module gives them to aiohttp:
routes, typed ``AppKey``s for what HTTP handlers read, and cleanup contexts
that connect, start and stop the long-lived parts (the Redis clients, the
pub/sub hub and the node's upkeep, the result workers, the metrics) in the
order they depend on each other, torn down in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from server import http_api, http_headers, logs
from server.app_metrics import loop_lag, metrics_site
from server.appkeys import (
    HUB,
    METRICS,
    MUX,
    REGISTRY,
    SERVICES,
    SETTINGS,
    STOPPING,
    SUBSCRIBER,
)
from server.background import every, stop
from server.compose import Node, build_node
from server.errors import ArenaError
from server.protocol import CloseCode, Frame, Push, push
from server.schema import published
from server.services.leaderboards import Clock
from server.settings import Settings
from server.storage.connection import require_redis_version, wait_for_redis
from server.worker import finish_jobs, make_workers, run_workers

log = logging.getLogger(__name__)

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def create_app(settings: Settings, *, clock: Clock = time.time) -> web.Application:
    """The whole server. ``clock`` is injectable so tests can roll board periods over."""
    if not settings.node_id:
        settings = dataclasses.replace(settings, node_id=secrets.token_hex(4))
    logs.quiet_client_http_errors()  # a malformed request is the client's fault, not a bug
    node = build_node(settings, clock=clock)
    app = web.Application(
        client_max_size=settings.max_frame_bytes,
        middlewares=[http_api.request_log_middleware, http_api.error_middleware],
    )
    app[SETTINGS] = settings
    app[MUX] = node.mux
    app[SERVICES] = node.services
    app[REGISTRY] = node.registry
    app[HUB] = node.hub
    app[SUBSCRIBER] = node.subscriber
    app[METRICS] = node.metrics
    app[STOPPING] = node.stopping
    app.cleanup_ctx.append(_redis(node))
    app.cleanup_ctx.append(_services(node))
    app.cleanup_ctx.append(_hub_and_upkeep(node))
    app.cleanup_ctx.append(_result_workers(node))
    app.cleanup_ctx.append(_match_host(node))
    app.cleanup_ctx.append(_matchmaker(node))
    app.cleanup_ctx.append(loop_lag)
    app.cleanup_ctx.append(metrics_site)
    # First on SIGTERM: hand this node's server-run matches to the others at once.
    app.on_shutdown.append(_hand_off(node))
    app.on_shutdown.append(_tell_sockets_and_close)
    app.on_response_prepare.append(http_headers.security_headers)

    http_api.add_routes(app)
    app.router.add_get("/v1/ws", node.endpoint.handle)
    _add_pages(app)
    _add_protocol_documents(app)
    return app


def _add_protocol_documents(app: web.Application) -> None:
    """The protocol as data (server/schema): AsyncAPI for the socket, OpenAPI for HTTP,
    made when first asked for and kept (they change only with the server's code)."""
    made: dict[str, bytes] = {}

    def document(
        name: str, make: Callable[[], dict[str, Any]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            if name not in made:
                made[name] = published.as_text(make()).encode()
            return web.Response(
                body=made[name],
                content_type="application/json",
                headers={"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"},
            )

        return serve

    app.router.add_get("/v1/asyncapi.json", document("asyncapi", published.asyncapi))
    app.router.add_get("/v1/openapi.json", document("openapi", published.openapi))


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
    _add_client(app)


# The JavaScript client (the repo's clients/js, reached through the symlink
# static/client): its modules and type declarations, at a stable path every Arena serves.
CLIENT = STATIC / "client"
CLIENT_FILE = re.compile(r"[a-z][a-z-]*\.(js|d\.ts)")


def _add_client(app: web.Application) -> None:
    """``/client/arena.js``, the modules it imports beside it, and its ``.d.ts`` files.
    Explicit routes: ``add_static`` refuses a symlink that leaves its folder."""

    async def serve(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = CLIENT / name
        if not CLIENT_FILE.fullmatch(name) or not path.is_file():
            raise web.HTTPNotFound()
        kind = "application/typescript" if name.endswith(".d.ts") else "text/javascript"
        # no-cache: a browser asks again (ETag, cheap) rather than run an old client.
        return web.FileResponse(path, headers={"Content-Type": kind, "Cache-Control": "no-cache"})

    app.router.add_get("/client/{name}", serve)


async def _revalidate_static(request: web.Request, response: web.StreamResponse) -> None:
    # The pages' scripts change with the server: a browser asks again (ETag, cheap)
    # rather than run an old script against a new page.
    if request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-cache"


def _redis(node: Node) -> CleanupContext:
    async def redis(app: web.Application) -> AsyncIterator[None]:
        settings = node.settings
        try:
            await wait_for_redis(
                node.mux,
                settings.redis_url,
                within_s=settings.redis_wait_s,
                timeout_s=settings.redis_timeout_s,
            )
            await require_redis_version(node.mux, settings.redis_timeout_s)
        except BaseException:
            await node.mux.aclose()
            await node.redis.aclose()
            raise
        yield
        await node.mux.aclose()
        await node.redis.aclose()

    return redis


def _services(node: Node) -> CleanupContext:
    async def services(app: web.Application) -> AsyncIterator[None]:
        yield
        with contextlib.suppress(ArenaError):
            await node.services.cache_stats.flush()

    return services


def _hub_and_upkeep(node: Node) -> CleanupContext:
    """The node's pub/sub connection, delivering through the hub, and its heartbeat."""

    async def hub_and_upkeep(app: web.Application) -> AsyncIterator[None]:
        settings, services, hub, subscriber = (
            node.settings,
            node.services,
            node.hub,
            node.subscriber,
        )
        channel = services.presence.command_channel

        async def connected() -> None:
            hub.refill()  # first: match taps hold live events until they caught up
            # Catch up on socket commands only once new ones are sure to arrive.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    subscriber.until_subscribed(channel), settings.redis_timeout_s
                )
            await node.upkeep.resubscribed()
            # Pushes on player channels published while this node was deaf: told again.
            node.redelivery.after_resubscribe()

        await subscriber.subscribe(channel)
        task = asyncio.create_task(subscriber.run(hub.on_message, connected), name="hub")
        # Serve only once commands for this node can reach it (a replaced socket must close).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(subscriber.until_subscribed(channel), settings.redis_timeout_s)
        async with every(settings.presence_interval_s, node.upkeep.tick, name="upkeep"):
            yield
        await node.endpoint.releases_settled()
        await stop(task, subscriber.stopping)
        await node.redelivery.aclose()
        await hub.aclose()
        with contextlib.suppress(ArenaError):
            await services.presence.node_stopping()

    return hub_and_upkeep


def _result_workers(node: Node) -> CleanupContext:
    """``ARENA_WORKERS`` result workers inside the server, so one process is a whole game."""

    async def result_workers(app: web.Application) -> AsyncIterator[None]:
        settings = node.settings
        workers = make_workers(node.services, settings, settings.workers, f"{settings.node_id}-")
        if not workers:
            yield
            return
        task = asyncio.create_task(run_workers(workers, node.stopping), name="result-workers")
        yield
        node.stopping.set()
        await finish_jobs(workers, settings.shutdown_grace_s)
        await stop(task, node.stopping)

    return result_workers


def _loop(
    name: str, run: Callable[[], Coroutine[Any, Any, None]], stop: Callable[[], Awaitable[None]]
) -> CleanupContext:
    """A loop of this node's that runs as long as the node does: started with the app,
    ``stop`` asked of it on the way out, then awaited; said at once if it dies early."""

    async def loop(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(run(), name=name)
        task.add_done_callback(functools.partial(_say_if_failed, name))
        yield
        await stop()
        await task

    return loop


def _match_host(node: Node) -> CleanupContext:
    """The scheduler and sweeper of this node's server-run matches (``drain`` is a no-op
    when the shutdown handed them off already)."""
    host = node.services.host
    return _loop("the match host", host.run, host.drain)


def _matchmaker(node: Node) -> CleanupContext:
    """This node's share of the matchmaking passes (the modes whose lease it holds)."""
    maker = node.services.matchmaker
    return _loop("the matchmaker", maker.run, maker.stop)


def _say_if_failed(name: str, task: asyncio.Task[None]) -> None:
    """A node's loop is meant to run until the node stops: say at once if it died."""
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped", name, exc_info=task.exception())


def _hand_off(node: Node) -> Callable[[web.Application], Awaitable[None]]:
    async def hand_off(app: web.Application) -> None:
        await node.services.host.drain()

    return hand_off


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
