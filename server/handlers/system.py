"""ping, session.get, presence.get, stats.get, watch."""

from __future__ import annotations

import time

from server.handlers.base import Handler, OpContext, Request
from server.protocol import Message, Op

PRESENCE_IDS_MAX = 100  # player ids one presence.get may name
PLAYER_ID_MAX = 64


async def ping(ctx: OpContext, req: Request) -> Message:
    return {"server_time_ms": int(time.time() * 1000)}


async def session_get(ctx: OpContext, req: Request) -> Message:
    return await ctx.services.sessions.describe(ctx.session_hash)


async def presence_get(ctx: OpContext, req: Request) -> Message:
    player_ids = req.string_list("player_ids", max_items=PRESENCE_IDS_MAX, max_len=PLAYER_ID_MAX)
    online, players = await ctx.services.presence.lookup(player_ids)
    return {"online": online, "players": players}


async def stats_get(ctx: OpContext, req: Request) -> Message:
    return (await ctx.services.stats.snapshot()).as_wire()


async def watch(ctx: OpContext, req: Request) -> Message:
    """From now on, this socket gets the game-wide watch.* pushes (see protocol.md)."""
    await ctx.channels.join(ctx.services.watch.channel)
    return {}


SYSTEM_HANDLERS: dict[str, Handler] = {
    Op.PING: ping,
    Op.SESSION_GET: session_get,
    Op.PRESENCE_GET: presence_get,
    Op.STATS_GET: stats_get,
    Op.WATCH: watch,
}
