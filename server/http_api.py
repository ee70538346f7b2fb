"""REST routes: logins, the session, presence, health, boards, the admin API, /metrics.

JSON in, JSON out (``/metrics`` speaks Prometheus's text format).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from server import logs
from server.addresses import address_bucket
from server.appkeys import METRICS, SERVICES, SETTINGS
from server.errors import (
    ArenaError,
    BadRequest,
    Forbidden,
    NotFound,
    Unauthorized,
    UnsupportedMediaType,
)
from server.metrics import CONTENT_TYPE
from server.protocol import ErrorCode, Format, has_lone_surrogate
from server.services.leaderboards import OFFSET_MAX, TOP_LIMIT_MAX
from server.services.sessions import TICKET_TTL_S, validate_ban_duration
from server.ws import bearer_header, bearer_token

log = logging.getLogger(__name__)


def error_body(code: str, message: str, retry_after_ms: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if retry_after_ms is not None:
        error["retry_after_ms"] = retry_after_ms
    return {"error": error}


REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes: logged at DEBUG only


@web.middleware
async def request_log_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Give the request an id (the client's X-Request-Id if sane), put it on every log line
    of the request, echo it back, and log one line when it is answered. Paths are logged
    without their query string: a browser's socket URL carries its token there."""
    given = request.headers.get("X-Request-Id", "")
    request_id = given if REQUEST_ID.match(given) else secrets.token_hex(6)
    logs.request_id.set(request_id)
    started = time.perf_counter()
    response = await handler(request)
    if not response.prepared:
        response.headers["X-Request-Id"] = request_id
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


def address_key(request: web.Request) -> str:
    """What per-address limits count a client by (read rate, key guesses, sockets).
    Every per-address limit goes through here, so how addresses are grouped is decided
    in one place: an IPv6 client by its /64, an IPv4-mapped one as IPv4."""
    return address_bucket(client_address(request))


def client_address(request: web.Request) -> str:
    """The client's address: the peer's, or behind a trusted load balancer (setting
    ARENA_TRUSTED_PROXIES) the last X-Forwarded-For hop that is not one of ours."""
    peer = request.remote or "unknown"
    trusted = request.app[SETTINGS].trusted_proxy_set()
    if peer not in trusted:
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed(hops):
        if hop and hop not in trusted:
            return hop[:64]
    return peer


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every HTTP failure leaves as ``{"error": {"code", "message"}}`` with a fitting status."""
    try:
        return await handler(request)
    except ArenaError as exc:
        headers = {}
        if exc.retry_after_ms is not None:
            headers["Retry-After"] = str(max(1, -(-exc.retry_after_ms // 1000)))
        return web.json_response(
            error_body(exc.code, exc.message, exc.retry_after_ms),
            status=exc.http_status,
            headers=headers,
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {
            404: ErrorCode.NOT_FOUND,
            415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            405: ErrorCode.BAD_REQUEST,
            413: ErrorCode.BAD_REQUEST,
        }.get(exc.status, ErrorCode.BAD_REQUEST)
        return web.json_response(error_body(code, exc.reason), status=exc.status)
    except Exception:
        log.exception("HTTP %s %s failed", request.method, request.path)
        return web.json_response(error_body(ErrorCode.INTERNAL, "internal error"), status=500)


def require_json(request: web.Request) -> None:
    """Only ``Content-Type: application/json`` (charset, if named, UTF-8): a cross-site
    HTML form can send urlencoded, multipart or text/plain bodies, never this, so no
    page elsewhere can make a visitor's browser mint accounts here."""
    charset = (request.charset or "utf-8").lower()
    if request.content_type != "application/json" or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("the body must be sent as Content-Type: application/json")


async def read_json_object(request: web.Request) -> dict[str, Any]:
    require_json(request)
    try:
        # Over client_max_size, aiohttp raises 413; the middleware gives it our error shape.
        body = await request.json(loads=json.loads)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    if has_lone_surrogate(body):
        raise BadRequest("body: a lone surrogate escape (\\ud800..\\udfff) is not text")
    return body


async def guest_login(request: web.Request) -> web.Response:
    body = await read_json_object(request)
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


async def spectator_login(request: web.Request) -> web.Response:
    """A read-only session for a dashboard: reads and watch.* pushes, never a change."""
    require_json(request)
    login = await request.app[SERVICES].sessions.spectator_login(client_ip=address_key(request))
    return web.json_response(
        {"token": login.token, "expires_in": login.expires_in_s, "role": login.role}
    )


async def get_session(request: web.Request) -> web.Response:
    sessions = request.app[SERVICES].sessions
    session = await sessions.authenticate(bearer_token(request))
    return web.json_response(await sessions.describe(session.token_hash))


