"""What a node does now and then, beside serving requests.

- Stamp its players as online and keep their live-socket claims (presence).
- Keep connected players' sessions alive even when idle, and end sockets whose
  session has gone.
- Add its cache counters to the shared totals.
- After its command channel was down, end sockets that were replaced meanwhile.
"""

from __future__ import annotations

import logging
import time

from server.connection import SocketRegistry
from server.errors import ArenaError
from server.hub import apply_command, end_socket
from server.services import Services
from server.storage.socket_commands import SocketEnd

log = logging.getLogger(__name__)


class Upkeep:
    def __init__(self, services: Services, registry: SocketRegistry, *, session_ttl_s: int) -> None:
        self._services = services
        self._registry = registry
        # An idle but connected player is still playing: refresh well before the session ends.
        self._idle_refresh_s = session_ttl_s / 3

    def _sockets(self) -> dict[str, str]:
        # Spectators (dashboards) are nobody's presence and hold no seat; a socket still
        # opening has not claimed its player yet.
        return {conn.conn_id: conn.player_id for conn in self._registry.all() if conn.claimed}

    async def tick(self) -> None:
        try:
            await self._services.presence.heartbeat(self._sockets())
            await self._refresh_idle_sessions()
            await self._services.lobbies.renew_seats(list(set(self._sockets().values())))
            await self._services.lobbies.free_lapsed_seats()
            await self._services.cache_stats.flush()
        except ArenaError as exc:
            log.warning("upkeep skipped: %s", exc.message)

    async def _refresh_idle_sessions(self) -> None:
        now = time.monotonic()
        stale = [c for c in self._registry.all() if now - c.session_touched >= self._idle_refresh_s]
        if not stale:
            return
        alive = await self._services.sessions.refresh([c.session_hash for c in stale])
        for conn, ok in zip(stale, alive, strict=True):
            conn.session_touched = now
            if not ok:
                end_socket(self._registry, conn.conn_id, SocketEnd.EXPIRED)

    async def resubscribed(self) -> None:
        """Catch up on socket commands missed while the command channel was down."""
        try:
            for command in await self._services.presence.orders_missed(self._sockets()):
                apply_command(self._registry, command)  # kicked, revoked, renamed
            displaced = await self._services.presence.sockets_displaced(self._sockets())
            for conn_id in displaced:
                end_socket(self._registry, conn_id, SocketEnd.REPLACED)
            conns = self._registry.all()
            alive = await self._services.sessions.refresh([c.session_hash for c in conns])
            for conn, ok in zip(conns, alive, strict=True):
                if not ok:
                    end_socket(self._registry, conn.conn_id, SocketEnd.EXPIRED)
        except ArenaError as exc:
            log.warning("catch-up after resubscribe skipped: %s", exc.message)
