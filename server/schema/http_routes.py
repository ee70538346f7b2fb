"""The HTTP routes as data: one ``RouteSpec`` per route a client may call, what it takes,
how it is authorised and what it answers. ``server.schema.openapi`` makes the OpenAPI
document of them; ``tests/test_openapi.py`` holds them to the app's router, and
``tests/contract_http.py`` checks the suite's replies against them.

Facts, not code: this package knows no aiohttp (it sits in the handlers layer), so the
routes are written down here and the test compares them with what ``http_api`` adds.
This module: the spec's parts, the shapes HTTP replies share, and the routes of players
(logins, sessions, tickets, boards); ``http_routes_admin`` holds the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from server.protocol import ErrorCode
from server.schema.build import JsonSchema, array, integer, obj, ref, string
from server.services.leaderboards import OFFSET_MAX, TOP_LIMIT_MAX
from server.services.session_rules import DEVICE_ID_MAX, DEVICE_ID_MIN, NAME_MAX, NAME_MIN
from server.services.sessions import TICKET_TTL_S

# "bearer": a session token (a player's or a spectator's: every route that takes one takes
# both); "server": ARENA_SERVER_KEY; "admin": ARENA_ADMIN_KEY; "ticket": the socket's own.
Auth = Literal["none", "bearer", "server", "admin", "ticket"]
JSON = "application/json"

E = ErrorCode


@dataclass(frozen=True, slots=True)
class Param:
    """A path or query parameter."""

    name: str
    where: Literal["path", "query"]
    schema: JsonSchema
    description: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """A success reply: its status, body shape (None: no body) and content type."""

    status: int
    description: str
    schema: JsonSchema | None = None
    content_type: str = JSON


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One route. ``path`` is aiohttp's form (``/v1/x/{id}``). ``errors``: the codes it
    may fail with (each under its HTTP status; every failure is ``HttpError``), besides
    those every route may give (``INTERNAL``, and ``UNAVAILABLE`` when Redis is down).
    ``rate_limit``: the action (``server.rate_limits``) that limits it, if any."""

    method: Literal["GET", "POST", "DELETE"]
    path: str
    summary: str
    tag: str
    description: str = ""
    auth: Auth = "none"
    params: tuple[Param, ...] = ()
    body: JsonSchema | None = None  # a JSON object (Content-Type: application/json only)
    body_required: bool = True
    replies: tuple[Reply, ...] = ()
    errors: tuple[ErrorCode, ...] = ()
    rate_limit: str | None = None
    only_when: str = ""  # the route exists only under these settings
    uses_redis: bool = True  # so it may answer 503 UNAVAILABLE when Redis is down

    @property
    def operation_id(self) -> str:
        words = [w.strip("{}") for w in self.path.strip("/").replace(".", "_").split("/")]
        return "_".join([self.method.lower(), *[w.replace("-", "_") for w in words if w]])


def player_id_param(description: str = "A player's id.") -> Param:
    return Param("player_id", "path", string(1, 64), description, required=True)


def board_param() -> Param:
    return Param("board", "path", string(1), "A board's id (docs/protocol.md 4).", required=True)


def period_param() -> Param:
    return Param(
        "period",
        "query",
        string(),
        "Which period of a periodic board: `current` (the default), `previous`, or a period's key.",
    )


# Shapes several routes share (components.schemas); ``ErrorBody`` is the one of server.schema.codes.
HTTP_SHAPES: dict[str, JsonSchema] = {
    "HttpError": obj(
        {"error": ref("ErrorBody")},
        description="The body of every failure, whatever the route.",
    ),
    "HttpBoardEntry": obj(
        {
            "rank": integer(1, description="1 for the best score"),
            "player_id": string(),
            "name": string(description="The name the player had when the score was recorded"),
            "score": integer(),
        }
    ),
    "HttpStats": obj(
        {
            "online": integer(0, description="players with a live socket"),
            "nodes": integer(0, description="server nodes alive"),
            "lobbies_open": integer(0, description="open public lobbies with a free seat"),
            "matches_running": integer(0),
            "abandoned": integer(0, description="matches ended with every player gone, ever"),
            "disputed": integer(0, description="matches whose reports agreed on no result, ever"),
            "queues": obj(
                {
                    "results": obj(
                        {"ready": integer(0), "taken": integer(0), "dead": integer(0)},
                        description="result jobs waiting, being worked on, and failed for good",
                    )
                }
            ),
            "caches": {
                "type": "object",
                "description": "Per cache (lb_top, profile, ...), counts summed over the nodes.",
                "additionalProperties": obj(
                    {
                        "hits": integer(0),
                        "misses": integer(0),
                        "stale": integer(0),
                        "waits": integer(0),
                    }
                ),
            },
        }
    ),
}

SECRET_NOTE = "Issued once, on the device's first login: keep it and send it on every later login."

GUEST = RouteSpec(
    "POST",
    "/v1/auth/guest",
    "Log in as a guest: a device id names the player; its secret proves the device.",
    "auth",
    description="The address's `auth.guest` limit is checked before the body is read.",
    body=obj(
        {
            "device_id": string(
                DEVICE_ID_MIN,
                DEVICE_ID_MAX,
                pattern="^[\\x20-\\x7e]*$",
                description="Printable ASCII; the same id always logs in as the same player.",
            ),
            "name": string(
                description=f"{NAME_MIN} to {NAME_MAX} characters after NFC and trimming"
            ),
        },
        {"device_secret": string(description="Absent on the device's first login only.")},
    ),
    replies=(
        Reply(
            200,
            "A new session.",
            obj(
                {
                    "token": string(description="Send as `Authorization: Bearer TOKEN`."),
                    "player_id": string(16, 16, pattern="^[0-9a-f]{16}$"),
                    "name": string(),
                    "expires_in": integer(1, description="seconds without activity"),
                },
                {"device_secret": string(description=SECRET_NOTE)},
            ),
        ),
    ),
    errors=(E.BAD_REQUEST, E.BAD_CREDENTIALS, E.UNAUTHORIZED, E.BANNED, E.RATE_LIMITED),
    rate_limit="auth.guest",
)

