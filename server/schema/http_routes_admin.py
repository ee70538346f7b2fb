"""The HTTP routes beside the players': trusted game servers' (ARENA_SERVER_KEY), the admin
API (ARENA_ADMIN_KEY), figures and probes, the socket's upgrade, the documents and the
JavaScript client served (``http_routes`` has the parts and the players' routes)."""

from __future__ import annotations

from typing import Literal

from server.boards import SCORE_MAX, SCORE_MIN
from server.protocol import ErrorCode
from server.schema.build import (
    JsonSchema,
    array,
    boolean,
    integer,
    mapping,
    nullable,
    obj,
    ref,
    string,
)
from server.schema.http_routes import (
    PLAYER_ROUTES,
    Param,
    Reply,
    RouteSpec,
    board_param,
    player_id_param,
)
from server.services.session_rules import BAN_MAX_S
from server.services.sessions import TICKET_TTL_S

E = ErrorCode
KEY_ERRORS = (E.UNAUTHORIZED, E.FORBIDDEN, E.RATE_LIMITED)  # missing, wrong, too many wrong
MATCH_STATE = string(enum=["running", "ended"])

SUBMIT_SCORE = RouteSpec(
    "POST",
    "/v1/leaderboards/{board}/scores",
    "A trusted game server records a player's score, as lb.submit, on any board.",
    "servers",
    description="No per-player limit; boards whose writers is `server` included.",
    auth="server",
    params=(board_param(),),
    body=obj({"player_id": string(1, 64), "score": integer(SCORE_MIN, SCORE_MAX)}),
    replies=(
        Reply(
            200,
            "As lb.submit.",
            obj(
                {
                    "score": integer(description="the player's score on the board now"),
                    "rank": integer(1),
                    "improved": boolean(),
                }
            ),
        ),
    ),
    errors=(*KEY_ERRORS, E.BAD_REQUEST, E.UNKNOWN_BOARD, E.NOT_FOUND),
    rate_limit="auth.key",
)

MATCH_RESULT = RouteSpec(
    "POST",
    "/v1/matches/{match_id}/result",
    "A trusted game server ends a running match with its result, whatever the mode's policy.",
    "servers",
    auth="server",
    params=(Param("match_id", "path", string(1), "The match.", required=True),),
    body=obj({"scores": mapping(integer(), description="player_id -> score")}),
    replies=(
        Reply(
            200,
            "Ended: every player gets match.ended with by 'server'.",
            obj({"match_id": string(), "state": MATCH_STATE}),
        ),
    ),
    errors=(*KEY_ERRORS, E.BAD_REQUEST, E.NOT_FOUND, E.MATCH_ENDED),
    rate_limit="auth.key",
)

STATS_REPLY = Reply(200, "The game's figures.", ref("HttpStats"))

STATS = RouteSpec(
    "GET", "/v1/stats", "The game's figures, as stats.get.", "reads", replies=(STATS_REPLY,)
)

ADMIN_LOBBY = obj(
    {
        "lobby_id": string(),
        "mode": string(),
        "name": string(),
        "capacity": integer(1),
        "private": boolean(),
        "owner": string(),
        "members": array(obj({"player_id": string(), "name": string(), "ready": boolean()})),
        "rev": integer(0),
        "status": string(enum=["open", "started", "closed"]),
    }
)
ADMIN_MATCH = obj(
    {
        "match_id": string(),
        "mode": string(),
        "players": integer(0),
        "playing": integer(0),
        "started_ms": integer(0),
        "state": MATCH_STATE,
        "authoritative": boolean(description="the server runs its game"),
    }
)


def admin(
    method: Literal["GET", "POST"],
    path: str,
    summary: str,
    reply: Reply,
    *errors: ErrorCode,
    params: tuple[Param, ...] = (),
    body: JsonSchema | None = None,
) -> RouteSpec:
    """An admin route: the key's refusals (missing 401, wrong 403, too many wrong 429)."""
    return RouteSpec(
        method,
        path,
        summary,
        "admin",
        auth="admin",
        params=params,
        body=body,
        body_required=False,
        replies=(reply,),
        errors=(*KEY_ERRORS, *errors),
        rate_limit="auth.key",
    )


