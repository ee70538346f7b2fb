"""ping, session.get, presence.get, stats.get, watch, and the pushes about the session and
the node (session.replaced, session.kicked, session.banned, server.shutdown) and the
watch channel's (watch.lobby, watch.match, watch.score, watch.activity)."""

from __future__ import annotations

from server.handlers.system import PLAYER_ID_MAX, PRESENCE_IDS_MAX
from server.protocol import ErrorCode, Op, Push
from server.schema.build import (
    array,
    boolean,
    const,
    integer,
    mapping,
    obj,
    ref,
    string,
)
from server.schema.ops_lobbies import LOBBY_FIELDS
from server.schema.spec import Area, OpSpec, PushSpec
from server.services.sessions import SPECTATOR

_COUNT = integer(0)


WATCHED_LOBBY = obj(
    {
        **LOBBY_FIELDS,
        "status": string(
            enum=("open", "started", "closed"), description="where the lobby stands now"
        ),
    },
    description="A public lobby as section 5 shows it, and its status.",
)


SYSTEM = Area(
    name="system",
    ops=(
        OpSpec(
            Op.PING,
            "Round trip; the server's clock.",
            result=obj({"server_time_ms": integer(0, description="Unix time in ms")}),
            description="For round-trip and clock offset estimates.",
        ),
        OpSpec(
            Op.SESSION_GET,
            "The session this socket runs, as GET /v1/session shows it.",
            result=obj(
                {
                    "player_id": string(1),
                    "created_ms": integer(0, description="when the session was made (Unix ms)"),
                    "expires_in": integer(1, description="seconds until it expires unused"),
                },
                {
                    "name": string(1, description="the player's name (players only)"),
                    "role": const(SPECTATOR, "only a spectator's session has it (and no name)"),
                },
            ),
            errors=(ErrorCode.UNAUTHORIZED,),
            description="UNAUTHORIZED when the session has ended meanwhile.",
        ),
        OpSpec(
            Op.PRESENCE_GET,
            "How many players are online, and which of these are.",
            request=obj(
                {
                    "player_ids": array(
                        string(0, PLAYER_ID_MAX),
                        max_items=PRESENCE_IDS_MAX,
                        description="the players to look up (an empty list is fine)",
                    )
                }
            ),
            result=obj(
                {
                    "online": integer(0, description="how many players are online game-wide"),
                    "players": mapping(
                        boolean(), description="each named player id: whether it is online"
                    ),
                }
            ),
        ),
        OpSpec(
            Op.STATS_GET,
            "Game-wide figures, as a dashboard shows them.",
            result=obj(
                {
                    "online": integer(0, description="players holding a socket"),
                    "nodes": integer(0, description="server nodes alive"),
                    "lobbies_open": _COUNT,
                    "matches_running": _COUNT,
                    "abandoned": integer(0, description="matches ended with every player gone"),
                    "disputed": integer(0, description="matches whose reports agreed on none"),
                    "queues": obj(
                        {
                            "results": obj(
                                {"ready": _COUNT, "taken": _COUNT, "dead": _COUNT},
                                description="the results queue: jobs waiting, taken, dead",
                            )
                        }
                    ),
                }
            ),
        ),
        OpSpec(
            Op.WATCH,
            "From now on this socket gets the game-wide watch.* pushes.",
            description="What a dashboard listens to; spectators may send it.",
        ),
    ),
    pushes=(
        PushSpec(
            Push.SESSION_REPLACED,
            "The same player (or spectator session) opened another socket; close 4001 follows.",
        ),
        PushSpec(
            Push.SESSION_KICKED,
            "An operator kicked the player; close 4004 follows.",
        ),
        PushSpec(
            Push.SESSION_BANNED,
            "An operator banned the player; close 4005 follows, logins get 403 BANNED.",
        ),
        PushSpec(
            Push.SERVER_SHUTDOWN,
            "The node is stopping; close 1001 follows: reconnect, to any node, same token.",
            fields=obj({"reconnect": const(True)}),
        ),
        PushSpec(
            Push.WATCH_LOBBY,
            "After watch: a public lobby changed (created, joined, left, ready, started, closed).",
            fields=obj({"lobby": ref("WatchedLobby")}),
        ),
        PushSpec(
            Push.WATCH_MATCH,
            "After watch: a match started (state running) or ended (state ended, playing 0).",
            fields=obj({"match": ref("MatchSummary")}),
        ),
        PushSpec(
            Push.WATCH_SCORE,
            "After watch: a score reached a board's top 10.",
            fields=obj(
                {
                    "board": string(1),
                    "period": string(1, description="the board period's id, as lb.boards"),
                    "player_id": string(1),
                    "name": string(1),
                    "score": integer(),
                    "rank": integer(1, description="1-based"),
                }
            ),
        ),
        PushSpec(
            Push.WATCH_ACTIVITY,
            "After watch: a new activity-feed entry, as feed.global has it.",
            fields=obj({"entry": ref("ActivityEntry")}),
        ),
    ),
    shapes={"WatchedLobby": WATCHED_LOBBY},
)
