"""What a node's hub reads of a match to carry its channel to local sockets: the feed
to catch up from, and how soon the match's mode wants its events written."""

from __future__ import annotations

from server.errors import FeedTrimmed
from server.modes import ModeBook
from server.protocol import FEED_PAGE_MAX, FeedEntry
from server.storage.matches import MatchStore


class MatchFeedReader:
    """The hub's ``MatchFeeds`` (server/hub.py)."""

    def __init__(self, store: MatchStore, modes: ModeBook) -> None:
        self._store = store
        self._modes = modes

    def channel(self, match_id: str) -> str:  # the one a match's events travel on
        return self._store.channel(match_id)

    async def events_after(self, match_id: str, after: str) -> list[FeedEntry]:
        """Up to FEED_PAGE_MAX events after ``after`` (from the oldest kept if trimmed)."""
        try:
            return await self._store.feed_after(match_id, after, FEED_PAGE_MAX)
        except FeedTrimmed:
            return await self._store.feed_after(match_id, None, FEED_PAGE_MAX)

    async def feed_tail(self, match_id: str) -> str:
        return await self._store.feed_tail(match_id)

    async def push_window_s(self, match_id: str) -> float:
        """How long the match's events may wait to share a socket write (its mode's
        ``push_window_ms``); 0: written at the end of the event loop's turn."""
        mode = await self._store.mode_of(match_id)  # one field: a tap is made per match
        if mode is None:
            return 0.0
        return self._modes.spec_for(mode).push_window_ms / 1000
