"""Domain rules, free of transport. ``Services`` groups them for the layers above."""

from __future__ import annotations

from dataclasses import dataclass

from server.services.cache import CacheStats
from server.services.health import HealthService
from server.services.leaderboards import LeaderboardService
from server.services.lobbies import LobbyService
from server.services.presence import PresenceService
from server.services.profiles import ProfileService
from server.services.sessions import SessionService


@dataclass(frozen=True, slots=True)
class Services:
    sessions: SessionService
    presence: PresenceService
    profiles: ProfileService
    leaderboards: LeaderboardService
    lobbies: LobbyService
    cache_stats: CacheStats
    health: HealthService