ADMIN_ROUTES: tuple[RouteSpec, ...] = (
    admin("GET", "/v1/admin/stats", "The game's figures.", STATS_REPLY),
    admin(
        "POST",
        "/v1/admin/lobbies/{lobby_id}/close",
        "Close an open lobby: its players lose their seats (lobby.closed, reason 'admin').",
        Reply(200, "The lobby, closed.", obj({"lobby": ADMIN_LOBBY})),
        E.LOBBY_NOT_FOUND,
        E.LOCK_TIMEOUT,
        params=(Param("lobby_id", "path", string(1), "The lobby.", required=True),),
    ),
    admin(
        "POST",
        "/v1/admin/matches/{match_id}/end",
        "End a running match with no result (match.ended, scores {}, by 'admin').",
        Reply(200, "The match, ended.", obj({"match": ADMIN_MATCH})),
        E.NOT_FOUND,
        E.MATCH_ENDED,
        params=(Param("match_id", "path", string(1), "The match.", required=True),),
    ),
    admin(
        "POST",
        "/v1/admin/players/{player_id}/kick",
        "Close the player's socket (session.kicked, 4004) and free their seat; no ban.",
        Reply(
            200,
            "What the kick did.",
            obj(
                {
                    "player_id": string(),
                    "connected": boolean(description="a live socket was closed"),
                    "left_lobby": nullable(string()),
                }
            ),
        ),
        E.NOT_FOUND,
        E.LOCK_TIMEOUT,
        params=(player_id_param(),),
    ),
    admin(
        "POST",
        "/v1/admin/players/{player_id}/ban",
        "Ban the player: logins get 403 BANNED, every session ends, the socket closes (4005).",
        Reply(
            200,
            "The ban.",
            obj(
                {
                    "player_id": string(),
                    "banned": {"const": True},
                    "until_ms": nullable(integer(0)),
                }
            ),
        ),
        E.BAD_REQUEST,
        E.NOT_FOUND,
        E.LOCK_TIMEOUT,
        params=(player_id_param(),),
        body=obj(
            optional={"duration_s": integer(1, BAN_MAX_S, description="absent: until unbanned")}
        ),
    ),
    admin(
        "POST",
        "/v1/admin/players/{player_id}/unban",
        "Lift the player's ban (its sessions stay revoked).",
        Reply(
            200,
            "Unbanned.",
            obj({"player_id": string(), "banned": {"const": False}, "was_banned": boolean()}),
        ),
        E.NOT_FOUND,
        params=(player_id_param(),),
    ),
)

PROBES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/healthz",
        "Liveness: answers while the process runs.",
        "probes",
        uses_redis=False,
        replies=(
            Reply(
                200,
                "Alive.",
                obj(
                    {"status": string(enum=["alive"]), "node": string(description="the node's id")}
                ),
            ),
        ),
    ),
    RouteSpec(
        "GET",
        "/readyz",
        "Readiness: Redis answers within a second and the node's pub/sub is up.",
        "probes",
        description="Not ready: 503 UNAVAILABLE, the reason in `message`.",
        replies=(Reply(200, "Ready.", obj({"status": string(enum=["ready"])})),),
    ),
    RouteSpec(
        "GET",
        "/metrics",
        "Prometheus's text format (docs/operations.md).",
        "probes",
        replies=(Reply(200, "The metrics.", {"type": "string"}, "text/plain"),),
        only_when="ARENA_METRICS=1 (the default) and ARENA_METRICS_PORT unset",
    ),
)

SOCKET = RouteSpec(
    "GET",
    "/v1/ws",
    "Open the game socket (a WebSocket upgrade); the protocol on it is in /v1/asyncapi.json.",
    "socket",
    description=(
        "Authenticated by, in this order: `?ticket=` (single use, from POST /v1/ws/ticket, "
        f"valid {TICKET_TTL_S} s), `Authorization: Bearer TOKEN`, or `?token=` (old clients). "
        "Refused before the upgrade with 401 UNAUTHORIZED (no, used or expired ticket or "
        "token) or 429 TOO_MANY_SOCKETS (the address holds ARENA_MAX_SOCKETS_PER_IP sockets "
        "on this node; no retry_after_ms). A request that is no WebSocket upgrade: 400."
    ),
    auth="ticket",
    params=(
        Param("ticket", "query", string(1), "A ticket from POST /v1/ws/ticket."),
        Param("token", "query", string(1), "A session token: prefer a ticket (URLs are logged)."),
        Param(
            "format",
            "query",
            string(enum=["json"]),
            "`json`: pushes are JSON text frames from the first one (else msgpack until "
            "the client's first text frame).",
        ),
    ),
    replies=(Reply(101, "Switching Protocols: the socket is open."),),
    errors=(E.BAD_REQUEST, E.UNAUTHORIZED, E.TOO_MANY_SOCKETS),
)


def json_document(path: str, summary: str, what: str) -> RouteSpec:
    return RouteSpec(
        "GET",
        path,
        summary,
        "documents",
        uses_redis=False,
        replies=(Reply(200, what, {"type": "object"}),),
    )


DOCUMENTS: tuple[RouteSpec, ...] = (
    json_document(
        "/v1/openapi.json",
        "This document: the HTTP routes (OpenAPI 3.1).",
        "The OpenAPI document.",
    ),
    json_document(
        "/v1/asyncapi.json",
        "The socket's protocol: every op, push, error and close code (AsyncAPI 3).",
        "The AsyncAPI document.",
    ),
    RouteSpec(
        "GET",
        "/client/{name}",
        "The JavaScript client: arena.js (an ES module), the modules it imports, and its "
        "TypeScript declarations arena.d.ts and arena-protocol.d.ts.",
        "documents",
        description="`.js` files are served as `text/javascript`, `.d.ts` files as "
        "`application/typescript`; any other name is 404.",
        params=(
            Param(
                "name",
                "path",
                string(1, pattern=r"^[a-z][a-z-]*\.(js|d\.ts)$"),
                "A file of the client, e.g. `arena.js`.",
                required=True,
            ),
        ),
        uses_redis=False,
        replies=(Reply(200, "The file.", {"type": "string"}, "text/javascript"),),
        errors=(ErrorCode.NOT_FOUND,),
    ),
)

ROUTES: tuple[RouteSpec, ...] = (
    *PLAYER_ROUTES,
    SUBMIT_SCORE,
    MATCH_RESULT,
    STATS,
    *ADMIN_ROUTES,
    *PROBES,
    SOCKET,
    *DOCUMENTS,
)
