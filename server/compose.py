"""The composition root: every store, service and collaborator of a node, built once.

Everything goes in through constructors, in the order things depend on each
other; nothing is set on an object after it is built (a subscriber's callbacks
are the arguments of its ``run``, which delivers to them). Building connects to
nothing: the Redis clients connect on first use, the pub/sub connection when
its ``run`` starts (``server.app``'s cleanup contexts start and stop what is
built here). The results worker process (``python -m server.worker``) builds
the same services (``build_worker``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

from server import http_common
from server.app_metrics import node_metrics
from server.connection import SocketRegistry
from server.games.loader import load_games
from server.hub import Hub
from server.hub_out import HubPushes
from server.metrics import Metrics
from server.redelivery import Redelivery
from server.redis_urls import is_cluster
from server.room_exits import RoomExits
from server.services import Services
from server.services.activity import ActivityFeed
from server.services.admin import AdminService
from server.services.cache import CacheStats, ReadThroughCache
from server.services.chat import ChatService
from server.services.health import HealthService
from server.services.host_opener import Doorbell, HostOpener
from server.services.hosted_matches import HostedMatches
from server.services.leaderboards import BoardNames, Clock, LeaderboardService
from server.services.lobbies import LobbyService
from server.services.match_feeds import MatchFeedReader
from server.services.match_host import MatchHost
from server.services.match_life import MatchLifeService
from server.services.matches import MatchService
from server.services.matchmaker import Matchmaker
from server.services.notifications import NotificationService
from server.services.parties import PartyService
from server.services.party_roster import PartyRoster
from server.services.ports import Pushes
from server.services.presence import PresenceService
from server.services.profiles import ProfileService
from server.services.ratelimits import RateLimiter
from server.services.ratings import RatingService, rating_board
from server.services.results import ResultService
from server.services.sessions import SessionService
from server.services.stats import StatsService
from server.services.watch import WatchFeed
from server.settings import Settings
from server.socket_releases import SocketReleases
from server.storage.accounts import AccountStore
from server.storage.cache import CacheStore
from server.storage.clients import BlockingClient, open_mux, open_redis, open_subscriber
from server.storage.connection import redis_answers
from server.storage.consensus import ConsensusStore
from server.storage.feeds import ActivityStore, ChatStore, Feeds, NoteStore
from server.storage.host_nodes import HostNodes
from server.storage.hosting import HostStore
from server.storage.leaderboards import LeaderboardStore
from server.storage.lobbies import LobbyStore
from server.storage.locks import Locks
from server.storage.matches import MatchStore
from server.storage.matchmaking import MatchmakingStore
from server.storage.mux import Commands
from server.storage.parties import PartyStore
from server.storage.players import PlayerStore
from server.storage.presence import PresenceStore
from server.storage.pubsub import Publisher, Subscriptions
from server.storage.pushes import PushStore
from server.storage.queue import TaskQueue
from server.storage.ratelimit import RateLimitStore
from server.storage.ratings import RatingStore
from server.storage.scripts import Scripts
from server.storage.sessions import SessionStore
from server.storage.socket_commands import SocketCommandBus
from server.upkeep import Upkeep
from server.ws import SocketEndpoint


@dataclass(frozen=True, slots=True)
class Node:
    """One server process's parts."""

    settings: Settings
    mux: Commands  # the pipelined client every command goes through
    redis: BlockingClient  # redis-py: the results workers' blocking takes
    subscriber: Subscriptions
    registry: SocketRegistry
    services: Services
    hub: Hub
    upkeep: Upkeep
    redelivery: Redelivery
    metrics: Metrics
    endpoint: SocketEndpoint
    # Set when the node starts stopping: the result workers stop taking jobs at once.
    stopping: asyncio.Event


