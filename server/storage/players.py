"""Players: each player's profile (devices and bans are in accounts.py)."""

from __future__ import annotations

from server.storage import keys
from server.storage.connection import pairs, text, translate_redis_errors
from server.storage.mux import Arg, Commands


class PlayerStore:
    def __init__(self, mux: Commands) -> None:
        self._mux = mux

    @translate_redis_errors
    async def set_name(
        self, player_id: str, name: str, now_ms: int, ttl_s: int | None = None
    ) -> str | None:
        """Set the player's name (making the profile if new); returns the previous name.

        ``ttl_s``: the profile lives that long from now (a guest's account TTL).
        """
        key = keys.player(player_id)
        commands: list[tuple[Arg, ...]] = [
            ("HSETNX", key, "created_ms", now_ms),
            ("HGET", key, "name"),
            ("HSET", key, "name", name),
        ]
        if ttl_s is not None:
            commands.append(("EXPIRE", key, ttl_s))
        # MULTI/EXEC: a profile made here never exists without its expiry.
        previous = (await self._mux.transaction(*commands))[1]
        return None if previous is None else text(previous)

    @translate_redis_errors
    async def profile(self, player_id: str) -> dict[str, str] | None:
        fields = pairs(await self._mux.execute("HGETALL", keys.player(player_id)))
        return fields or None

    @translate_redis_errors
    async def name_of(self, player_id: str) -> str | None:
        """The player's name, read as it is now (None: no such player)."""
        name = await self._mux.execute("HGET", keys.player(player_id), "name")
        return None if name is None else text(name)
