"""match.send, match.feed, match.leave, match.result, match.list, match.current, and
for server-run games match.input, match.create and match.join."""

from __future__ import annotations

from server.errors import BadRequest
from server.handlers.base import Handler, OpContext, Request, feed_entries
from server.protocol import Message, Op
from server.services.matches import FEED_LIMIT_MAX

MATCH_LIST_MAX = 100
# The bound a match id, an event type or a mode name is checked against before the
# services' own rules (each 1 to 32 characters of its own alphabet).
SHORT_MAX = 32
# The longest ``after`` taken: two parts of up to 20 digits (2^64 - 1) and the dash.
FEED_ID_MAX_LEN = 41


async def match_send(ctx: OpContext, req: Request) -> Message:
    entry_id = await ctx.services.matches.send(
        ctx.player_id,
        req.string("match_id", min_len=1, max_len=SHORT_MAX),
        req.string("type", min_len=1, max_len=SHORT_MAX),
        req.fields.get("data"),
    )
    return {"id": entry_id}


async def match_feed(ctx: OpContext, req: Request) -> Message:
    keyframe = req.flag("keyframe", default=False)
    if keyframe and req.fields.get("after") is not None:
        raise BadRequest("after: not with keyframe (which reads from the last keyframe)")
    entries = await ctx.services.matches.feed(
        ctx.player_id,
        req.string("match_id", min_len=1, max_len=SHORT_MAX),
        req.optional_string("after", max_len=FEED_ID_MAX_LEN),
        req.integer("limit", min_value=1, max_value=FEED_LIMIT_MAX, default=100),
        keyframe=keyframe,
    )
    return {"events": feed_entries(entries, req.format)}


async def match_leave(ctx: OpContext, req: Request) -> Message:
    match_id = req.string("match_id", min_len=1, max_len=SHORT_MAX)
    await ctx.services.matches.leave(ctx.player_id, match_id)
    await ctx.channels.leave(ctx.services.matches.channel(match_id))
    await ctx.channels.leave(ctx.services.chat.match_room_channel(match_id))
    return {}


async def match_result(ctx: OpContext, req: Request) -> Message:
    match = await ctx.services.matches.report_result(
        req.string("match_id", min_len=1, max_len=SHORT_MAX),
        req.fields.get("scores"),
        reported_by=ctx.player_id,
    )
    # "running": the report is kept until the players agree (the mode's consensus).
    return {"match_id": match.match_id, "state": match.state, "reported": True}


async def match_list(ctx: OpContext, req: Request) -> Message:
    limit = req.integer("limit", min_value=1, max_value=MATCH_LIST_MAX, default=20)
    matches = await ctx.services.hosted.listing(
        ctx.player_id,
        limit,
        req.optional_string("mode", max_len=SHORT_MAX),
        req.fields.get("label"),
        req.flag("open", default=False),
    )
    return {"matches": matches}


async def match_current(ctx: OpContext, req: Request) -> Message:
    return {"match": await ctx.services.hosted.current_of(ctx.player_id)}


async def match_input(ctx: OpContext, req: Request) -> Message:
    input_id = await ctx.services.hosted.input(
        ctx.player_id,
        req.string("match_id", min_len=1, max_len=SHORT_MAX),
        req.string("type", min_len=1, max_len=SHORT_MAX),
        req.fields.get("data"),
    )
    return {"id": input_id}


async def match_sync(ctx: OpContext, req: Request) -> Message:
    match_id = req.string("match_id", min_len=1, max_len=SHORT_MAX)
    return {"id": await ctx.services.hosted.sync(ctx.player_id, match_id)}


async def match_create(ctx: OpContext, req: Request) -> Message:
    match = await ctx.services.hosted.create(
        ctx.player_id, req.string("mode", min_len=1, max_len=SHORT_MAX), req.fields.get("params")
    )
    return {"match": match}


async def match_join(ctx: OpContext, req: Request) -> Message:
    match_id = req.string("match_id", min_len=1, max_len=SHORT_MAX)
    state = await ctx.services.hosted.join(ctx.player_id, match_id, req.fields.get("meta"))
    return {"match_id": match_id, "state": state}


MATCH_HANDLERS: dict[str, Handler] = {
    Op.MATCH_LIST: match_list,
    Op.MATCH_CURRENT: match_current,
    Op.MATCH_SEND: match_send,
    Op.MATCH_FEED: match_feed,
    Op.MATCH_LEAVE: match_leave,
    Op.MATCH_RESULT: match_result,
    Op.MATCH_INPUT: match_input,
    Op.MATCH_CREATE: match_create,
    Op.MATCH_JOIN: match_join,
    Op.MATCH_SYNC: match_sync,
}
