"""The error and close codes as the documents tell them: every ``ErrorCode`` with its HTTP
status and meaning (read from the error tree), every ``CloseCode`` with what a client does."""

from __future__ import annotations

import inspect

from server.errors import ArenaError
from server.protocol import FINAL_CLOSE_CODES, CloseCode, ErrorCode
from server.schema.build import JsonSchema, integer, obj, ref, string

# The codes any op may answer with, beside those its own spec lists: a field out of
# bounds, a rate limit, a spectator's change, Redis down, a bug.
ANY_OP_ERRORS = (
    ErrorCode.BAD_REQUEST,
    ErrorCode.RATE_LIMITED,
    ErrorCode.READ_ONLY,
    ErrorCode.UNAVAILABLE,
    ErrorCode.INTERNAL,
)

# What each close code means for a client (docs/protocol.md section 11 says it at length).
CLOSE_MEANINGS: dict[CloseCode, str] = {
    CloseCode.NORMAL: "normal close",
    CloseCode.GOING_AWAY: "the server is shutting down (after server.shutdown): reconnect",
    CloseCode.MESSAGE_TOO_BIG: "a frame over the size limit: fix the client",
    CloseCode.INTERNAL_ERROR: "the server could not set the socket up: retry with backoff",
    CloseCode.SESSION_REPLACED: "a newer socket of the same player or spectator session took over",
    CloseCode.SESSION_REVOKED: "the session was revoked: log in again",
    CloseCode.SESSION_EXPIRED: "the session expired: log in again",
    CloseCode.KICKED: "kicked by an operator (after session.kicked)",
    CloseCode.BANNED: "banned by an operator (after session.banned)",
    CloseCode.SLOW_CONSUMER: "the socket's outbox overflowed: reconnect, then catch up",
}


def error_codes() -> list[dict[str, object]]:
    """Every wire error code, its HTTP status and what it means, from the error tree."""
    found: dict[ErrorCode, dict[str, object]] = {}
    pending: list[type[ArenaError]] = [ArenaError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        doc = (inspect.getdoc(cls) or "") if cls.__doc__ else ""
        meaning = " ".join(doc.split())
        found.setdefault(
            cls.code,
            {
                "code": str(cls.code),
                "http_status": cls.http_status,
                "meaning": meaning,
            },
        )
    missing = set(ErrorCode) - set(found)
    assert not missing, f"error codes without a class in server.errors: {missing}"
    return [found[code] for code in ErrorCode]


def close_codes() -> list[dict[str, object]]:
    missing = set(CloseCode) - set(CLOSE_MEANINGS)
    assert not missing, f"close codes without a meaning: {missing}"
    return [
        {
            "code": int(code),
            "name": code.name,
            "reconnect": code not in FINAL_CLOSE_CODES,
            "meaning": CLOSE_MEANINGS[code],
        }
        for code in CloseCode
    ]


def error_shapes() -> dict[str, JsonSchema]:
    """``ErrorCode`` and ``Error``: the body of every failure, on the socket and over HTTP."""
    return {
        "ErrorCode": string(
            enum=list(ErrorCode), description="Stable: clients branch on it, never on message."
        ),
        "ErrorBody": obj(
            {"code": ref("ErrorCode"), "message": string(description="For people; may change.")},
            {
                "retry_after_ms": integer(
                    0, description="Where waiting helps: waiting that long is enough."
                )
            },
        ),
    }