ROTATE = RouteSpec(
    "POST",
    "/v1/auth/guest/rotate",
    "A new device secret for the current one; every session of the player ends.",
    "auth",
    body=obj(
        {
            "device_id": string(DEVICE_ID_MIN, DEVICE_ID_MAX, pattern="^[\\x20-\\x7e]*$"),
            "device_secret": string(description="The device's current secret."),
        }
    ),
    replies=(
        Reply(
            200,
            "The device's new secret (the old one logs in no more).",
            obj(
                {
                    "player_id": string(),
                    "device_secret": string(),
                    "revoked": integer(0, description="sessions ended"),
                }
            ),
        ),
    ),
    errors=(E.BAD_REQUEST, E.BAD_CREDENTIALS, E.RATE_LIMITED),
    rate_limit="auth.guest",
)

SPECTATOR = RouteSpec(
    "POST",
    "/v1/auth/spectator",
    "A read-only session for a dashboard: reads and watch.* pushes, never a change.",
    "auth",
    description="The body is not read, but must be sent as `application/json` (`{}`).",
    body=obj(),
    body_required=False,
    replies=(
        Reply(
            200,
            "A spectator session.",
            obj(
                {
                    "token": string(),
                    "expires_in": integer(1),
                    "role": string(enum=["spectator"]),
                }
            ),
        ),
    ),
    errors=(E.RATE_LIMITED,),
    rate_limit="auth.guest",
)

SESSION = RouteSpec(
    "GET",
    "/v1/session",
    "The caller's session.",
    "sessions",
    auth="bearer",
    replies=(
        Reply(
            200,
            "A player's session has `name`; a spectator's has `role` instead.",
            obj(
                {"player_id": string(), "created_ms": integer(0), "expires_in": integer(1)},
                {"name": string(), "role": string(enum=["spectator"])},
            ),
        ),
    ),
    errors=(E.UNAUTHORIZED,),
)

DELETE_SESSION = RouteSpec(
    "DELETE",
    "/v1/session",
    "Revoke the caller's token; a socket running it closes with 4002.",
    "sessions",
    auth="bearer",
    replies=(Reply(200, "Revoked.", obj({"revoked": {"const": True}})),),
    errors=(E.UNAUTHORIZED,),
)

DELETE_SESSIONS = RouteSpec(
    "DELETE",
    "/v1/sessions",
    "Revoke every session of the caller's player (a spectator's: its own).",
    "sessions",
    description="The player's live socket closes with 4002. The device secret stays valid.",
    auth="bearer",
    replies=(Reply(200, "How many sessions ended.", obj({"revoked": integer(0)})),),
    errors=(E.UNAUTHORIZED,),
)

TICKET = RouteSpec(
    "POST",
    "/v1/ws/ticket",
    f"A single-use ticket that opens one socket as this session within {TICKET_TTL_S} s.",
    "sessions",
    description="For `GET /v1/ws?ticket=`: browsers cannot set a socket's headers.",
    auth="bearer",
    replies=(
        Reply(
            200,
            "The ticket.",
            obj({"ticket": string(), "expires_in": integer(1, description="seconds")}),
        ),
    ),
    errors=(E.UNAUTHORIZED, E.RATE_LIMITED),
    rate_limit="ws.ticket",
)

PRESENCE = RouteSpec(
    "GET",
    "/v1/presence",
    "How many players have a live socket.",
    "reads",
    replies=(Reply(200, "The count.", obj({"online": integer(0)})),),
)

BOARD_TOP = RouteSpec(
    "GET",
    "/v1/leaderboards/{board}/top",
    "A page of a board's best scores, as lb.top (served from cached pages of 100).",
    "leaderboards",
    params=(
        board_param(),
        Param("limit", "query", {**integer(1, TOP_LIMIT_MAX), "default": 10}, "Entries."),
        Param("offset", "query", {**integer(0, OFFSET_MAX), "default": 0}, "Entries skipped."),
        period_param(),
    ),
    replies=(Reply(200, "The page.", obj({"entries": array(ref("HttpBoardEntry"))})),),
    errors=(E.BAD_REQUEST, E.UNKNOWN_BOARD, E.RATE_LIMITED),
    rate_limit="http.read",
)

BOARD_PLAYER = RouteSpec(
    "GET",
    "/v1/leaderboards/{board}/players/{player_id}",
    "A player's rank and score on a board, as lb.rank.",
    "leaderboards",
    params=(board_param(), player_id_param(), period_param()),
    replies=(Reply(200, "The player's entry.", ref("HttpBoardEntry")),),
    errors=(E.BAD_REQUEST, E.UNKNOWN_BOARD, E.NOT_RANKED, E.RATE_LIMITED),
    rate_limit="http.read",
)

PLAYER_ROUTES: tuple[RouteSpec, ...] = (
    GUEST,
    ROTATE,
    SPECTATOR,
    SESSION,
    DELETE_SESSION,
    DELETE_SESSIONS,
    TICKET,
    PRESENCE,
    BOARD_TOP,
    BOARD_PLAYER,
)
