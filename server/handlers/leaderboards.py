"""lb.submit, lb.top, lb.rank, lb.around."""

from __future__ import annotations

from server.boards import SCORE_MAX, SCORE_MIN
from server.handlers.base import Handler, OpContext, Request
from server.protocol import Message, Op, Preencoded
from server.services.leaderboards import AROUND_RADIUS_MAX, OFFSET_MAX, TOP_LIMIT_MAX

BOARD_MAX = 40  # a configured board's id (32), or a rating board's: "ratings:" + a mode
PERIOD_MAX = 16
PLAYER_ID_MAX = 64


def _board(req: Request) -> str:
    return req.string("board", min_len=1, max_len=BOARD_MAX)


async def lb_submit(ctx: OpContext, req: Request) -> Message:
    board = _board(req)
    score = req.integer("score", min_value=SCORE_MIN, max_value=SCORE_MAX)
    result = await ctx.services.leaderboards.submit(ctx.player_id, ctx.player_name, board, score)
    return {"score": result.score, "rank": result.rank, "improved": result.improved}


async def lb_top(ctx: OpContext, req: Request) -> Message:
    page = await ctx.services.leaderboards.top_page(
        _board(req),
        limit=req.integer("limit", min_value=1, max_value=TOP_LIMIT_MAX, default=10),
        offset=req.integer("offset", min_value=0, max_value=OFFSET_MAX, default=0),
        period=req.optional_string("period", max_len=PERIOD_MAX),
        fmt=req.format,
    )
    return {"entries": Preencoded(page)}


async def lb_rank(ctx: OpContext, req: Request) -> Message:
    entry = await ctx.services.leaderboards.rank(
        _board(req),
        req.optional_string("player_id", max_len=PLAYER_ID_MAX) or ctx.player_id,
        period=req.optional_string("period", max_len=PERIOD_MAX),
    )
    return {"rank": entry.rank, "score": entry.score}


async def lb_around(ctx: OpContext, req: Request) -> Message:
    entries = await ctx.services.leaderboards.around(
        _board(req),
        req.optional_string("player_id", max_len=PLAYER_ID_MAX) or ctx.player_id,
        radius=req.integer("radius", min_value=0, max_value=AROUND_RADIUS_MAX, default=5),
        period=req.optional_string("period", max_len=PERIOD_MAX),
    )
    return {"entries": [entry.as_wire() for entry in entries]}


async def lb_boards(ctx: OpContext, req: Request) -> Message:
    return {
        "boards": [
            {
                "id": b.id,
                "order": b.order,
                "operator": b.operator,
                "period": b.period,
                "writers": b.writers,
                "current": ctx.services.leaderboards.current_period(b),
            }
            for b in ctx.services.leaderboards.boards
        ]
    }


LEADERBOARD_HANDLERS: dict[str, Handler] = {
    Op.LB_BOARDS: lb_boards,
    Op.LB_SUBMIT: lb_submit,
    Op.LB_TOP: lb_top,
    Op.LB_RANK: lb_rank,
    Op.LB_AROUND: lb_around,
}
