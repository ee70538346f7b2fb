"""The OpenAPI 3.1 document of the HTTP routes (``GET /v1/openapi.json``, docs/openapi.json),
made from the ``RouteSpec``s of ``http_routes`` and ``http_routes_admin``.

Every failure is ``HttpError`` (``{"error": ErrorBody}``); each route lists, per status,
the codes it fails with (``x-error-codes`` and an enum on ``code``), and ``default``
covers the rest (500 INTERNAL, ...). Limits ride as ``x-rate-limit``.
"""

from __future__ import annotations

from typing import Any

from server.protocol import ErrorCode
from server.rate_limits import DEFAULT_RATE_LIMITS
from server.schema.build import JsonSchema, ref, refs_in
from server.schema.codes import error_codes, error_shapes
from server.schema.http_routes import HTTP_SHAPES, JSON, RouteSpec
from server.schema.http_routes_admin import ROUTES

SERVER_URL = "http://127.0.0.1:8080"

DESCRIPTION = """\
Arena's HTTP routes: guest logins, sessions, socket tickets, public board reads, trusted
game servers' writes, the admin API, probes, and the protocol's documents. JSON in
(`Content-Type: application/json` only, else 415), JSON out. Every failure is
`{"error": {"code", "message", "retry_after_ms"?}}`; where waiting helps, `retry_after_ms`
and a `Retry-After` header (whole seconds, rounded up) say how long. Tokens and keys travel
only in `Authorization: Bearer ...` (the socket's upgrade is the one exception). The game
itself is played on the socket (`GET /v1/ws`), described in /v1/asyncapi.json. Human
contract: docs/protocol.md section 1."""

TAGS = {
    "auth": "Logins: guest devices and spectators.",
    "sessions": "The caller's session, its revocation, socket tickets.",
    "reads": "Public figures.",
    "leaderboards": "Public board reads, limited per client address (`http.read`).",
    "servers": "Trusted game servers, with `Authorization: Bearer ARENA_SERVER_KEY`.",
    "admin": "Operators, with `Authorization: Bearer ARENA_ADMIN_KEY` (docs/operations.md).",
    "probes": "Health, readiness and metrics.",
    "socket": "The game socket's upgrade.",
    "documents": "The protocol as data, and the JavaScript client.",
}

SECURITY_SCHEMES: dict[str, JsonSchema] = {
    "session": {
        "type": "http",
        "scheme": "bearer",
        "description": "A session token from POST /v1/auth/guest or /v1/auth/spectator.",
    },
    "serverKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "ARENA_SERVER_KEY (unset: these routes answer 401 to everyone). "
        "Wrong keys count per address (`auth.key`): once over, every key gets 429.",
    },
    "adminKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "ARENA_ADMIN_KEY (unset: the admin API answers 401 to everyone). "
        "Wrong keys count per address (`auth.key`): once over, every key gets 429.",
    },
    "socketTicket": {
        "type": "apiKey",
        "in": "query",
        "name": "ticket",
        "description": "A single-use ticket from POST /v1/ws/ticket (GET /v1/ws only).",
    },
    "socketToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "A session token in the URL (GET /v1/ws only; prefer a ticket).",
    },
}

SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "none": [],
    "bearer": [{"session": []}],
    "server": [{"serverKey": []}],
    "admin": [{"adminKey": []}],
    "ticket": [{"socketTicket": []}, {"session": []}, {"socketToken": []}],
}

HEADERS: dict[str, JsonSchema] = {
    "RequestId": {
        "description": "The client's X-Request-Id if sane (1 to 64 of A-Z a-z 0-9 . _ -), "
        "else a new one; the server's log lines for the request carry it.",
        "schema": {"type": "string"},
    },
    "RetryAfter": {
        "description": "Whole seconds (rounded up) to wait, when the error has retry_after_ms.",
        "schema": {"type": "integer", "minimum": 1},
    },
}

WAITS = {ErrorCode.RATE_LIMITED, ErrorCode.BANNED, ErrorCode.LOCK_TIMEOUT}  # carry Retry-After


def http_statuses() -> dict[ErrorCode, int]:
    return {ErrorCode(str(e["code"])): int(str(e["http_status"])) for e in error_codes()}


