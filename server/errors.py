"""The one error tree, and the one place it meets wire codes and HTTP statuses.

::

    ArenaError                      INTERNAL       500
    ├── BadRequest                  BAD_REQUEST    400
    ├── Unauthorized                UNAUTHORIZED   401
    ├── BadCredentials              BAD_CREDENTIALS 401 (a device's secret missing or wrong)
    ├── Banned                      BANNED         403  (retry_after_ms when the ban ends)
    ├── UnsupportedMediaType        UNSUPPORTED_MEDIA_TYPE 415
    ├── Forbidden                   FORBIDDEN      403
    ├── NotFound                    NOT_FOUND      404
    ├── UnknownBoard                UNKNOWN_BOARD  404
    ├── NotRanked                   NOT_RANKED     404
    ├── UnknownOp                   UNKNOWN_OP     400
    ├── BadFrame                    BAD_FRAME      400
    ├── RateLimited                 RATE_LIMITED   429  (carries retry_after_ms)
    ├── TooManySockets              TOO_MANY_SOCKETS 429 (a socket over the per-address cap)
    ├── LockTimeout                 LOCK_TIMEOUT   503  (carries retry_after_ms)
    ├── LobbyNotFound               LOBBY_NOT_FOUND 404
    ├── LobbyFull                   LOBBY_FULL     409
    ├── AlreadyInLobby              ALREADY_IN_LOBBY 409
    ├── NotInLobby                  NOT_IN_LOBBY   409
    ├── NotInMatch                  NOT_IN_MATCH   403  (also: no such match)
    ├── MatchEnded                  MATCH_ENDED    409
    ├── MatchFull                   MATCH_FULL     409  (a server-run match has no open seat)
    ├── AlreadyQueued               ALREADY_QUEUED 409  (a player's ticket waits in the mode)
    ├── QueueFull                   QUEUE_FULL     503  (the mode's queue is at its cap)
    ├── FeedTrimmed                 FEED_TRIMMED   410
    ├── NotInRoom                   NOT_IN_ROOM    403
    ├── ReadOnly                    READ_ONLY      403  (a spectator asked for a change)
    ├── AlreadyInParty              ALREADY_IN_PARTY 409
    ├── NotInParty                  NOT_IN_PARTY   409
    ├── NotPartyLeader              NOT_PARTY_LEADER 403
    ├── PartyFull                   PARTY_FULL     409
    ├── TooManyInvites              TOO_MANY_INVITES 409 (retry_after_ms: the oldest expires)
    └── Unavailable                 UNAVAILABLE    503  (Redis down or too slow)

Services raise these; ``ws`` and ``http_api`` turn them into replies with
``to_wire``. Anything else that escapes a handler is logged and sent as INTERNAL.
"""

from __future__ import annotations

from typing import ClassVar

from server.protocol import ErrorCode


