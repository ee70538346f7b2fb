"""What every HTTP route module shares: reading a request (its JSON body, the client's
address, a bearer key) and the error body every failure leaves with."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from aiohttp import ClientConnectionError, web

from server.addresses import address_bucket
from server.appkeys import SERVICES, SETTINGS
from server.errors import BadRequest, Forbidden, Unauthorized, UnsupportedMediaType
from server.json_limits import BODY_DEPTH_MAX, has_lone_surrogate, nested_deeper_than

# Key refusals are logged under the name operators already filter on (docs/operations.md).
log = logging.getLogger("server.http_api")


def bearer_header(request: web.Request) -> str | None:
    """``Authorization: Bearer VALUE`` only: what tokens, server and admin keys travel in
    on HTTP routes (a query string ends up in proxies' access logs and browser history)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def error_body(code: str, message: str, retry_after_ms: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if retry_after_ms is not None:
        error["retry_after_ms"] = retry_after_ms
    return {"error": error}


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


def require_json(request: web.Request) -> None:
    """Only ``Content-Type: application/json`` (charset, if named, UTF-8): a cross-site
    HTML form can send urlencoded, multipart or text/plain bodies, never this, so no
    page elsewhere can make a visitor's browser mint accounts here."""
    charset = (request.charset or "utf-8").lower()
    if request.content_type != "application/json" or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("the body must be sent as Content-Type: application/json")


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, or BadRequest: malformed, not an object, nested past
    what json.loads can recurse through (RecursionError), or cut off by a client that
    went away half-way (a reset while reading it; a cancellation still propagates)."""
    require_json(request)
    try:
        # Over client_max_size, aiohttp raises 413; the middleware gives it our error shape.
        raw = await request.read()
    except (ConnectionResetError, ClientConnectionError):
        # Nobody is left to answer; the request's own log line says 400, once.
        raise BadRequest("body: the client went away before its body was read") from None
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    if nested_deeper_than(body, BODY_DEPTH_MAX):
        raise BadRequest(f"body: nested more than {BODY_DEPTH_MAX} deep")
    if has_lone_surrogate(body):
        raise BadRequest("body: a lone surrogate escape (\\ud800..\\udfff) is not text")
    return body


async def require_key(request: web.Request, expected: str, *, kind: str, off: str) -> None:
    """``Authorization: Bearer KEY``: 401 without it (or with the routes off: ``off``),
    403 with a wrong one. Wrong keys count per address (``auth.key``); once over, every
    key from that address gets 429 until the window passes, the right one included, so
    guessing runs at the limit's rate at best. Refusals are logged (never the key).

    Each guess is answered only after one atomic step of the limit: a wrong key takes a
    token, the right one takes and gives it back at once (it only needs one to be left).
    So however many guesses arrive together, they are admitted in Redis's order and at
    most ``burst`` wrong ones per window get an answer other than 429, the right one
    included when it comes after them. Checking first and counting after the comparison
    (two steps) let a batch of parallel guesses all pass the check before any was
    counted. Comparing in the process costs nothing and reveals nothing: the reply waits
    for the limit. A right key never holds a token, so a key holder's parallel calls do
    not crowd each other out."""
    given = bearer_header(request)
    if not expected:
        log.warning("%s key refused for %s %s: off", kind, request.method, request.path)
        raise Unauthorized(off)
    if given is None:
        log.warning("%s key refused for %s %s: no key", kind, request.method, request.path)
        raise Unauthorized(f"the {kind} key is required")
    limiter = request.app[SERVICES].rate_limiter
    address = address_key(request)
    if hmac.compare_digest(given.encode(), expected.encode()):
        await limiter.ensure_not_over("auth.key", address)
        return
    await limiter.check("auth.key", address)
    log.warning("%s key refused for %s %s: wrong key", kind, request.method, request.path)
    raise Forbidden(f"wrong {kind} key")
