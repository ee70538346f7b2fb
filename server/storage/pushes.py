"""Pushes in Redis: published on the channels every node listens to, and kept a minute
beside a player when they must not be lost to a pub/sub gap."""

from __future__ import annotations

from collections.abc import Collection

from server.storage import keys
from server.storage.connection import translate_redis_errors
from server.storage.mux import Commands

# A push kept for a node that missed it: far past a pub/sub gap (about a second).
KEPT_PUSHES = 4
KEPT_PUSH_TTL_MS = 60_000


class PushStore:
    def __init__(self, mux: Commands) -> None:
        self._mux = mux

    @staticmethod
    def player_channel(player_id: str) -> str:
        """The channel a player's pushes travel on, to whichever node holds their socket."""
        return keys.player_channel(player_id)

    @staticmethod
    def watch_channel() -> str:
        """The game-wide channel dashboards listen to."""
        return keys.watch_channel()

    @translate_redis_errors
    async def to_players(self, player_ids: Collection[str], payload: bytes) -> None:
        # One pipeline, not a task per player: a lobby's change tells every seat.
        if player_ids:
            await self._mux.pipeline(
                *(("SPUBLISH", keys.player_channel(p), payload) for p in player_ids)
            )

    @translate_redis_errors
    async def to_watchers(self, payload: bytes) -> None:
        await self._mux.execute("SPUBLISH", keys.watch_channel(), payload)

    @translate_redis_errors
    async def keep(self, player_ids: Collection[str], payload: bytes) -> None:
        """Keep a push a minute beside each player (the last few), for a node that missed it."""
        if not player_ids:
            return
        await self._mux.pipeline(
            *(
                command
                for p in player_ids
                for command in (
                    ("RPUSH", keys.player_kept_pushes(p), payload),
                    ("LTRIM", keys.player_kept_pushes(p), -KEPT_PUSHES, -1),
                    ("PEXPIRE", keys.player_kept_pushes(p), KEPT_PUSH_TTL_MS),
                )
            )
        )

    @translate_redis_errors
    async def kept(self, player_id: str) -> list[bytes]:
        return list(await self._mux.execute("LRANGE", keys.player_kept_pushes(player_id), 0, -1))
