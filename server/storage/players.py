"""Players: which device logs in as whom, and each player's profile."""

from __future__ import annotations

from server.storage import keys
from server.storage.connection import pairs, text, translate_redis_errors
from server.storage.mux import Commands


class PlayerStore:
    def __init__(self, mux: Commands) -> None:
        self._mux = mux

    @translate_redis_errors
    async def player_for_device(self, device_hash: str, new_player_id: str) -> str:
        """The player id bound to a device, binding ``new_player_id`` if there is none yet.

        ``SET NX GET`` is one atomic step, so two first logins racing from the
        same device still end with one player.
        """
        previous = await self._mux.execute(
            "SET", keys.device(device_hash), new_player_id, "NX", "GET"
        )
        return new_player_id if previous is None else text(previous)

    @translate_redis_errors
    async def set_name(self, player_id: str, name: str, now_ms: int) -> str | None:
        """Set the player's name (making the profile if new); returns the previous name."""
        key = keys.player(player_id)
        _, previous, _ = await self._mux.pipeline(
            ("HSETNX", key, "created_ms", now_ms),
            ("HGET", key, "name"),
            ("HSET", key, "name", name),
        )
        return None if previous is None else text(previous)

    @translate_redis_errors
    async def profile(self, player_id: str) -> dict[str, str] | None:
        fields = pairs(await self._mux.execute("HGETALL", keys.player(player_id)))
        return fields or None
