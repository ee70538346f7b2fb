"""party.create, party.invite, party.join, party.leave, party.kick, party.promote,
party.close."""

from __future__ import annotations

from server.handlers.base import Handler, OpContext, Request
from server.protocol import Message, Op
from server.services.parties import MAX_SIZE_MAX, MAX_SIZE_MIN
from server.services.party_news import party_wire

PLAYER_ID_MAX = 64
PARTY_ID_MAX = 32


async def party_create(ctx: OpContext, req: Request) -> Message:
    party = await ctx.services.parties.create(
        ctx.player_id,
        ctx.player_name,
        is_open=req.flag("open", default=False),
        max_size=req.integer(
            "max_size", min_value=MAX_SIZE_MIN, max_value=MAX_SIZE_MAX, default=MAX_SIZE_MAX
        ),
    )
    return {"party": party_wire(party)}


async def party_invite(ctx: OpContext, req: Request) -> Message:
    party = await ctx.services.parties.invite(
        ctx.player_id,
        ctx.player_name,
        req.string("player_id", min_len=1, max_len=PLAYER_ID_MAX),
    )
    return {"party": party_wire(party)}


async def party_join(ctx: OpContext, req: Request) -> Message:
    party = await ctx.services.parties.join(
        ctx.player_id,
        ctx.player_name,
        req.string("party_id", min_len=1, max_len=PARTY_ID_MAX),
    )
    return {"party": party_wire(party)}


async def party_leave(ctx: OpContext, req: Request) -> Message:
    party_id = await ctx.services.parties.leave(ctx.player_id)
    # No longer a member: the socket stops hearing the party's room too.
    await ctx.channels.leave(ctx.services.chat.party_room_channel(party_id))
    return {"party_id": party_id}


async def party_kick(ctx: OpContext, req: Request) -> Message:
    party = await ctx.services.parties.kick(
        ctx.player_id, req.string("player_id", min_len=1, max_len=PLAYER_ID_MAX)
    )
    return {"party": None if party is None else party_wire(party)}


async def party_promote(ctx: OpContext, req: Request) -> Message:
    party = await ctx.services.parties.promote(
        ctx.player_id, req.string("player_id", min_len=1, max_len=PLAYER_ID_MAX)
    )
    return {"party": party_wire(party)}


async def party_close(ctx: OpContext, req: Request) -> Message:
    party_id = await ctx.services.parties.close(ctx.player_id)
    await ctx.channels.leave(ctx.services.chat.party_room_channel(party_id))
    return {"party_id": party_id}


PARTY_HANDLERS: dict[str, Handler] = {
    Op.PARTY_CREATE: party_create,
    Op.PARTY_INVITE: party_invite,
    Op.PARTY_JOIN: party_join,
    Op.PARTY_LEAVE: party_leave,
    Op.PARTY_KICK: party_kick,
    Op.PARTY_PROMOTE: party_promote,
    Op.PARTY_CLOSE: party_close,
}
