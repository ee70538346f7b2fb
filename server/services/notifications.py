"""Notifications: reach a player on whichever node holds their socket, or on their next
connect.

Every notification is kept (a capped feed per player) until the player
acknowledges it; it is pushed at once when they are connected, and pushed again
on each connect while unacknowledged. Delivery is at least once: a client
acknowledges what it has handled (``notify.ack``), and may see a note twice if it
dropped before acknowledging.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from server.errors import BadRequest
from server.feed_ids import is_feed_id
from server.protocol import FeedEntry, Push, Tell
from server.storage.feeds import NOTES_KEEP, NoteStore

KIND = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")


LIST_MAX = NOTES_KEEP  # every kept note fits one notify.list


class NotificationService:
    def __init__(self, store: NoteStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def notify(self, player_id: str, kind: str, data: dict[str, Any]) -> str:
        """Keep a notification for the player and push it if they are connected; its id."""
        if not KIND.match(kind):
            raise ValueError(f"notification kind {kind!r}")
        push = Tell(Push.NOTIFY, {"kind": kind, "data": data, "ts": int(self._clock() * 1000)})
        return await self._store.add(player_id, push)

    async def pending(self, player_id: str, limit: int = NOTES_KEEP) -> list[FeedEntry]:
        """Unacknowledged notifications, oldest first."""
        return await self._store.pending(player_id, limit)

    async def ack(self, player_id: str, note_id: str) -> None:
        """Acknowledge every notification up to and including ``note_id``."""
        if not is_feed_id(note_id):
            raise BadRequest("id: a notification id, like 1700000000000-0")
        await self._store.ack_through(player_id, note_id)
