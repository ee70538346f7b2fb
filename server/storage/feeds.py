"""Feeds: capped Redis streams whose entries are pushes, appended and published in one step.

An entry holds one field, ``p``: the push in msgpack without its trailing ``id``
(``protocol.packed_head``). Appending it (Lua) publishes the finished push, id
included, so subscribers see the feed's order; reading it back finishes each
entry the same way, so a reply can carry the very bytes that were pushed.

Three feeds use this: a match's events, a chat room's messages, and a player's
notifications. The global activity feed is a plain capped list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack

from server.errors import FeedTrimmed
from server.feed_ids import is_feed_id, next_feed_id
from server.protocol import FeedEntry, Tell, packed_head, with_id
from server.storage import keys
from server.storage.connection import client_values, text, translate_redis_errors
from server.storage.mux import Commands
from server.storage.scripts import Scripts

CHAT_KEEP = 200
CHAT_TTL_S = 7 * 86400
# A lobby's room ends when its lobby closes or starts its match; its log stays this long
# after (as an ended match's feed does), for a late chat.history, then goes.
ROOM_ENDED_TTL_S = 3600
# The rooms that end (with their lobby, their match), by the prefix of their name.
ROOM_LOBBY = "lobby:"
ROOM_MATCH = "match:"
NOTES_KEEP = 100
NOTES_TTL_S = 30 * 86400
ACTIVITY_KEEP = 1000
SCAN_PAGE = 200  # entries read back at a time by ``from_last``


def _entries(raw: list[Any]) -> list[FeedEntry]:
    """XRANGE's reply: [[id, [field, value, ...]], ...], finished into whole pushes."""
    entries = []
    for entry_id, fields in raw:
        entry = text(entry_id)
        head = next(fields[i + 1] for i in range(0, len(fields), 2) if fields[i] == b"p")
        entries.append(FeedEntry(entry, with_id(head, entry)))
    return entries


class Feeds:
    """The generic operations on a feed; the stores below name the keys."""

    def __init__(self, mux: Commands, scripts: Scripts) -> None:
        self._mux = mux
        self._scripts = scripts

    @translate_redis_errors
    async def append(
        self,
        feed: str,
        channel: str,
        head: bytes,
        *,
        keep: int,
        ttl_s: int,
        ended_at_most_s: int = 0,
    ) -> str:
        """``ended_at_most_s``: a feed with at most this long left was ended (shortened),
        and an append leaves its expiry alone rather than lengthen it to ``ttl_s``."""
        return text(
            await self._scripts.feed_append(
                keys=[feed], args=[channel, head, keep, ttl_s, ended_at_most_s]
            )
        )

    @client_values
    async def after(self, feed: str, after: str, limit: int) -> list[FeedEntry]:
        """Entries after ``after``, oldest first; FeedTrimmed when some were trimmed away."""
        if is_feed_id(after) and next_feed_id(after) is None:
            return []  # nothing comes after the largest id (and XRANGE refuses to start there)
        trimmed, raw = await self._scripts.feed_read(keys=[feed], args=[after, limit])
        if trimmed:
            raise FeedTrimmed(
                f"events after {after} were trimmed from the feed; read it from the start"
            )
        return _entries(raw)

    @client_values
    async def oldest(self, feed: str, limit: int) -> list[FeedEntry]:
        """The oldest ``limit`` entries still kept."""
        return _entries(await self._mux.execute("XRANGE", feed, "-", "+", "COUNT", limit))

    @client_values
    async def latest(self, feed: str, limit: int) -> list[FeedEntry]:
        """The newest ``limit`` entries, oldest first."""
        raw = await self._mux.execute("XREVRANGE", feed, "+", "-", "COUNT", limit)
        return _entries(list(reversed(raw)))

    @client_values
    async def from_last(
        self, feed: str, starts: Callable[[bytes], bool], limit: int
    ) -> list[FeedEntry] | None:
        """The entries from the newest one ``starts`` holds for (it first), at most
        ``limit``, oldest first; None when no kept entry is such a start. Reads back a
        page at a time: a feed is capped, so this ends."""
        before = "+"
        while True:
            raw = await self._mux.execute("XREVRANGE", feed, before, "-", "COUNT", SCAN_PAGE)
            for entry in _entries(raw):
                if starts(entry.push):
                    rest = await self.after(feed, entry.id, limit - 1) if limit > 1 else []
                    return [entry, *rest]
            if len(raw) < SCAN_PAGE:
                return None
            before = "(" + text(raw[-1][0])

    @translate_redis_errors
    async def tail(self, feed: str) -> str:
        """The newest entry's id, or '0-0' for an empty feed."""
        raw = await self._mux.execute("XREVRANGE", feed, "+", "-", "COUNT", 1)
        return text(raw[0][0]) if raw else "0-0"

    @client_values
    async def drop_through(self, feed: str, entry_id: str) -> None:
        """Remove every entry up to and including ``entry_id``."""
        next_id = next_feed_id(entry_id)
        if next_id is None:
            await self._mux.execute("XTRIM", feed, "MAXLEN", 0)  # the largest id there is
            return
        await self._mux.execute("XTRIM", feed, "MINID", next_id)


