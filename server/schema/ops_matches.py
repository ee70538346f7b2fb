"""The matches part of the protocol: every match.* op (relayed and server-run), and the
match.* pushes (``server.schema.match_pushes``), with the shapes a match is shown in."""

from __future__ import annotations

from server.handlers.matches import FEED_ID_MAX_LEN, MATCH_LIST_MAX, SHORT_MAX
from server.modes import MODE_NAME
from server.protocol import FEED_PAGE_MAX, ErrorCode, Op
from server.schema.build import (
    JsonSchema,
    anything,
    array,
    boolean,
    const,
    integer,
    mapping,
    nullable,
    number,
    obj,
    one_of,
    ref,
    string,
)
from server.schema.match_pushes import (
    FEED_ID,
    GAME_DATA,
    MATCH_FEED_ENTRY,
    MATCH_ID_FIELD,
    MATCH_PUSHES,
    PLAYER_IDS,
    SCORES_REPORTED,
)
from server.schema.spec import Area, OpSpec
from server.services.hosted_matches import LABEL_KEY, META_MAX_BYTES
from server.services.matches import DATA_MAX_BYTES, EVENT_TYPE, FEED_LIMIT_MAX

MODE = string(pattern=MODE_NAME.pattern, description="A game mode's name.")
EVENT_TYPE_FIELD = string(pattern=EVENT_TYPE.pattern, description="1 to 32 of A-Z a-z 0-9 _ . : -")
FEED_ID_SENT = string(1, FEED_ID_MAX_LEN, pattern=FEED_ID["pattern"])
STATE = string(enum=["running", "ended"])
LABEL = mapping(anything("A value the game set."), description="What the game labelled it with.")

# A match as match.list, match.create and watch.match show it (match_shapes.match_wire).
MATCH_SUMMARY_FIELDS: dict[str, JsonSchema] = {
    "match_id": MATCH_ID_FIELD,
    "mode": string(),
    "players": integer(0, description="The roster's size."),
    "playing": integer(0, description="Players who have not left."),
    "started_ms": integer(0, description="Unix time in ms."),
    "state": STATE,
    "authoritative": boolean("The server runs its game."),
}

INPUT_ID = {**FEED_ID, "description": "The stored input's id (in the match's input stream)."}

RELAYED_ONLY = "FORBIDDEN: a server-run match (send match.input)."
HOSTED_ONLY = "FORBIDDEN: a relayed match."