def build_node(settings: Settings, *, clock: Clock = time.time) -> Node:
    """Every part of a server process (``settings.node_id`` set), connected to nothing yet."""
    mux, redis = _clients(settings)
    subscriber = open_subscriber(settings.redis_url, mux, timeout_s=settings.redis_timeout_s)
    registry = SocketRegistry()
    services = build_services(
        settings,
        mux,
        redis,
        clock=clock,
        pushes=HubPushes(PushStore(mux)),
        pubsub_hears=subscriber.hears,
    )
    metrics = node_metrics(services, registry, mux, subscriber)
    hub = Hub(
        registry,
        subscriber,
        services.match_feeds,
        command_channel=services.presence.command_channel,
        rooms_left_by=RoomExits(
            services.chat.lobby_room_channel,
            services.chat.match_room_channel,
            services.chat.party_room_channel,
        ).after,
        fanout_lag=metrics.fanout_lag if settings.metrics else None,
    )
    endpoint = SocketEndpoint(
        settings,
        registry,
        services,
        hub,
        metrics.ops if settings.metrics else None,
        releases=SocketReleases(services.match_life.sockets_closed),
        address_of=http_common.address_key,
    )
    return Node(
        settings=settings,
        mux=mux,
        redis=redis,
        subscriber=subscriber,
        registry=registry,
        services=services,
        hub=hub,
        upkeep=Upkeep(services, registry, session_ttl_s=settings.session_ttl_s),
        redelivery=Redelivery(services, registry, hub),
        metrics=metrics,
        endpoint=endpoint,
        stopping=asyncio.Event(),
    )


@dataclass(frozen=True, slots=True)
class WorkerParts:
    """A results worker process's parts: no sockets, no hub, no pub/sub."""

    mux: Commands
    redis: BlockingClient
    services: Services


def build_worker(settings: Settings, *, clock: Clock = time.time) -> WorkerParts:
    """What ``python -m server.worker`` runs on, connected to nothing yet."""
    mux, redis = _clients(settings)
    services = build_services(
        settings,
        mux,
        redis,
        clock=clock,
        pushes=HubPushes(PushStore(mux)),
        pubsub_hears=lambda channel: False,  # a worker holds no sockets and serves no probe
    )
    return WorkerParts(mux, redis, services)


def _clients(settings: Settings) -> tuple[Commands, BlockingClient]:
    """The pipelined client every command goes through, and redis-py's few connections
    for the blocking takes; both connect on first use."""
    mux = open_mux(settings.redis_url, timeout_s=settings.redis_timeout_s)
    redis = open_redis(
        settings.redis_url, pool_size=settings.redis_pool_size, timeout_s=settings.redis_timeout_s
    )
    return mux, redis