class ChatStore:
    def __init__(self, feeds: Feeds) -> None:
        self._feeds = feeds

    def channel(self, room: str) -> str:
        return keys.chat_channel(room)

    async def post(self, room: str, push: Tell) -> str:
        """A lobby's or match's room ends with it (its log shortened to ROOM_ENDED_TTL_S);
        its members may still post a while (an ended match's players set lives an hour), and
        such a post must not give the log its days back. A live room's log gets them on each
        post (one idle for all but its last hour is taken as ended: it goes as it would)."""
        ends = room.startswith((ROOM_LOBBY, ROOM_MATCH))
        return await self._feeds.append(
            keys.chat_log(room),
            keys.chat_channel(room),
            packed_head(push.event, push.fields),
            keep=CHAT_KEEP,
            ttl_s=CHAT_TTL_S,
            ended_at_most_s=ROOM_ENDED_TTL_S if ends else 0,
        )

    async def history(self, room: str, limit: int) -> list[FeedEntry]:
        return await self._feeds.latest(keys.chat_log(room), limit)


class NoteStore:
    """A player's notifications: kept until acknowledged, pushed on their player channel."""

    def __init__(self, feeds: Feeds) -> None:
        self._feeds = feeds

    async def add(self, player_id: str, push: Tell) -> str:
        return await self._feeds.append(
            keys.player_notes(player_id),
            keys.player_channel(player_id),
            packed_head(push.event, push.fields),
            keep=NOTES_KEEP,
            ttl_s=NOTES_TTL_S,
        )

    async def pending(self, player_id: str, limit: int = NOTES_KEEP) -> list[FeedEntry]:
        return await self._feeds.oldest(keys.player_notes(player_id), limit)

    async def ack_through(self, player_id: str, note_id: str) -> None:
        await self._feeds.drop_through(keys.player_notes(player_id), note_id)


class ActivityStore:
    """The global activity feed: encoded entries in a capped list, newest first."""

    def __init__(self, mux: Commands) -> None:
        self._mux = mux

    @translate_redis_errors
    async def post(self, entries: list[dict[str, Any]]) -> None:
        if entries:
            await self._mux.pipeline(
                ("LPUSH", keys.activity_feed(), *(msgpack.packb(e) for e in entries)),
                ("LTRIM", keys.activity_feed(), 0, ACTIVITY_KEEP - 1),
            )

    @client_values
    async def recent(self, limit: int) -> list[dict[str, Any]]:
        raw = await self._mux.execute("LRANGE", keys.activity_feed(), 0, limit - 1)
        return [msgpack.unpackb(entry) for entry in raw]
