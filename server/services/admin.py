"""What an operator may do: look, close a lobby, end a match, kick, ban or unban a player.

Every action is logged (logger ``server.admin``) with what it touched; the
transport checks the admin key before anything here runs.
"""

from __future__ import annotations

import logging
from typing import Any

from server.services.lobbies import LobbyService
from server.services.lobby_news import Removal, lobby_wire
from server.services.match_shapes import match_wire
from server.services.matches import MatchService
from server.services.presence import PresenceService
from server.services.profiles import ProfileService
from server.services.sessions import SessionService
from server.services.stats import StatsService
from server.storage.socket_commands import SocketEnd

log = logging.getLogger("server.admin")


class AdminService:
    def __init__(
        self,
        stats: StatsService,
        lobbies: LobbyService,
        matches: MatchService,
        presence: PresenceService,
        profiles: ProfileService,
        sessions: SessionService,
    ) -> None:
        self._stats = stats
        self._lobbies = lobbies
        self._matches = matches
        self._presence = presence
        self._profiles = profiles
        self._sessions = sessions

    async def stats(self) -> dict[str, Any]:
        snapshot = (await self._stats.snapshot()).as_wire()
        return {**snapshot, "caches": await self._stats.caches.totals()}

    async def close_lobby(self, lobby_id: str) -> dict[str, Any]:
        lobby = await self._lobbies.close_by_operator(lobby_id)
        log.info("admin closed lobby %s (%d players seated)", lobby_id, len(lobby.members))
        return {"lobby": {**lobby_wire(lobby), "status": lobby.status}}

    async def end_match(self, match_id: str) -> dict[str, Any]:
        match = await self._matches.end_by_operator(match_id)
        log.info("admin ended match %s (%d players)", match_id, len(match.roster))
        return {"match": match_wire(match, 0)}

    async def kick(self, player_id: str) -> dict[str, Any]:
        """Close the player's socket (``session.kicked``, close 4004) and free their lobby
        seat. Their sessions stay valid: a kick is not a ban."""
        await self._profiles.get(player_id)  # NotFound (404) for a player who never was
        connected = await self._presence.end_socket(player_id, SocketEnd.KICKED, only_session=None)
        lobby_id = await self._lobbies.remove(player_id, Removal.KICKED)
        log.info(
            "admin kicked player %s (socket %s, lobby %s)",
            player_id,
            "closed" if connected else "none",
            lobby_id or "none",
        )
        return {"player_id": player_id, "connected": connected, "left_lobby": lobby_id}

    async def ban(self, player_id: str, duration_s: int | None) -> dict[str, Any]:
        """Refuse the player's logins (for ``duration_s``, or until unbanned), revoke
        every session, close the live socket (``session.banned``, close 4005) and free
        the lobby seat."""
        await self._profiles.get(player_id)  # NotFound (404) for a player who never was
        until_ms = await self._sessions.ban(player_id, duration_s)
        lobby_id = await self._lobbies.remove(player_id, Removal.BANNED)
        log.info(
            "admin banned player %s %s (lobby %s)",
            player_id,
            "until unbanned" if until_ms is None else f"for {duration_s}s",
            lobby_id or "none",
        )
        return {"player_id": player_id, "banned": True, "until_ms": until_ms}

    async def unban(self, player_id: str) -> dict[str, Any]:
        """Lift the player's ban (its sessions stay revoked: it logs in again)."""
        was_banned = await self._sessions.unban(player_id)
        log.info(
            "admin unbanned player %s (%s)",
            player_id,
            "was banned" if was_banned else "was not banned",
        )
        return {"player_id": player_id, "banned": False, "was_banned": was_banned}