def build_services(
    settings: Settings,
    mux: Commands,
    redis: BlockingClient,
    *,
    clock: Clock,
    pushes: Pushes,
    pubsub_hears: Callable[[str], bool],
) -> Services:
    """Every store and service. ``pubsub_hears(channel)``: whether this process's pub/sub
    is connected and confirmed on a channel (its readiness); a worker process has none."""
    scripts = Scripts.load(mux)
    feeds = Feeds(mux, scripts)
    rate_limiter = RateLimiter(RateLimitStore(scripts), settings.rate_limit_table())
    cache_store = CacheStore(mux, scripts)
    profile_cache = ReadThroughCache("profile", cache_store, ttl_s=settings.profile_cache_ttl_s)
    top_cache = ReadThroughCache("lb_top", cache_store, ttl_s=settings.lb_cache_ttl_s)
    presence = PresenceService(
        PresenceStore(mux, scripts),
        SocketCommandBus(Publisher(mux), mux),
        node_id=settings.node_id,
        presence_ttl_s=settings.presence_ttl_s,
    )
    board_specs = settings.board_specs()
    modes = settings.mode_book()
    # The rating boards of the modes ARENA_MODES names are listed and renamed with the
    # others (any other mode's is still readable: LeaderboardService knows them all).
    board_specs = (*board_specs, *(rating_board(mode) for mode in modes.modes))
    board_store = LeaderboardStore(scripts, one_redis=not is_cluster(settings.redis_url))
    profiles = ProfileService(
        PlayerStore(mux),
        profile_cache,
        rename_listeners=(
            BoardNames(board_store, board_specs, clock=clock).player_renamed,
            presence.player_renamed,
        ),
    )
    watch = WatchFeed(pushes, channel=PushStore.watch_channel())
    leaderboards = LeaderboardService(
        board_store, profiles, rate_limiter, top_cache, board_specs, watch, clock=clock
    )
    sessions = SessionService(
        SessionStore(mux),
        rate_limiter,
        presence,
        profiles,
        AccountStore(mux, scripts),
        ttl_s=settings.session_ttl_s,
        touch_interval_s=settings.session_touch_interval_s,
        account_ttl_s=settings.guest_ttl_days * 86400,
    )
    results_queue = TaskQueue(
        "results",
        mux,
        redis,
        scripts,
        timeout_s=settings.job_timeout_s,
        max_tries=settings.job_tries,
    )
    match_store = MatchStore(mux, scripts, feeds, feed_keep=settings.match_feed_max)
    host_store = HostStore(mux, scripts, feed_keep=settings.match_feed_max)
    host_nodes = HostNodes(mux)
    doorbell = Doorbell()
    matches = MatchService(
        match_store,
        presence,
        rate_limiter,
        results_queue,
        watch,
        consensus=ConsensusStore(mux, scripts, feed_keep=settings.match_feed_max),
        modes=modes,
        hosting=HostOpener(host_store, host_nodes, doorbell, node_id=settings.node_id, clock=clock),
        clock=clock,
    )
    hosted = HostedMatches(
        matches,
        match_store,
        host_store,
        host_nodes,
        presence,
        pushes,
        rate_limiter,
        modes=modes,
    )
    locks = Locks(scripts)
    lobbies = LobbyService(
        LobbyStore(mux, scripts, locks),
        rate_limiter,
        presence,
        matches,
        watch,
        pushes,
        grace_s=settings.lobby_grace_s,
        renew_interval_s=settings.presence_interval_s,
        modes=modes,
    )
    party_store = PartyStore(mux, scripts, locks)
    ratings = RatingService(RatingStore(mux, scripts), clock=clock)
    matchmaker = Matchmaker(
        MatchmakingStore(mux, scripts),
        matches,
        pushes,
        rate_limiter,
        modes=modes,
        ratings=ratings,
        parties=PartyRoster(party_store),
        node_id=settings.node_id,
        pass_s=settings.mm_pass_s,
        clock=clock,
    )
    parties = PartyService(
        party_store,
        rate_limiter,
        presence,
        profiles,
        pushes,
        matchmaker,  # a change of a party cancels its tickets
        grace_s=settings.party_grace_s,
        renew_interval_s=settings.presence_interval_s,
    )
    notifications = NotificationService(NoteStore(feeds), clock=clock)
    activity = ActivityFeed(ActivityStore(mux), watch, clock=clock)
    results = ResultService(
        matches,
        leaderboards,
        profiles,
        notifications,
        activity,
        results_queue,
        ratings=ratings,
        modes=modes,
    )
    cache_stats = CacheStats(cache_store, [profile_cache, top_cache])
    stats = StatsService(presence, lobbies, matches, results, cache_stats)
    command_channel = presence.command_channel
    return Services(
        sessions=sessions,
        presence=presence,
        profiles=profiles,
        leaderboards=leaderboards,
        lobbies=lobbies,
        matches=matches,
        match_feeds=MatchFeedReader(match_store, modes),
        parties=parties,
        match_life=MatchLifeService(
            match_store,
            presence,
            watch,
            abandon_s=settings.match_abandon_s,
            check_every_s=settings.presence_interval_s,
            clock=clock,
        ),
        hosted=hosted,
        host=MatchHost(
            host_store,
            host_nodes,
            hosted,
            load_games(modes),
            doorbell,
            node_id=settings.node_id,
            lease_s=settings.host_lease_s,
            sweep_s=settings.host_sweep_s,
            snapshot_s=settings.host_snapshot_s,
            clock=clock,
        ),
        matchmaker=matchmaker,
        chat=ChatService(
            ChatStore(feeds),
            rate_limiter,
            lobbies,
            matches,
            parties,
            public_rooms=settings.public_rooms(),
            clock=clock,
        ),
        notifications=notifications,
        activity=activity,
        results=results,
        ratings=ratings,
        results_queue=results_queue,
        cache_stats=cache_stats,
        health=HealthService(
            functools.partial(redis_answers, mux), lambda: pubsub_hears(command_channel)
        ),
        stats=stats,
        watch=watch,
        admin=AdminService(stats, lobbies, matches, presence, profiles, sessions),
        rate_limiter=rate_limiter,
        locks=locks,
    )
