"""Game-wide figures: who is online, what is open and running, how the queue stands.

One snapshot, read from Redis, shared by ``stats.get`` (the dashboard),
``GET /v1/stats``, ``GET /v1/admin/stats`` and the metrics' game-wide gauges.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from server.services.cache import CacheStats
from server.services.lobbies import LobbyService
from server.services.matches import MatchService
from server.services.presence import PresenceService
from server.services.results import ResultService


@dataclass(frozen=True, slots=True)
class GameStats:
    online: int
    nodes: int
    lobbies_open: int
    matches_running: int
    queue: dict[str, int]
    abandoned: int = 0  # matches ended with every player gone, game-wide, ever
    disputed: int = 0  # matches that ended disputed (consensus results), ever

    def as_wire(self) -> dict[str, Any]:
        return {
            "online": self.online,
            "nodes": self.nodes,
            "lobbies_open": self.lobbies_open,
            "matches_running": self.matches_running,
            "abandoned": self.abandoned,
            "queues": {"results": self.queue},
            "disputed": self.disputed,
        }


class StatsService:
    def __init__(
        self,
        presence: PresenceService,
        lobbies: LobbyService,
        matches: MatchService,
        results: ResultService,
        caches: CacheStats,
    ) -> None:
        self._presence = presence
        self._lobbies = lobbies
        self._matches = matches
        self._results = results
        self.caches = caches

    async def snapshot(self) -> GameStats:
        online, nodes, lobbies, matches, queue, (abandoned, disputed) = await asyncio.gather(
            self._presence.online_count(),
            self._presence.nodes_alive(),
            self._lobbies.open_count(),
            self._matches.running_count(),
            self._results.queue_counts(),
            asyncio.gather(self._matches.abandoned_count(), self._matches.disputed_count()),
        )
        return GameStats(
            online=online,
            nodes=nodes,
            lobbies_open=lobbies,
            matches_running=matches,
            queue={"ready": queue.ready, "taken": queue.taken, "dead": queue.dead},
            abandoned=abandoned,
            disputed=disputed,
        )
