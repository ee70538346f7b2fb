"""Domain rules, free of transport. ``Services`` groups them for the layers above."""

from __future__ import annotations

from dataclasses import dataclass

from server.services.activity import ActivityFeed
from server.services.admin import AdminService
from server.services.cache import CacheStats
from server.services.chat import ChatService
from server.services.health import HealthService
from server.services.hosted_matches import HostedMatches
from server.services.leaderboards import LeaderboardService
from server.services.lobbies import LobbyService
from server.services.match_feeds import MatchFeedReader
from server.services.match_host import MatchHost
from server.services.match_life import MatchLifeService
from server.services.matches import MatchService
from server.services.matchmaker import Matchmaker
from server.services.notifications import NotificationService
from server.services.parties import PartyService
from server.services.presence import PresenceService
from server.services.profiles import ProfileService
from server.services.ratelimits import RateLimiter
from server.services.ratings import RatingService
from server.services.results import ResultService
from server.services.sessions import SessionService
from server.services.stats import StatsService
from server.services.watch import WatchFeed
from server.storage.locks import Locks
from server.storage.queue import TaskQueue


@dataclass(frozen=True, slots=True)
class Services:
    sessions: SessionService
    presence: PresenceService
    profiles: ProfileService
    leaderboards: LeaderboardService
    lobbies: LobbyService
    matches: MatchService
    match_feeds: MatchFeedReader  # what the hub reads to carry a match's channel
    match_life: MatchLifeService  # presence pushes and abandoned ends
    hosted: HostedMatches  # server-run matches: create, join, input, listing
    host: MatchHost  # runs this node's server-run matches (started by the app)
    matchmaker: Matchmaker  # tickets; runs the passes of the modes it leads (the app starts it)
    parties: PartyService
    chat: ChatService
    notifications: NotificationService
    activity: ActivityFeed
    results: ResultService
    ratings: RatingService  # per mode, learnt from results (the matchmaker reads them)
    results_queue: TaskQueue
    cache_stats: CacheStats
    health: HealthService
    stats: StatsService
    watch: WatchFeed
    admin: AdminService
    rate_limiter: RateLimiter  # its refusal counts feed the metrics
    locks: Locks  # its wait counts feed the metrics
