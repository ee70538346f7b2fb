"""chat.join, chat.leave, chat.send, chat.history, feed.global, notify.list, notify.ack."""

from __future__ import annotations

from server.errors import BadRequest
from server.handlers.base import Handler, OpContext, Request, feed_entries
from server.protocol import Message, Op
from server.services.activity import LIMIT_MAX as ACTIVITY_LIMIT_MAX
from server.services.chat import HISTORY_MAX, ROOM, ROOM_RULE, TEXT_RAW_MAX
from server.services.notifications import LIST_MAX as NOTES_LIST_MAX

ROOMS_PER_SOCKET = 16
ROOM_MAX_LEN = 48
# A notification id as notify.ack takes it: a feed id, "<ms>-<seq>" (server.feed_ids).
NOTE_ID_MIN, NOTE_ID_MAX = 3, 41


async def chat_join(ctx: OpContext, req: Request) -> Message:
    room = req.string("room", min_len=1, max_len=ROOM_MAX_LEN)
    chat = ctx.services.chat
    rooms = ctx.channels.joined()
    if chat.channel(room) not in rooms and len(rooms) >= ROOMS_PER_SOCKET:
        raise BadRequest(f"room: at most {ROOMS_PER_SOCKET} rooms per socket; leave one first")
    await ctx.channels.join(await chat.join(ctx.player_id, room))
    return {}


async def chat_leave(ctx: OpContext, req: Request) -> Message:
    room = req.string("room", min_len=1, max_len=ROOM_MAX_LEN)
    if not ROOM.match(room):
        raise BadRequest(ROOM_RULE)
    await ctx.channels.leave(ctx.services.chat.channel(room))
    return {}


async def chat_send(ctx: OpContext, req: Request) -> Message:
    message_id = await ctx.services.chat.send(
        ctx.player_id,
        ctx.player_name,
        req.string("room", min_len=1, max_len=ROOM_MAX_LEN),
        req.string("text", min_len=1, max_len=TEXT_RAW_MAX),  # TEXT_MAX once normalised
    )
    return {"id": message_id}


async def chat_history(ctx: OpContext, req: Request) -> Message:
    entries = await ctx.services.chat.history(
        ctx.player_id,
        req.string("room", min_len=1, max_len=ROOM_MAX_LEN),
        req.integer("limit", min_value=1, max_value=HISTORY_MAX, default=50),
    )
    return {"messages": feed_entries(entries, req.format)}


async def feed_global(ctx: OpContext, req: Request) -> Message:
    limit = req.integer("limit", min_value=1, max_value=ACTIVITY_LIMIT_MAX, default=20)
    return {"entries": await ctx.services.activity.recent(limit)}


async def notify_list(ctx: OpContext, req: Request) -> Message:
    limit = req.integer("limit", min_value=1, max_value=NOTES_LIST_MAX, default=NOTES_LIST_MAX)
    entries = await ctx.services.notifications.pending(ctx.player_id, limit)
    return {"notes": feed_entries(entries, req.format)}


async def notify_ack(ctx: OpContext, req: Request) -> Message:
    await ctx.services.notifications.ack(
        ctx.player_id, req.string("id", min_len=NOTE_ID_MIN, max_len=NOTE_ID_MAX)
    )
    return {}


SOCIAL_HANDLERS: dict[str, Handler] = {
    Op.CHAT_JOIN: chat_join,
    Op.CHAT_LEAVE: chat_leave,
    Op.CHAT_SEND: chat_send,
    Op.CHAT_HISTORY: chat_history,
    Op.FEED_GLOBAL: feed_global,
    Op.NOTIFY_LIST: notify_list,
    Op.NOTIFY_ACK: notify_ack,
}
