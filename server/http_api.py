"""REST routes: logins, the session, presence, health, boards, /metrics (the admin API's
in http_admin.py, what routes share in http_common.py).

JSON in, JSON out (``/metrics`` speaks Prometheus's text format).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from server import logs
from server.appkeys import METRICS, SERVICES, SETTINGS
from server.errors import ArenaError, BadRequest
from server.http_admin import add_admin_routes
from server.http_common import (
    address_key,
    bearer_header,
    error_body,
    read_json_object,
    require_json,
    require_key,
)
from server.metrics import CONTENT_TYPE
from server.protocol import ErrorCode, Format
from server.services.leaderboards import OFFSET_MAX, TOP_LIMIT_MAX
from server.services.sessions import TICKET_TTL_S

log = logging.getLogger(__name__)

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes: logged at DEBUG only
_Handler = TypeVar("_Handler", bound=Callable[..., Any])


# Handlers that answer for themselves (``answers_itself``): see request_log_middleware.
_ANSWER_THEMSELVES: set[Callable[..., Any]] = set()


def answers_itself(handler: _Handler) -> _Handler:
    """Mark a route's handler that renders its own failures (``failure_response``) and
    logs its own line (``answered``): ``request_log_middleware`` only names its request."""
    _ANSWER_THEMSELVES.add(handler)
    return handler


@web.middleware
def request_log_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> Awaitable[web.StreamResponse]:
    """Give the request an id (the client's X-Request-Id if sane), put it on every log line
    of the request, echo it back, render any failure (``failure_response``), and log one
    line when it is answered. Paths are logged without their query string: a browser's
    socket URL carries its token there.

    A socket's request stays suspended in every middleware for the socket's whole life,
    so each coroutine more is memory held per socket: the socket endpoint answers for
    itself (``answers_itself``), and for it this middleware only names the request and
    passes the handler's coroutine through, as ``error_middleware`` does."""
    given = request.headers.get("X-Request-Id", "")
    logs.request_id.set(given if REQUEST_ID.match(given) else secrets.token_hex(6))
    route_handler = request.match_info.handler
    if getattr(route_handler, "__func__", route_handler) in _ANSWER_THEMSELVES:
        return handler(request)
    return _answer(request, handler)


async def _answer(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    started = time.perf_counter()
    try:
        response = await handler(request)
    except (ArenaError, web.HTTPException, Exception) as exc:
        response = failure_response(request, exc)
    return answered(request, response, started)


def answered(
    request: web.Request, response: web.StreamResponse, started: float
) -> web.StreamResponse:
    """Echo the request's id on a reply not sent yet, and log the request's line."""
    if not response.prepared:
        response.headers["X-Request-Id"] = logs.request_id.get()
    level = logging.DEBUG if request.path in QUIET_PATHS else logging.INFO
    log.log(
        level,
        "HTTP %s %s %s %.1fms",
        request.method,
        request.path,
        response.status,
        (time.perf_counter() - started) * 1000,
    )
    return response


@web.middleware
def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> Awaitable[web.StreamResponse]:
    """Failures are rendered by ``request_log_middleware``; this passes the handler's
    coroutine through without a coroutine (a frame held per socket) of its own."""
    return handler(request)


def failure_response(request: web.Request, exc: Exception) -> web.StreamResponse:
    """Every HTTP failure leaves as ``{"error": {"code", "message"}}`` with a fitting status
    (a redirect, or any HTTPException under 400, is raised on)."""
    if isinstance(exc, ArenaError):
        headers = {}
        if exc.retry_after_ms is not None:
            headers["Retry-After"] = str(max(1, -(-exc.retry_after_ms // 1000)))
        return web.json_response(
            error_body(exc.code, exc.message, exc.retry_after_ms),
            status=exc.http_status,
            headers=headers,
        )
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        code = {
            404: ErrorCode.NOT_FOUND,
            415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            405: ErrorCode.BAD_REQUEST,
            413: ErrorCode.BAD_REQUEST,
        }.get(exc.status, ErrorCode.BAD_REQUEST)
        return web.json_response(error_body(code, exc.reason), status=exc.status)
    log.exception("HTTP %s %s failed", request.method, request.path, exc_info=exc)
    return web.json_response(error_body(ErrorCode.INTERNAL, "internal error"), status=500)


async def guest_login(request: web.Request) -> web.Response:
    body = await read_guest_body(request)
    login = await request.app[SERVICES].sessions.guest_login(
        body.get("device_id"),
        body.get("device_secret"),
        body.get("name"),
        client_ip=address_key(request),
    )
    reply: dict[str, Any] = {
        "token": login.token,
        "player_id": login.player_id,
        "name": login.name,
        "expires_in": login.expires_in_s,
    }
    if login.device_secret is not None:
        reply["device_secret"] = login.device_secret  # issued now: the client keeps it
    return web.json_response(reply)


async def rotate_device_secret(request: web.Request) -> web.Response:
    """A new ``device_secret`` for the one sent; every session of the player ends."""
    body = await read_json_object(request)
    rotation = await request.app[SERVICES].sessions.rotate_device_secret(
        body.get("device_id"), body.get("device_secret"), client_ip=address_key(request)
    )
    return web.json_response(
        {
            "player_id": rotation.player_id,
            "device_secret": rotation.device_secret,
            "revoked": rotation.revoked,
        }
    )


async def read_guest_body(request: web.Request) -> dict[str, Any]:
    """The login body, read only while the address is under its ``auth.guest`` limit; a
    body refused here counts as an attempt (a good one is counted by the login itself),
    so bad bodies cost an address its allowance like logins do."""
    limiter = request.app[SERVICES].rate_limiter
    address = address_key(request)
    await limiter.ensure_not_over("auth.guest", address)
    try:
        return await read_json_object(request)
    except BadRequest:
        await limiter.check("auth.guest", address)
        raise


async def spectator_login(request: web.Request) -> web.Response:
    """A read-only session for a dashboard: reads and watch.* pushes, never a change."""
    require_json(request)
    login = await request.app[SERVICES].sessions.spectator_login(client_ip=address_key(request))
    return web.json_response(
        {"token": login.token, "expires_in": login.expires_in_s, "role": login.role}
    )


async def get_session(request: web.Request) -> web.Response:
    sessions = request.app[SERVICES].sessions
    session = await sessions.authenticate(bearer_header(request))
    return web.json_response(await sessions.describe(session.token_hash))


async def delete_session(request: web.Request) -> web.Response:
    sessions = request.app[SERVICES].sessions
    session = await sessions.authenticate(bearer_header(request))
    await sessions.revoke(session)
    return web.json_response({"revoked": True})


async def delete_sessions(request: web.Request) -> web.Response:
    """Every session of the player ends, and its live socket closes (4002)."""
    sessions = request.app[SERVICES].sessions
    session = await sessions.authenticate(bearer_header(request))
    return web.json_response({"revoked": await sessions.revoke_all(session)})


async def socket_ticket(request: web.Request) -> web.Response:
    """A single-use ticket for ``GET /v1/ws?ticket=``, valid TICKET_TTL_S seconds."""
    sessions = request.app[SERVICES].sessions
    session = await sessions.authenticate(bearer_header(request))
    ticket = await sessions.issue_ticket(session)
    return web.json_response({"ticket": ticket, "expires_in": TICKET_TTL_S})


async def presence(request: web.Request) -> web.Response:
    return web.json_response({"online": await request.app[SERVICES].presence.online_count()})


async def healthz(request: web.Request) -> web.Response:
    # The node's id: which node a load balancer reached, and what match.current's
    # host names.
    return web.json_response({"status": "alive", "node": request.app[SETTINGS].node_id})


async def readyz(request: web.Request) -> web.Response:
    timeout = min(1.0, request.app[SETTINGS].redis_timeout_s)
    reason = await request.app[SERVICES].health.not_ready_because(timeout)
    if reason is None:
        return web.json_response({"status": "ready"})
    return web.json_response(error_body(ErrorCode.UNAVAILABLE, reason), status=503)


def query_int(request: web.Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name}: must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name}: must be between {low} and {high}")
    return value


async def require_server_key(request: web.Request) -> None:
    """Trusted game servers send ``Authorization: Bearer ARENA_SERVER_KEY``."""
    await require_key(
        request,
        request.app[SETTINGS].server_key,
        kind="server",
        off="server routes are off: ARENA_SERVER_KEY is not set",
    )


async def submit_score(request: web.Request) -> web.Response:
    await require_server_key(request)
    body = await read_json_object(request)
    player_id = body.get("player_id")
    if not isinstance(player_id, str) or not 1 <= len(player_id) <= 64:
        raise BadRequest("player_id: must be a string of 1 to 64 characters")
    result = await request.app[SERVICES].leaderboards.record(
        player_id,
        request.match_info["board"],
        body.get("score"),
    )
    return web.json_response(
        {"score": result.score, "rank": result.rank, "improved": result.improved}
    )


async def board_top(request: web.Request) -> web.Response:
    """Anonymous: rate-limited per address; pages come from the cache's whole pages."""
    await request.app[SERVICES].rate_limiter.check("http.read", address_key(request))
    page = await request.app[SERVICES].leaderboards.top_page(
        request.match_info["board"],
        limit=query_int(request, "limit", default=10, low=1, high=TOP_LIMIT_MAX),
        offset=query_int(request, "offset", default=0, low=0, high=OFFSET_MAX),
        period=request.query.get("period") or None,
        fmt=Format.JSON,
    )
    # The page comes encoded (cut from cached whole pages): spliced in, not re-encoded.
    return web.Response(
        body=b'{"entries":' + page + b"}", content_type="application/json", charset="utf-8"
    )


async def board_player(request: web.Request) -> web.Response:
    await request.app[SERVICES].rate_limiter.check("http.read", address_key(request))
    entry = await request.app[SERVICES].leaderboards.rank(
        request.match_info["board"],
        request.match_info["player_id"],
        period=request.query.get("period") or None,
    )
    return web.json_response(entry.as_wire())


async def match_result(request: web.Request) -> web.Response:
    """A trusted game server ends a match with its result, whatever the mode's policy."""
    await require_server_key(request)
    body = await read_json_object(request)
    match = await request.app[SERVICES].matches.report_result(
        request.match_info["match_id"], body.get("scores"), reported_by=None
    )
    return web.json_response({"match_id": match.match_id, "state": match.state})


async def stats(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    snapshot = (await services.stats.snapshot()).as_wire()
    return web.json_response({**snapshot, "caches": await services.cache_stats.totals()})


async def metrics(request: web.Request) -> web.Response:
    body = await request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/auth/guest", guest_login)
    app.router.add_post("/v1/auth/guest/rotate", rotate_device_secret)
    app.router.add_post("/v1/auth/spectator", spectator_login)
    app.router.add_get("/v1/session", get_session)
    app.router.add_delete("/v1/session", delete_session)
    app.router.add_delete("/v1/sessions", delete_sessions)
    app.router.add_post("/v1/ws/ticket", socket_ticket)
    app.router.add_get("/v1/presence", presence)
    app.router.add_post("/v1/leaderboards/{board}/scores", submit_score)
    app.router.add_get("/v1/leaderboards/{board}/top", board_top)
    app.router.add_get("/v1/leaderboards/{board}/players/{player_id}", board_player)
    app.router.add_post("/v1/matches/{match_id}/result", match_result)
    app.router.add_get("/v1/stats", stats)
    if app[SETTINGS].metrics and not app[SETTINGS].metrics_port:
        app.router.add_get("/metrics", metrics)
    add_admin_routes(app)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
