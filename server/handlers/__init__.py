"""One small function per op: validate the fields, call one service, shape the result.

``HANDLERS`` is the dispatch table the socket loop reads; handlers never touch
Redis or build key names.
"""

from __future__ import annotations

from server.handlers.base import Handler, OpContext, Request, SocketChannels
from server.handlers.leaderboards import LEADERBOARD_HANDLERS
from server.handlers.lobbies import LOBBY_HANDLERS
from server.handlers.matches import MATCH_HANDLERS
from server.handlers.matchmaking import MATCHMAKING_HANDLERS
from server.handlers.parties import PARTY_HANDLERS
from server.handlers.ratings import RATING_HANDLERS
from server.handlers.social import SOCIAL_HANDLERS
from server.handlers.system import SYSTEM_HANDLERS
from server.protocol import Op

HANDLERS: dict[str, Handler] = {
    **SYSTEM_HANDLERS,
    **LEADERBOARD_HANDLERS,
    **LOBBY_HANDLERS,
    **MATCH_HANDLERS,
    **MATCHMAKING_HANDLERS,
    **SOCIAL_HANDLERS,
    **RATING_HANDLERS,
    **PARTY_HANDLERS,
}

assert set(HANDLERS) == {str(op) for op in Op}, "every Op needs a handler, and only those"

# What a spectator's socket (a dashboard) may ask: reads and watching, never a change.
SPECTATOR_OPS = frozenset(
    {
        Op.PING,
        Op.SESSION_GET,
        Op.PRESENCE_GET,
        Op.STATS_GET,
        Op.WATCH,
        Op.LB_BOARDS,
        Op.LB_TOP,
        Op.LB_RANK,
        Op.LB_AROUND,
        Op.LOBBY_LIST,
        Op.MATCH_LIST,
        Op.FEED_GLOBAL,
    }
)

__all__ = [
    "HANDLERS",
    "SPECTATOR_OPS",
    "Handler",
    "OpContext",
    "Request",
    "SocketChannels",
]
