"""Sessions: one hash per token (hashed), with a sliding TTL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.mux import Commands


@dataclass(frozen=True, slots=True)
class StoredSession:
    player_id: str
    created_ms: int
    ttl_ms: int
    role: str = "player"  # or "spectator": reads and watches, never writes


class SessionStore:
    def __init__(self, mux: Commands) -> None:
        self._mux = mux

    @translate_redis_errors
    async def open_session(
        self, *, player_id: str, token_hash: str, now_ms: int, ttl_s: int, role: str = "player"
    ) -> None:
        key = keys.session(token_hash)
        # MULTI/EXEC: a session must never exist without its expiry.
        await self._mux.transaction(
            ("HSET", key, "player_id", player_id, "created_ms", now_ms, "role", role),
            ("EXPIRE", key, ttl_s),
        )

    @translate_redis_errors
    async def read_session(self, token_hash: str) -> StoredSession | None:
        key = keys.session(token_hash)
        (player_id, created_ms, role), ttl_ms = await self._mux.pipeline(
            ("HMGET", key, "player_id", "created_ms", "role"), ("PTTL", key)
        )
        if player_id is None or ttl_ms < 0:
            return None
        return StoredSession(
            text(player_id), int(created_ms or 0), int(ttl_ms), text(role or b"player")
        )

    @translate_redis_errors
    async def touch_sessions(self, token_hashes: list[str], ttl_s: int) -> list[bool]:
        """Slide each session's expiry; False where the session is already gone."""
        replies = await asyncio.gather(
            *(self._mux.execute("EXPIRE", keys.session(h), ttl_s) for h in token_hashes)
        )
        return [bool(alive) for alive in replies]

    @translate_redis_errors
    async def delete_session(self, token_hash: str) -> bool:
        return bool(await self._mux.execute("DEL", keys.session(token_hash)))
