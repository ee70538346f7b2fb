"""Player profiles (name and the like), read through the profile cache."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import msgpack

from server.errors import NotFound
from server.services.cache import ReadThroughCache
from server.storage.players import PlayerStore

RenameListener = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Profile:
    player_id: str
    name: str
    created_ms: int


class ProfileService:
    def __init__(
        self,
        store: PlayerStore,
        cache: ReadThroughCache,
        *,
        rename_listeners: Sequence[RenameListener] = (),
    ) -> None:
        self._store = store
        self._cache = cache
        # Called with (player_id, new_name) after a name changes: boards show names too.
        self._rename_listeners = tuple(rename_listeners)

    async def set_name(self, player_id: str, name: str, *, ttl_s: int | None = None) -> None:
        """Set the name; with ``ttl_s`` the profile lives that long from now."""
        previous = await self._store.set_name(player_id, name, int(time.time() * 1000), ttl_s)
        if previous == name:
            return
        # Also when new: an earlier lookup may have cached "no such player".
        await self._cache.invalidate(player_id)
        if previous is not None:
            for listener in self._rename_listeners:
                await listener(player_id, name)

    async def get(self, player_id: str) -> Profile:
        """The player's profile, through the cache; NotFound for an unknown player."""

        async def load() -> bytes:
            fields = await self._store.profile(player_id)
            return msgpack.packb(fields)  # type: ignore[no-any-return]

        fields = msgpack.unpackb(await self._cache.get(player_id, load))
        if not fields:
            raise NotFound(f"no player {player_id[:64]!r}")
        return Profile(player_id, fields.get("name", ""), int(fields.get("created_ms", 0)))

    async def name_of(self, player_id: str) -> str:
        """The player's name as it is now, one read, not through the cache (a socket
        opening: each reads its own player once, and a fresh login has just emptied the
        cache's copy); NotFound for an unknown player."""
        name = await self._store.name_of(player_id)
        if name is None:
            raise NotFound(f"no player {player_id[:64]!r}")
        return name
