"""What a node does now and then, beside serving requests.

- Stamp its players as online and keep their live-socket claims (presence), and its
  spectators' one-socket claims.
- Keep connected players' sessions alive even when idle, and end sockets whose
  session has gone.
- Add its cache counters to the shared totals.
- Decide the consensus match results whose wait is over (a majority, or a dispute).
- After its command channel was down, end sockets that were replaced meanwhile.
- Tell matches whose players' node died (and those whose stalled node came back), end
  matches all their players abandoned and those that ran as long as a match may.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from server.connection import SocketRegistry
from server.errors import ArenaError
from server.hub_sockets import apply_command, end_socket
from server.services import Services
from server.storage.socket_commands import SocketEnd

log = logging.getLogger(__name__)


class Upkeep:
    def __init__(self, services: Services, registry: SocketRegistry, *, session_ttl_s: int) -> None:
        self._services = services
        self._registry = registry
        # An idle but connected player is still playing: refresh well before the session ends.
        self._idle_refresh_s = session_ttl_s / 3
        # Players the heartbeat brought back whose matches are not told yet (player ->
        # moment): the heartbeat will not name them again.
        self._back: dict[str, str] = {}

    def _sockets(self) -> dict[str, str]:
        # Spectators (dashboards) are nobody's presence and hold no seat; a socket still
        # opening has not claimed its player yet.
        return {conn.conn_id: conn.player_id for conn in self._registry.all() if conn.claimed}

    def _spectator_sockets(self) -> dict[str, str]:
        # One socket per spectator session: its claim is kept like a player's.
        return {c.conn_id: c.player_id for c in self._registry.all() if c.identity.spectator}

    async def tick(self) -> None:
        """One round. Each step runs even when one before it failed (logged with its
        name): one failing part does not stop the others for the round."""
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("presence heartbeat", self._heartbeat),
            ("players back", self._tell_players_back),  # after a stall: say so
            ("spectator sockets", self._refresh_spectator_sockets),
            ("idle sessions", self._refresh_idle_sessions),
            ("seat renewals", self._renew_seats),
            ("lapsed seats", self._services.lobbies.free_lapsed_seats),
            ("party seat renewals", self._renew_party_seats),
            ("lapsed party seats", self._services.parties.free_lapsed_seats),
            ("due results", self._services.matches.decide_due),
            ("cache counters", self._services.cache_stats.flush),
            ("match life", self._services.match_life.tick),
        ]
        for name, step in steps:
            try:
                await step()
            except ArenaError as exc:
                log.warning("upkeep step %r skipped: %s", name, exc.message)
            except Exception:
                log.warning("upkeep step %r failed", name, exc_info=True)

    async def _heartbeat(self) -> None:
        back = await self._services.presence.heartbeat(self._sockets())
        # A later return (a later moment) replaces one still waiting to be told.
        self._back.update(back)

    async def _tell_players_back(self) -> None:
        """The heartbeat names a player back once: one whose match could not be told is
        kept, and told on a later round, while their socket is still here."""
        here = set(self._sockets().values())
        waiting = {p: moment for p, moment in self._back.items() if p in here}
        self._back = {}
        if not waiting:
            return
        try:
            failed = await self._services.match_life.players_back(waiting)
        except BaseException:
            self._back = {**waiting, **self._back}
            raise
        self._back = {**failed, **self._back}

    async def _refresh_spectator_sockets(self) -> None:
        await self._services.presence.refresh_spectator_sockets(self._spectator_sockets())

    async def _renew_seats(self) -> None:
        await self._services.lobbies.renew_seats(list(set(self._sockets().values())))

    async def _renew_party_seats(self) -> None:
        await self._services.parties.renew_seats(list(set(self._sockets().values())))

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
            # Spectators' sockets too: their orders (a revoked session) are kept the same way.
            claims = {**self._sockets(), **self._spectator_sockets()}  # the same claim keys
            for command in await self._services.presence.orders_missed(claims):
                apply_command(self._registry, command)  # kicked, revoked, renamed
            displaced = await self._services.presence.sockets_displaced(claims)
            for conn_id in displaced:
                end_socket(self._registry, conn_id, SocketEnd.REPLACED)
            conns = self._registry.all()
            alive = await self._services.sessions.refresh([c.session_hash for c in conns])
            for conn, ok in zip(conns, alive, strict=True):
                if not ok:
                    end_socket(self._registry, conn.conn_id, SocketEnd.EXPIRED)
        except ArenaError as exc:
            log.warning("catch-up after resubscribe skipped: %s", exc.message)