MATCHES = Area(
    name="matches",
    shapes={
        "MatchSummary": obj(
            MATCH_SUMMARY_FIELDS,
            {"label": {**LABEL, "description": "match.list with a filter: the game's label."}},
            description="A match as match.list shows it.",
        ),
        "MatchCurrent": obj(
            {**MATCH_SUMMARY_FIELDS, "roster": {**PLAYER_IDS, "description": "In lobby order."}},
            {
                "host": nullable(string(description="The node running its game.")),
                "epoch": nullable(integer(1, description="The host's lease epoch.")),
            },
            description="The running match you are in; host and epoch for a server-run one "
            "(null while no node runs it).",
        ),
        "MatchFeedEntry": MATCH_FEED_ENTRY,
    },
    ops=(
        OpSpec(
            Op.MATCH_SEND,
            "Send an event to every player of your relayed match, you included.",
            request=obj(
                {"match_id": MATCH_ID_FIELD, "type": EVENT_TYPE_FIELD},
                {"data": GAME_DATA},
            ),
            result=obj({"id": {**FEED_ID, "description": "The event's feed id."}}),
            errors=(ErrorCode.NOT_IN_MATCH, ErrorCode.MATCH_ENDED, ErrorCode.FORBIDDEN),
            description="Send it without rid (fire-and-forget): your own match.event echo is "
            "the acknowledgement. " + RELAYED_ONLY,
        ),
        OpSpec(
            Op.MATCH_FEED,
            "The match's pushes after a feed id (or from the last keyframe), oldest first.",
            request=obj(
                {"match_id": MATCH_ID_FIELD},
                {
                    "after": nullable(
                        {**FEED_ID_SENT, "description": "Absent: from the oldest kept."}
                    ),
                    "keyframe": boolean(
                        "From the newest synced-state keyframe you may see (not with after)."
                    ),
                    "limit": integer(1, FEED_LIMIT_MAX, description="Default 100."),
                },
            ),
            result=obj(
                {"events": array(ref("MatchFeedEntry"), max_items=FEED_PAGE_MAX)},
            ),
            errors=(ErrorCode.NOT_IN_MATCH, ErrorCode.FEED_TRIMMED),
            description="Page by asking again after the last id until fewer than limit "
            "come back. Players may read it after leaving or after the end (for an hour).",
        ),
        OpSpec(
            Op.MATCH_LEAVE,
            "Leave the match: its events and its chat room stop.",
            request=obj({"match_id": MATCH_ID_FIELD}),
            errors=(ErrorCode.NOT_IN_MATCH,),
        ),
        OpSpec(
            Op.MATCH_RESULT,
            "Report the match's result, as the mode's results policy takes it.",
            request=obj({"match_id": MATCH_ID_FIELD, "scores": SCORES_REPORTED}),
            result=obj(
                {
                    "match_id": MATCH_ID_FIELD,
                    "state": {**STATE, "description": "Whether the match has ended by now."},
                    "reported": const(True),
                }
            ),
            errors=(ErrorCode.NOT_IN_MATCH, ErrorCode.MATCH_ENDED, ErrorCode.FORBIDDEN),
            description="FORBIDDEN: a mode whose results come from the server.",
        ),
        OpSpec(
            Op.MATCH_LIST,
            "Running matches, newest first; filters for server-run ones.",
            request=obj(
                optional={
                    "limit": integer(1, MATCH_LIST_MAX, description="Default 20."),
                    "mode": nullable(string(1, SHORT_MAX)),
                    "label": nullable(
                        {
                            **mapping(
                                one_of(
                                    string(),
                                    number(),
                                    boolean(),
                                    {
                                        **obj(optional={"min": number(), "max": number()}),
                                        "minProperties": 1,
                                    },
                                )
                            ),
                            "propertyNames": {"pattern": LABEL_KEY.pattern},
                            "description": "Equal to each string, number or boolean, or "
                            "within {min?, max?}.",
                        }
                    ),
                    "open": boolean("Only those with fewer players than the mode's capacity."),
                }
            ),
            result=obj({"matches": array(ref("MatchSummary"), max_items=MATCH_LIST_MAX)}),
        ),
        OpSpec(
            Op.MATCH_CURRENT,
            "The running match you are in, or null.",
            result=obj({"match": nullable(ref("MatchCurrent"))}),
        ),
        OpSpec(
            Op.MATCH_INPUT,
            "An input for the server-run game's next tick.",
            request=obj(
                {"match_id": MATCH_ID_FIELD, "type": EVENT_TYPE_FIELD},
                {"data": GAME_DATA},
            ),
            result=obj({"id": INPUT_ID}),
            errors=(ErrorCode.NOT_IN_MATCH, ErrorCode.MATCH_ENDED, ErrorCode.FORBIDDEN),
            description="The reply (with a rid) comes once the input is stored: it is "
            "applied at a coming tick, once. " + HOSTED_ONLY,
        ),
        OpSpec(
            Op.MATCH_SYNC,
            "Ask for a keyframe of the synced state (match.state at the next tick).",
            request=obj({"match_id": MATCH_ID_FIELD}),
            result=obj({"id": INPUT_ID}),
            errors=(ErrorCode.NOT_IN_MATCH, ErrorCode.MATCH_ENDED, ErrorCode.FORBIDDEN),
            description="Counts as an input (its rate). " + HOSTED_ONLY,
        ),
        OpSpec(
            Op.MATCH_CREATE,
            "Start a server-run match with you alone in it (a mode with create).",
            request=obj(
                {"mode": MODE},
                {
                    "params": nullable(
                        mapping(
                            anything("Checked by the game's init."),
                            description=f"Only the mode's create_params keys; at most "
                            f"{DATA_MAX_BYTES} bytes msgpack.",
                        )
                    )
                },
            ),
            result=obj({"match": ref("MatchSummary")}),
            errors=(ErrorCode.FORBIDDEN,),
            description="match.started follows. FORBIDDEN: the mode has no create.",
        ),
        OpSpec(
            Op.MATCH_JOIN,
            "Ask a server-run match's game to take you in.",
            request=obj(
                {"match_id": MATCH_ID_FIELD},
                {
                    "meta": nullable(
                        mapping(
                            anything("Checked by the game's join_attempt."),
                            description=f"At most {META_MAX_BYTES} bytes msgpack.",
                        )
                    )
                },
            ),
            result=obj(
                {
                    "match_id": MATCH_ID_FIELD,
                    "state": string(
                        enum=["asked", "joined"],
                        description="asked: match.started or match.refused follows; "
                        "joined: you are in it already.",
                    ),
                }
            ),
            errors=(
                ErrorCode.NOT_FOUND,
                ErrorCode.MATCH_ENDED,
                ErrorCode.MATCH_FULL,
                ErrorCode.FORBIDDEN,
            ),
            description="FORBIDDEN: a relayed match (join through its lobby).",
        ),
    ),
    pushes=MATCH_PUSHES,
)
