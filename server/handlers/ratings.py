"""rating.get."""

from __future__ import annotations

from server.handlers.base import Handler, OpContext, Request
from server.protocol import Message, Op

MODE_MAX = 32


async def rating_get(ctx: OpContext, req: Request) -> Message:
    mode = req.string("mode", min_len=1, max_len=MODE_MAX)
    return (await ctx.services.ratings.get(ctx.player_id, mode)).as_wire()


RATING_HANDLERS: dict[str, Handler] = {
    Op.RATING_GET: rating_get,
}