async def delete_session(request: web.Request) -> web.Response:
    sessions = request.app[SERVICES].sessions
    session = await sessions.authenticate(bearer_token(request))
    await sessions.revoke(session)
    return web.json_response({"revoked": True})


async def delete_sessions(request: web.Request) -> web.Response:
    """Every session of the player ends, and its live socket closes (4002)."""
    sessions = request.app[SERVICES].sessions
    session = await sessions.authenticate(bearer_token(request))
    return web.json_response({"revoked": await sessions.revoke_all(session)})


async def socket_ticket(request: web.Request) -> web.Response:
    """A single-use ticket for ``GET /v1/ws?ticket=``, valid TICKET_TTL_S seconds."""
    sessions = request.app[SERVICES].sessions
    session = await sessions.authenticate(bearer_token(request))
    ticket = await sessions.issue_ticket(session)
    return web.json_response({"ticket": ticket, "expires_in": TICKET_TTL_S})


async def presence(request: web.Request) -> web.Response:
    return web.json_response({"online": await request.app[SERVICES].presence.online_count()})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


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


async def require_key(request: web.Request, expected: str, *, kind: str, off: str) -> None:
    """``Authorization: Bearer KEY``: 401 without it (or with the routes off: ``off``),
    403 with a wrong one. Wrong keys count per address (``auth.key``); once over, every
    key from that address gets 429 until the window passes, the right one included, so
    guessing runs at the limit's rate at best. Refusals are logged (never the key)."""
    given = bearer_header(request)
    if not expected:
        log.warning("%s key refused for %s %s: off", kind, request.method, request.path)
        raise Unauthorized(off)
    if given is None:
        log.warning("%s key refused for %s %s: no key", kind, request.method, request.path)
        raise Unauthorized(f"the {kind} key is required")
    limiter = request.app[SERVICES].rate_limiter
    address = address_key(request)
    await limiter.ensure_not_over("auth.key", address)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        log.warning("%s key refused for %s %s: wrong key", kind, request.method, request.path)
        await limiter.check("auth.key", address)
        raise Forbidden(f"wrong {kind} key")


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


# --- the admin API: behind ARENA_ADMIN_KEY ------------------------------------------


async def require_admin_key(request: web.Request) -> None:
    """``Authorization: Bearer ARENA_ADMIN_KEY`` (see ``require_key``)."""
    await require_key(
        request,
        request.app[SETTINGS].admin_key,
        kind="admin",
        off="the admin API is off: ARENA_ADMIN_KEY is not set",
    )


async def admin_stats(request: web.Request) -> web.Response:
    await require_admin_key(request)
    return web.json_response(await request.app[SERVICES].admin.stats())


async def admin_close_lobby(request: web.Request) -> web.Response:
    await require_admin_key(request)
    admin = request.app[SERVICES].admin
    return web.json_response(await admin.close_lobby(request.match_info["lobby_id"]))


async def admin_end_match(request: web.Request) -> web.Response:
    await require_admin_key(request)
    admin = request.app[SERVICES].admin
    return web.json_response(await admin.end_match(request.match_info["match_id"]))


async def admin_kick(request: web.Request) -> web.Response:
    await require_admin_key(request)
    player_id = request.match_info["player_id"]
    if not 1 <= len(player_id) <= 64:
        raise NotFound("no such player")
    return web.json_response(await request.app[SERVICES].admin.kick(player_id))


def admin_player_id(request: web.Request) -> str:
    player_id = request.match_info["player_id"]
    if not 1 <= len(player_id) <= 64:
        raise NotFound("no such player")
    return player_id


async def admin_ban(request: web.Request) -> web.Response:
    """``{duration_s?}``: none bans until unbanned."""
    await require_admin_key(request)
    player_id = admin_player_id(request)
    body = await read_json_object(request) if request.body_exists else {}
    duration_s = validate_ban_duration(body.get("duration_s"))
    return web.json_response(await request.app[SERVICES].admin.ban(player_id, duration_s))


async def admin_unban(request: web.Request) -> web.Response:
    await require_admin_key(request)
    player_id = admin_player_id(request)
    return web.json_response(await request.app[SERVICES].admin.unban(player_id))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/auth/guest", guest_login)
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
    app.router.add_get("/v1/admin/stats", admin_stats)
    app.router.add_post("/v1/admin/lobbies/{lobby_id}/close", admin_close_lobby)
    app.router.add_post("/v1/admin/matches/{match_id}/end", admin_end_match)
    app.router.add_post("/v1/admin/players/{player_id}/kick", admin_kick)
    app.router.add_post("/v1/admin/players/{player_id}/ban", admin_ban)
    app.router.add_post("/v1/admin/players/{player_id}/unban", admin_unban)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
