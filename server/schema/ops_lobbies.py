"""The lobbies part of the protocol: lobby.* ops, lobby.updated and lobby.closed, and the
one shape a lobby has in replies and pushes (``server.services.lobby_news.lobby_wire``)."""

from __future__ import annotations

from server.handlers.lobbies import LIST_MAX
from server.protocol import ErrorCode, Op, Push
from server.schema.build import (
    JsonSchema,
    array,
    boolean,
    integer,
    nullable,
    obj,
    ref,
    string,
)
from server.schema.spec import Area, OpSpec, PushSpec
from server.services.lobbies import CAPACITY_MAX, CAPACITY_MIN, LOBBY_ID, MODE, NAME_MAX
from server.services.lobby_news import Removal

# 2^53 - 1: what every client's numbers hold exactly (a lobby's rev stays below it).
SAFE_INT_MAX = 2**53 - 1


def mode_name(description: str | None = None) -> JsonSchema:
    """A mode's name as lobbies and matches check it (``ARENA_MODES`` defines its rules)."""
    return string(pattern=MODE.pattern, description=description or "A game mode's name.")


LOBBY_ID_FIELD = string(pattern=LOBBY_ID.pattern, description="A lobby's id: 12 hex characters.")

# A lobby's fields (lobby_wire): watch.lobby adds its status to them.
LOBBY_FIELDS: dict[str, JsonSchema] = {
    "lobby_id": LOBBY_ID_FIELD,
    "mode": mode_name(),
    "name": string(1, NAME_MAX),
    "capacity": integer(CAPACITY_MIN, CAPACITY_MAX, description="Its seats."),
    "private": boolean("Not listed; joined by its id only."),
    "owner": string(description="The owner's player id."),
    "members": array(
        obj(
            {
                "player_id": string(),
                "name": string(description="The player's display name."),
                "ready": boolean(),
            }
        ),
        max_items=CAPACITY_MAX,
        description="In the order they sat down.",
    ),
    "rev": integer(
        0,
        SAFE_INT_MAX,
        description="Grows with every change of this lobby: ignore a lobby.updated whose "
        "rev is lower than the one you hold (a late copy).",
    ),
}

LOBBY = obj(
    LOBBY_FIELDS,
    description="A lobby, whole: every reply and push that carries one carries all of it.",
)

LOBBY_REPLY = obj({"lobby": ref("Lobby")})

LOBBIES = Area(
    name="lobbies",
    shapes={"Lobby": LOBBY},
    ops=(
        OpSpec(
            Op.LOBBY_CREATE,
            "Open a lobby: you are its owner and first member.",
            request=obj(
                {"mode": mode_name()},
                {
                    "capacity": nullable(
                        integer(
                            CAPACITY_MIN,
                            CAPACITY_MAX,
                            description="At most the mode's capacity (ARENA_MODES), which "
                            "is also the default.",
                        )
                    ),
                    "name": nullable(
                        string(
                            1,
                            4 * NAME_MAX,
                            description=f"1 to {NAME_MAX} characters once normalised (the "
                            'text rules); default "NAME\'s lobby".',
                        )
                    ),
                    "private": boolean("Unlisted (default false)."),
                },
            ),
            result=LOBBY_REPLY,
            errors=(ErrorCode.ALREADY_IN_LOBBY, ErrorCode.LOCK_TIMEOUT),
        ),
        OpSpec(
            Op.LOBBY_LIST,
            "Open public lobbies with a free seat, fullest first.",
            request=obj(
                optional={
                    "mode": nullable(mode_name("Only this mode's lobbies.")),
                    "limit": integer(1, LIST_MAX, description="Default 20."),
                }
            ),
            result=obj({"lobbies": array(ref("Lobby"), max_items=LIST_MAX)}),
        ),
        OpSpec(
            Op.LOBBY_GET,
            "One lobby by its id (a private one too: its id is its invitation).",
            request=obj({"lobby_id": LOBBY_ID_FIELD}),
            result=LOBBY_REPLY,
            errors=(ErrorCode.LOBBY_NOT_FOUND,),
        ),
        OpSpec(
            Op.LOBBY_JOIN,
            "Take a seat in a lobby.",
            request=obj({"lobby_id": LOBBY_ID_FIELD}),
            result=LOBBY_REPLY,
            errors=(
                ErrorCode.LOBBY_NOT_FOUND,
                ErrorCode.LOBBY_FULL,
                ErrorCode.ALREADY_IN_LOBBY,
                ErrorCode.LOCK_TIMEOUT,
            ),
            description="Joining the lobby you already sit in returns it (and its members get "
            "lobby.updated again); a retry after LOCK_TIMEOUT finishes a start it began.",
        ),
        OpSpec(
            Op.LOBBY_LEAVE,
            "Leave your lobby (and its chat room).",
            errors=(ErrorCode.NOT_IN_LOBBY,),
            description="The owner leaving hands the lobby to the longest-seated member; the "
            "last member leaving closes it.",
        ),
        OpSpec(
            Op.LOBBY_READY,
            "Say you are ready (or not); when every member is, the match starts.",
            request=obj({"ready": boolean()}),
            result=obj(
                {
                    "lobby": ref("Lobby"),
                    "match_id": nullable(
                        string(
                            description="The match this ready started (or, sent again after "
                            "a failure, the one it started); null when none."
                        )
                    ),
                }
            ),
            errors=(ErrorCode.NOT_IN_LOBBY, ErrorCode.LOCK_TIMEOUT),
        ),
        OpSpec(
            Op.LOBBY_QUICKJOIN,
            "A seat in the fullest open public lobby of a mode, or a new lobby.",
            request=obj({"mode": mode_name()}),
            result=LOBBY_REPLY,
            errors=(ErrorCode.ALREADY_IN_LOBBY, ErrorCode.LOCK_TIMEOUT),
        ),
    ),
    pushes=(
        PushSpec(
            Push.LOBBY_UPDATED,
            "The lobby you sit in changed (joins, leaves, ready flags, a new owner); also "
            "re-sent after a server node's pub/sub gap.",
            fields=obj({"lobby": ref("Lobby")}),
            description="State, not news: replace yours with it unless its rev is lower.",
        ),
        PushSpec(
            Push.LOBBY_CLOSED,
            "The lobby is closed for you and your seat is free.",
            fields=obj(
                {
                    "lobby_id": LOBBY_ID_FIELD,
                    "reason": string(
                        enum=["admin", *(str(why) for why in Removal)],
                        description="admin: an operator closed the lobby; seat_lapsed: your "
                        "seat lapsed; kicked, banned: an operator took you out.",
                    ),
                }
            ),
            description="May come twice (re-sent after a node's pub/sub gap): check its "
            "lobby_id against the lobby you show.",
        ),
    ),
)