def failures(route: RouteSpec) -> dict[int, list[ErrorCode]]:
    """The route's error codes by HTTP status, those every route of its kind may give added:
    a JSON body's refusals (415; 400 malformed; 413 over the size limit) and 503 UNAVAILABLE
    (Redis down) wherever Redis is asked."""
    status_of = http_statuses()
    found: dict[int, list[ErrorCode]] = {}

    def add(status: int, code: ErrorCode) -> None:
        codes = found.setdefault(status, [])
        if code not in codes:
            codes.append(code)

    for code in route.errors:
        add(status_of[code], code)
    if route.body is not None:
        add(400, ErrorCode.BAD_REQUEST)
        add(413, ErrorCode.BAD_REQUEST)
        add(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE)
    if route.uses_redis:
        add(503, ErrorCode.UNAVAILABLE)
    return dict(sorted(found.items()))


def error_response(status: int, codes: list[ErrorCode]) -> JsonSchema:
    names = [str(code) for code in codes]
    response: JsonSchema = {
        "description": ", ".join(names),
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}},
        "content": {
            JSON: {
                "schema": {
                    "allOf": [
                        ref("HttpError"),
                        {"properties": {"error": {"properties": {"code": {"enum": names}}}}},
                    ]
                }
            }
        },
        "x-error-codes": names,
    }
    if WAITS & set(codes):
        response["headers"]["Retry-After"] = {"$ref": "#/components/headers/RetryAfter"}
    return response


def operation(route: RouteSpec) -> JsonSchema:
    notes = [route.description] if route.description else []
    op: JsonSchema = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "security": SECURITY[route.auth],
    }
    if route.rate_limit is not None:
        limit = DEFAULT_RATE_LIMITS[route.rate_limit]
        op["x-rate-limit"] = {
            "action": route.rate_limit,
            "burst": limit.burst,
            "per_s": limit.per_s,
        }
        notes.append(
            f"Limited by `{route.rate_limit}`: by default a burst of {limit.burst}, then "
            f"{limit.per_s:g} a second (ARENA_RATE_LIMITS); past it 429 RATE_LIMITED."
        )
    if route.only_when:
        op["x-only-when"] = route.only_when
        notes.append(f"Served only with {route.only_when}.")
    if notes:
        op["description"] = " ".join(notes)
    if route.params:
        op["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required,
                "description": p.description,
                "schema": p.schema,
            }
            for p in route.params
        ]
    if route.body is not None:
        op["requestBody"] = {
            "required": route.body_required,
            "content": {JSON: {"schema": route.body}},
        }
    responses: JsonSchema = {}
    for reply in route.replies:
        response: JsonSchema = {"description": reply.description}
        if reply.status != 101:
            response["headers"] = {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}}
        if reply.schema is not None:
            response["content"] = {reply.content_type: {"schema": reply.schema}}
        responses[str(reply.status)] = response
    for status, codes in failures(route).items():
        responses[str(status)] = error_response(status, codes)
    responses["default"] = {
        "description": "Any other failure (500 INTERNAL, ...): the same error body.",
        "content": {JSON: {"schema": ref("HttpError")}},
    }
    op["responses"] = responses
    return op


def components() -> JsonSchema:
    schemas = dict(error_shapes())
    overlap = set(schemas) & set(HTTP_SHAPES)
    assert not overlap, f"shapes named twice: {overlap}"
    schemas.update(HTTP_SHAPES)
    return {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES, "headers": HEADERS}


def openapi_document(version: str) -> dict[str, Any]:
    """The whole document; ``version`` is Arena's."""
    paths: dict[str, JsonSchema] = {}
    for route in ROUTES:
        item = paths.setdefault(route.path, {})
        method = route.method.lower()
        assert method not in item, f"{route.method} {route.path} described twice"
        item[method] = operation(route)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Arena HTTP API",
            "version": version,
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": SERVER_URL, "description": "a local Arena (python -m server)"}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "components": components(),
    }
    missing = refs_in(document) - set(document["components"]["schemas"])
    assert not missing, f"shapes named but not described: {missing}"
    return document
