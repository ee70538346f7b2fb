"""Accounts: which device logs in as whom (and the hash of its secret), and bans."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.mux import Commands
from server.storage.scripts import Scripts

DeviceState = Literal["new", "known", "legacy"]


@dataclass(frozen=True, slots=True)
class DeviceBinding:
    """What a device's login found: its player, and the stored hash of its secret.

    ``state``: ``new`` (the offered secret hash was stored now), ``known`` (compare
    ``secret_hash``), ``legacy`` (stored before device secrets: none yet).
    """

    player_id: str
    secret_hash: str
    state: DeviceState


class AccountStore:
    def __init__(self, mux: Commands, scripts: Scripts) -> None:
        self._mux = mux
        self._scripts = scripts

    @translate_redis_errors
    async def device_login(
        self,
        device_hash: str,
        *,
        new_player_id: str,
        new_secret_hash: str,
        ttl_s: int,
        upgrade_legacy: bool,
    ) -> DeviceBinding:
        """Bind the device to ``new_player_id`` with ``new_secret_hash`` if it is new (or,
        with ``upgrade_legacy``, give a device from before secrets that secret), in one
        atomic step; else report what is stored."""
        player_id, secret_hash, state = await self._scripts.device_login(
            keys=[keys.device(device_hash)],
            args=[new_player_id, new_secret_hash, ttl_s, "1" if upgrade_legacy else "0"],
        )
        return DeviceBinding(text(player_id), text(secret_hash), text(state))  # type: ignore[arg-type]

    @translate_redis_errors
    async def rotate_secret(
        self, device_hash: str, *, offered_hash: str, new_secret_hash: str, ttl_s: int
    ) -> str | None:
        """Replace the device's secret hash if ``offered_hash`` is the stored one, in one
        atomic step: the device's player id, or None (unknown device, no secret yet, or
        the wrong one)."""
        player_id = await self._scripts.device_rotate(
            keys=[keys.device(device_hash)], args=[offered_hash, new_secret_hash, ttl_s]
        )
        return None if player_id is None else text(player_id)

    @translate_redis_errors
    async def secret_hash_of(self, device_hash: str) -> str | None:
        """The device's stored secret hash now (None: none, or no device)."""
        raw = await self._mux.execute("HGET", keys.device(device_hash), "secret")
        return None if raw is None else text(raw)

    @translate_redis_errors
    async def keep_account(self, device_hash: str, player_id: str, ttl_s: int) -> None:
        """Start the guest TTL again for the device and the player's session set (the
        profile's is set with its name)."""
        await self._mux.pipeline(
            ("EXPIRE", keys.device(device_hash), ttl_s),
            ("EXPIRE", keys.player_sessions(player_id), ttl_s),
        )

    @translate_redis_errors
    async def banned_until(self, player_id: str) -> int | None:
        """None when not banned; else when the ban ends (ms), 0 for until unbanned."""
        raw = await self._mux.execute("GET", keys.player_ban(player_id))
        return None if raw is None else int(raw)

    @translate_redis_errors
    async def ban(self, player_id: str, until_ms: int) -> None:
        """Ban until ``until_ms`` (the key expires then), or with 0 until unbanned."""
        key = keys.player_ban(player_id)
        if until_ms:
            await self._mux.execute("SET", key, until_ms, "PXAT", until_ms)
        else:
            await self._mux.execute("SET", key, 0)

    @translate_redis_errors
    async def unban(self, player_id: str) -> bool:
        """False when the player was not banned."""
        return bool(await self._mux.execute("DEL", keys.player_ban(player_id)))
