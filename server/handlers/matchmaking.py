"""mm.enqueue, mm.cancel and mm.accept: the matchmaker's tickets."""

from __future__ import annotations

from server.handlers.base import Handler, OpContext, Request
from server.protocol import Message, Op

MODE_MAX = 32
TICKET_ID_MAX = 64


async def mm_enqueue(ctx: OpContext, req: Request) -> Message:
    ticket_id = await ctx.services.matchmaker.enqueue(
        ctx.player_id, req.string("mode", min_len=1, max_len=MODE_MAX), req.fields.get("properties")
    )
    return {"ticket_id": ticket_id}


async def mm_cancel(ctx: OpContext, req: Request) -> Message:
    await ctx.services.matchmaker.cancel(
        ctx.player_id, req.string("ticket_id", min_len=1, max_len=TICKET_ID_MAX)
    )
    return {}


async def mm_accept(ctx: OpContext, req: Request) -> Message:
    await ctx.services.matchmaker.accept(
        ctx.player_id, req.string("ticket_id", min_len=1, max_len=TICKET_ID_MAX)
    )
    return {}


MATCHMAKING_HANDLERS: dict[str, Handler] = {
    Op.MM_ENQUEUE: mm_enqueue,
    Op.MM_CANCEL: mm_cancel,
    Op.MM_ACCEPT: mm_accept,
}
