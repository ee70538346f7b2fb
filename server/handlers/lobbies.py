"""lobby.create, lobby.list, lobby.get, lobby.join, lobby.leave, lobby.ready, lobby.quickjoin."""

from __future__ import annotations

from server.handlers.base import Handler, OpContext, Request
from server.protocol import Message, Op
from server.services.lobbies import CAPACITY_MAX, CAPACITY_MIN, NAME_MAX
from server.services.lobby_news import lobby_wire

LIST_MAX = 50


async def lobby_create(ctx: OpContext, req: Request) -> Message:
    # Optional: the mode's capacity (ARENA_MODES) by default, and at most.
    capacity = (
        None
        if req.fields.get("capacity") is None
        else req.integer("capacity", min_value=CAPACITY_MIN, max_value=CAPACITY_MAX)
    )
    lobby = await ctx.services.lobbies.create(
        ctx.player_id,
        ctx.player_name,
        mode=req.string("mode", min_len=1, max_len=32),
        capacity=capacity,
        # The bound is checked again after normalising (NFC may shorten what was typed).
        name=req.optional_string("name", max_len=4 * NAME_MAX),
        private=req.flag("private", default=False),
    )
    return {"lobby": lobby_wire(lobby)}


async def lobby_list(ctx: OpContext, req: Request) -> Message:
    lobbies = await ctx.services.lobbies.list_open(
        req.optional_string("mode", max_len=32),
        req.integer("limit", min_value=1, max_value=LIST_MAX, default=20),
    )
    return {"lobbies": [lobby_wire(lobby) for lobby in lobbies]}


async def lobby_get(ctx: OpContext, req: Request) -> Message:
    lobby = await ctx.services.lobbies.get(
        ctx.player_id, req.string("lobby_id", min_len=1, max_len=32)
    )
    return {"lobby": lobby_wire(lobby)}


async def lobby_join(ctx: OpContext, req: Request) -> Message:
    lobby = await ctx.services.lobbies.join(
        ctx.player_id, ctx.player_name, req.string("lobby_id", min_len=1, max_len=32)
    )
    return {"lobby": lobby_wire(lobby)}


async def lobby_leave(ctx: OpContext, req: Request) -> Message:
    lobby_id = await ctx.services.lobbies.leave(ctx.player_id)
    # No longer a member: the socket stops hearing the lobby's room too.
    await ctx.channels.leave(ctx.services.chat.lobby_room_channel(lobby_id))
    return {}


async def lobby_ready(ctx: OpContext, req: Request) -> Message:
    lobby = await ctx.services.lobbies.ready(ctx.player_id, req.flag("ready"))
    return {"lobby": lobby_wire(lobby), "match_id": lobby.match_id or None}


async def lobby_quickjoin(ctx: OpContext, req: Request) -> Message:
    lobby = await ctx.services.lobbies.quickjoin(
        ctx.player_id, ctx.player_name, req.string("mode", min_len=1, max_len=32)
    )
    return {"lobby": lobby_wire(lobby)}


LOBBY_HANDLERS: dict[str, Handler] = {
    Op.LOBBY_CREATE: lobby_create,
    Op.LOBBY_LIST: lobby_list,
    Op.LOBBY_GET: lobby_get,
    Op.LOBBY_JOIN: lobby_join,
    Op.LOBBY_LEAVE: lobby_leave,
    Op.LOBBY_READY: lobby_ready,
    Op.LOBBY_QUICKJOIN: lobby_quickjoin,
}
