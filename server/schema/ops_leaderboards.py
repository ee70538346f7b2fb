"""lb.boards, lb.submit, lb.top, lb.rank, lb.around, and rating.get (a mode's rating is
what its rating board ranks)."""

from __future__ import annotations

from server.boards import SCORE_MAX, SCORE_MIN, Operator, Order, Period, Writers
from server.handlers.leaderboards import BOARD_MAX, PERIOD_MAX, PLAYER_ID_MAX
from server.handlers.ratings import MODE_MAX
from server.modes import MODE_NAME
from server.protocol import ErrorCode, Op
from server.schema.build import (
    JsonSchema,
    array,
    boolean,
    integer,
    nullable,
    number,
    obj,
    ref,
    string,
)
from server.schema.spec import Area, OpSpec
from server.services.leaderboards import AROUND_RADIUS_MAX, OFFSET_MAX, TOP_LIMIT_MAX

_BOARD = string(1, BOARD_MAX, description="a board's id, or a rating board's: ratings:<mode>")
_PERIOD = nullable(
    string(
        1,
        PERIOD_MAX,
        description=(
            '"current" (the default), "previous", or a period id: 2026-11-26 (daily), '
            "2026-W48 (weekly), 2026-11 (monthly); all-time boards take only current"
        ),
    )
)
_PLAYER = nullable(string(1, PLAYER_ID_MAX, description="whose rank; default: yourself"))
_SCORE = integer(SCORE_MIN, SCORE_MAX)
_ENTRIES = obj({"entries": array(ref("LbEntry"))})

RATING_FIELDS: dict[str, JsonSchema] = {
    "mu": number("skill estimate, rounded to 2 decimals (1500 for a new player)"),
    "sigma": number("its uncertainty, rounded to 2 decimals (500 for a new player)"),
    "display": integer(description="mu - 3 sigma, rounded: what rating boards rank"),
    "games": integer(0, description="rated matches played in the mode"),
}

SHAPES: dict[str, JsonSchema] = {
    "LbEntry": obj(
        {
            "rank": integer(1, description="1-based"),
            "player_id": string(1),
            "name": string(1, description="the player's name (now; a past period's: then)"),
            "score": _SCORE,
        },
        description="One player's standing on a board period.",
    ),
    "LbBoard": obj(
        {
            "id": string(1, BOARD_MAX),
            "order": string(enum=Order, description="desc: higher is better"),
            "operator": string(enum=Operator, description="how a submit meets the old score"),
            "period": string(enum=Period),
            "writers": string(enum=Writers, description="server: lb.submit is FORBIDDEN"),
            "current": string(
                1, description="the period now: all (all-time), 2026-11-26, 2026-W48, 2026-11"
            ),
        },
        description="A board as ARENA_BOARDS configures it (and the modes' rating boards).",
    ),
    "Rating": obj(RATING_FIELDS, description="A player's rating in one mode."),
}

LEADERBOARDS = Area(
    name="leaderboards",
    ops=(
        OpSpec(
            Op.LB_BOARDS,
            "The boards: configured ones, and the rating boards of the configured modes.",
            result=obj({"boards": array(ref("LbBoard"))}),
        ),
        OpSpec(
            Op.LB_SUBMIT,
            "Submit a score to a board players write.",
            request=obj({"board": _BOARD, "score": _SCORE}),
            result=obj(
                {
                    "score": integer(description="the stored score after the board's operator"),
                    "rank": integer(1, description="the player's 1-based rank"),
                    "improved": boolean("whether the stored score got better"),
                }
            ),
            errors=(ErrorCode.UNKNOWN_BOARD, ErrorCode.FORBIDDEN),
            description=(
                "Rate-limited per player (lb.submit), counted before anything else is "
                "checked. FORBIDDEN on a board whose writers are the server (rating boards "
                "too); an incr whose total would leave the score range is BAD_REQUEST."
            ),
        ),
        OpSpec(
            Op.LB_TOP,
            "A page of a board period's top, from a cache at most about 1 s old.",
            request=obj(
                {"board": _BOARD},
                {
                    "limit": integer(1, TOP_LIMIT_MAX, description="default 10"),
                    "offset": integer(0, OFFSET_MAX, description="default 0"),
                    "period": _PERIOD,
                },
            ),
            result=_ENTRIES,
            errors=(ErrorCode.UNKNOWN_BOARD,),
            description="Ranks from offset + 1; an empty list past the end.",
        ),
        OpSpec(
            Op.LB_RANK,
            "A player's rank and score on a board period.",
            request=obj({"board": _BOARD}, {"player_id": _PLAYER, "period": _PERIOD}),
            result=obj({"rank": integer(1, description="1-based"), "score": _SCORE}),
            errors=(ErrorCode.UNKNOWN_BOARD, ErrorCode.NOT_RANKED),
            description="NOT_RANKED when the player has no score on that board period.",
        ),
        OpSpec(
            Op.LB_AROUND,
            "A player with up to radius neighbours above and below.",
            request=obj(
                {"board": _BOARD},
                {
                    "player_id": _PLAYER,
                    "radius": integer(0, AROUND_RADIUS_MAX, description="default 5"),
                    "period": _PERIOD,
                },
            ),
            result=_ENTRIES,
            errors=(ErrorCode.UNKNOWN_BOARD, ErrorCode.NOT_RANKED),
        ),
        OpSpec(
            Op.RATING_GET,
            "Your rating in a mode (a new player's when never rated in it).",
            request=obj({"mode": string(1, MODE_MAX, pattern=MODE_NAME.pattern)}),
            result=obj(RATING_FIELDS),
            description="Not rate-limited: one read.",
        ),
    ),
    shapes=SHAPES,
)