class ArenaError(Exception):
    """The root of the error tree; as itself, INTERNAL: a server bug, which is logged."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, retry_after_ms: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_ms = retry_after_ms


class BadRequest(ArenaError):
    """A field is missing, ill-typed or out of bounds; the message names it."""

    code = ErrorCode.BAD_REQUEST
    http_status = 400


class Unauthorized(ArenaError):
    """A missing, unknown, expired or revoked token or socket ticket; or a server route
    without its key."""

    code = ErrorCode.UNAUTHORIZED
    http_status = 401


class BadCredentials(ArenaError):
    """A login of a known device without its ``device_secret``, or with a wrong one."""

    code = ErrorCode.BAD_CREDENTIALS
    http_status = 401


class Banned(ArenaError):
    """An operator banned the player; ``retry_after_ms`` says when a timed ban ends."""

    code = ErrorCode.BANNED
    http_status = 403


class UnsupportedMediaType(ArenaError):
    """A body that is not ``Content-Type: application/json`` (so no cross-site form posts)."""

    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    http_status = 415


class Forbidden(ArenaError):
    """Not allowed to this caller (a server-only board or result, the wrong kind of
    match, an invite-only party)."""

    code = ErrorCode.FORBIDDEN
    http_status = 403


class NotFound(ArenaError):
    """No such route, player or party."""

    code = ErrorCode.NOT_FOUND
    http_status = 404


class UnknownBoard(ArenaError):
    """No board with that id."""

    code = ErrorCode.UNKNOWN_BOARD
    http_status = 404


class NotRanked(ArenaError):
    """The player has no score on that board period."""

    code = ErrorCode.NOT_RANKED
    http_status = 404


class UnknownOp(ArenaError):
    """No such op."""

    code = ErrorCode.UNKNOWN_OP
    http_status = 400


class BadFrame(ArenaError):
    """The frame is not a msgpack map or JSON object; the socket stays open."""

    code = ErrorCode.BAD_FRAME
    http_status = 400


class RateLimited(ArenaError):
    """Too many attempts; ``retry_after_ms`` says how long to wait."""

    code = ErrorCode.RATE_LIMITED
    http_status = 429

    def __init__(self, message: str, *, retry_after_ms: int) -> None:
        super().__init__(message, retry_after_ms=retry_after_ms)


class TooManySockets(ArenaError):
    """A client address already holds ARENA_MAX_SOCKETS_PER_IP sockets on this node."""

    code = ErrorCode.TOO_MANY_SOCKETS
    http_status = 429


class LockTimeout(ArenaError):
    """A contended resource stayed locked past the wait; retrying shortly helps."""

    code = ErrorCode.LOCK_TIMEOUT
    http_status = 503

    def __init__(self, message: str, *, retry_after_ms: int) -> None:
        super().__init__(message, retry_after_ms=retry_after_ms)


class LobbyNotFound(ArenaError):
    """No open lobby with that id."""

    code = ErrorCode.LOBBY_NOT_FOUND
    http_status = 404


class LobbyFull(ArenaError):
    """Every seat is taken."""

    code = ErrorCode.LOBBY_FULL
    http_status = 409


class AlreadyInLobby(ArenaError):
    """The player sits in another lobby; leave it first."""

    code = ErrorCode.ALREADY_IN_LOBBY
    http_status = 409


class NotInLobby(ArenaError):
    """The player sits in no open lobby."""

    code = ErrorCode.NOT_IN_LOBBY
    http_status = 409


class NotInMatch(ArenaError):
    """Not a player of the match, or no such match: the two are not told apart, so match
    ids cannot be probed."""

    code = ErrorCode.NOT_IN_MATCH
    http_status = 403


class MatchEnded(ArenaError):
    """The match has ended; its result stands."""

    code = ErrorCode.MATCH_ENDED
    http_status = 409


class MatchFull(ArenaError):
    """A server-run match's roster fills its mode's capacity."""

    code = ErrorCode.MATCH_FULL
    http_status = 409


class AlreadyQueued(ArenaError):
    """The player or a member of their party waits in another ticket of that mode."""

    code = ErrorCode.ALREADY_QUEUED
    http_status = 409


class QueueFull(ArenaError):
    """The mode's matchmaking queue holds its most tickets; retry later."""

    code = ErrorCode.QUEUE_FULL
    http_status = 503


class FeedTrimmed(ArenaError):
    """``after`` is older than the feed keeps; read from the start."""

    code = ErrorCode.FEED_TRIMMED
    http_status = 410


class NotInRoom(ArenaError):
    """No such chat room, or not one of its members."""

    code = ErrorCode.NOT_IN_ROOM
    http_status = 403


class ReadOnly(ArenaError):
    """A spectator's socket asked for an op that changes something."""

    code = ErrorCode.READ_ONLY
    http_status = 403


class AlreadyInParty(ArenaError):
    """A player is in one party at most: leave it before creating or joining another."""

    code = ErrorCode.ALREADY_IN_PARTY
    http_status = 409


class NotInParty(ArenaError):
    """The player is in no party."""

    code = ErrorCode.NOT_IN_PARTY
    http_status = 409


class NotPartyLeader(ArenaError):
    """Only the party's leader may invite, kick, promote or close."""

    code = ErrorCode.NOT_PARTY_LEADER
    http_status = 403


class PartyFull(ArenaError):
    """The party has ``max_size`` members."""

    code = ErrorCode.PARTY_FULL
    http_status = 409


class TooManyInvites(ArenaError):
    """The party holds as many live invites as it may; ``retry_after_ms``: until the
    oldest expires."""

    code = ErrorCode.TOO_MANY_INVITES
    http_status = 409


class Unavailable(ArenaError):
    """Redis is down or too slow; retry later."""

    code = ErrorCode.UNAVAILABLE
    http_status = 503
