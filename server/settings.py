"""Every setting Arena reads, in one typed, frozen object.

Each field names its environment variable and its help text; the command line
flags (``python -m server --help``) and the README's settings table are both
derived from this one list, so they cannot drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from server.boards import BoardSpec, Writers, parse_boards
from server.modes import ModeBook, parse_modes
from server.rate_limits import DEFAULT_RATE_LIMITS as DEFAULT_RATE_LIMITS
from server.rate_limits import RateLimit as RateLimit
from server.setting_errors import OneLineParser, SettingError
from server.settings_checks import validate

RATE_LIMITS_FORM = "action=burst/per_second, comma-separated"
PUBLIC_ROOM = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def _setting(default: Any, env: str, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True, slots=True)
class Settings:
    redis_url: str = _setting(
        "",
        "REDIS_URL",
        "Redis to use (7.0 or newer), e.g. redis://:password@127.0.0.1:6379/0, or a Redis "
        "Cluster as redis+cluster://host:port (any one node, or several comma-separated); "
        "rediss:// and rediss+cluster:// for TLS (?ssl_ca_certs=PATH names the CA to "
        "trust, else the system's). Empty: start a private "
        "redis-server (data in ARENA_DATA_DIR/redis, AOF on) and stop it on exit.",
    )
    host: str = _setting("127.0.0.1", "ARENA_HOST", "Address the server listens on.")
    port: int = _setting(8080, "ARENA_PORT", "Port the server listens on.")
    node_id: str = _setting(
        "", "ARENA_NODE_ID", "Name of this server process in Redis. Empty: a random one."
    )
    session_ttl_s: int = _setting(
        3600,
        "ARENA_SESSION_TTL",
        "Seconds a session lives without activity (the expiry slides on activity).",
    )
    session_touch_interval_s: float = _setting(
        10.0,
        "ARENA_SESSION_TOUCH_INTERVAL",
        "At most one expiry refresh per session per this many seconds of activity.",
    )
    guest_ttl_days: int = _setting(
        90,
        "ARENA_GUEST_TTL_DAYS",
        "Days a guest account (device and player) lives after its last login; each login "
        "starts the count again. Board entries stay.",
    )
    presence_interval_s: float = _setting(
        5.0, "ARENA_PRESENCE_INTERVAL", "Seconds between a node's presence heartbeats."
    )
    presence_ttl_s: float = _setting(
        15.0,
        "ARENA_PRESENCE_TTL",
        "Seconds a player stays counted online after their node's last heartbeat "
        "(the bound after a node dies).",
    )
    max_frame_bytes: int = _setting(
        64 * 1024,
        "ARENA_MAX_FRAME_BYTES",
        "Largest WebSocket frame accepted; a larger one closes the socket with 1009.",
    )
    outbox_bytes: int = _setting(
        256 * 1024,
        "ARENA_OUTBOX_BYTES",
        "Bytes waiting to be sent to one socket before it counts as a slow reader and is "
        "closed (4008).",
    )
    msg_rate_burst: int = _setting(
        200, "ARENA_MSG_RATE_BURST", "Messages a socket may send in a burst."
    )
    msg_rate_per_s: float = _setting(
        100.0, "ARENA_MSG_RATE", "Messages per second a socket may send after its burst."
    )
    heartbeat_s: float = _setting(
        20.0,
        "ARENA_WS_HEARTBEAT",
        "Seconds between WebSocket pings; a peer that misses a pong is dropped.",
    )
    shutdown_grace_s: float = _setting(
        5.0,
        "ARENA_SHUTDOWN_GRACE",
        "Seconds a stopping server gives its sockets to close after telling them (and each "
        "closing socket to finish its handshake); a stop takes at most about twice this.",
    )
    redis_pool_size: int = _setting(
        64,
        "ARENA_REDIS_POOL",
        "redis-py connections per process, for the result workers' blocking takes (commands "
        "share one pipelined connection, pub/sub has its own); a caller waits for a free one.",
    )
    redis_timeout_s: float = _setting(
        5.0,
        "ARENA_REDIS_TIMEOUT",
        "Seconds a Redis command may wait for its reply (per round trip): past it the "
        "request fails with UNAVAILABLE (outcome unknown); a connection that sends no reply "
        "for that long is replaced. "
        "Must exceed the longest work Redis may do without answering (a slow script, "
        "several sent together).",
    )
    redis_wait_s: float = _setting(
        10.0,
        "ARENA_REDIS_WAIT_S",
        "Seconds a starting server (or worker) waits for Redis to answer; past that it "
        "exits with one line naming REDIS_URL (its password hidden). 0: start without "
        "waiting (GET /readyz answers 503 until Redis does).",
    )
    rate_limits: str = _setting(
        "",
        "ARENA_RATE_LIMITS",
        "Per-action rate limits over the defaults, as action=burst/per_second, comma-separated "
        "(e.g. lb.submit=20/10,auth.guest=300/30). See docs/protocol.md for the actions.",
    )
    boards: str = _setting(
        "",
        "ARENA_BOARDS",
        "Leaderboards: a JSON list, or @path to a JSON file (format in docs/protocol.md). "
        "Empty: global (desc, best, alltime) and daily (desc, best, daily).",
    )
    lb_cache_ttl_s: float = _setting(
        1.0, "ARENA_LB_CACHE_TTL", "Seconds a cached leaderboard top page is served."
    )
    profile_cache_ttl_s: float = _setting(
        60.0, "ARENA_PROFILE_CACHE_TTL", "Seconds a cached player profile is served."
    )
    lobby_grace_s: float = _setting(
        15.0,
        "ARENA_LOBBY_GRACE",
        "Seconds a player whose socket dropped keeps their lobby seat for a reconnect.",
    )
    party_grace_s: float = _setting(
        30.0,
        "ARENA_PARTY_GRACE",
        "Seconds a party member whose socket dropped keeps their place for a reconnect.",
    )
    match_feed_max: int = _setting(
        1000,
        "ARENA_MATCH_FEED_MAX",
        "Events a match's feed keeps for catching up; older ones are trimmed (FEED_TRIMMED).",
    )
    match_abandon_s: float = _setting(
        60.0,
        "ARENA_MATCH_ABANDON_S",
        "Seconds a running match may go without any of its players online (a live socket "
        "on a live node) before it ends abandoned, with no result.",
    )
    modes: str = _setting(
        "",
        "ARENA_MODES",
        "Game modes: a JSON object of mode -> {capacity, start_when_full, results, "
        "result_wait_s, boards, game, tick_rate, params, create, matchmaker, "
        "push_window_ms}, or @path to a JSON file "
        '(format in docs/protocol.md; "*" is every mode not named). Empty: the server-run '
        "games tictactoe and dots; every other mode has 8 seats, consensus results and "
        "feeds global and daily.",
    )
    host_lease_s: float = _setting(
        5.0,
        "ARENA_HOST_LEASE_S",
        "Seconds a node's hold on a server-run match lasts unless renewed (renewed every "
        "fifth of it): how long a match whose node died waits before another node takes it.",
    )
    host_sweep_s: float = _setting(
        0.5,
        "ARENA_HOST_SWEEP_S",
        "Seconds between a node's looks for server-run matches to take (new, handed off, "
        "or whose host's lease lapsed).",
    )
    host_snapshot_s: float = _setting(
        1.0,
        "ARENA_HOST_SNAPSHOT_S",
        "Seconds between snapshots of a server-run match's state (a node taking it over "
        "replays the inputs since the last one).",
    )
    mm_pass_s: float = _setting(
        0.5,
        "ARENA_MM_PASS_S",
        "Seconds between matchmaking passes over a mode's waiting tickets (each mode's "
        "passes run on one node at a time; another takes over within four of them).",
    )
    workers: int = _setting(
        1,
        "ARENA_WORKERS",
        "Result workers run inside the server process (0: none; run python -m server.worker).",
    )
    job_timeout_s: float = _setting(
        30.0,
        "ARENA_JOB_TIMEOUT",
        "Seconds a taken result job may stay unacknowledged before it is taken back and redone.",
    )
    job_tries: int = _setting(
        5, "ARENA_JOB_TRIES", "Tries before a failing result job goes to the dead letters."
    )
    chat_rooms: str = _setting(
        "general",
        "ARENA_CHAT_ROOMS",
        "Public chat rooms, comma-separated (lobby and match rooms always exist).",
    )
    server_key: str = _setting(
        "",
        "ARENA_SERVER_KEY",
        "Key trusted game servers send as Authorization: Bearer KEY. Empty: server routes off.",
    )
    log_level: str = _setting("INFO", "ARENA_LOG_LEVEL", "Logging level.")
    log_format: str = _setting(
        "text", "ARENA_LOG_FORMAT", "text (for a terminal) or json (one JSON object per line)."
    )
    metrics: int = _setting(
        1, "ARENA_METRICS", "1: record metrics and serve GET /metrics (Prometheus). 0: neither."
    )
    admin_key: str = _setting(
        "",
        "ARENA_ADMIN_KEY",
        "Key operators send as Authorization: Bearer KEY to /v1/admin/*. Empty: admin API off.",
    )
    max_sockets_per_ip: int = _setting(
        256,
        "ARENA_MAX_SOCKETS_PER_IP",
        "Open sockets one client address may hold on this node (per node: nginx's "
        "limit_conn bounds the total); one more is refused with 429 TOO_MANY_SOCKETS.",
    )
    header_timeout_s: float = _setting(
        10.0,
        "ARENA_HEADER_TIMEOUT",
        "Seconds a client has to send a request's headers once it connects or starts a "
        "request; a slower one (a slowloris) is disconnected.",
    )
    metrics_port: int = _setting(
        0,
        "ARENA_METRICS_PORT",
        "Serve GET /metrics on this port only (on ARENA_HOST), and 404 on the public port. "
        "0: /metrics on the public port. python -m server.nodes gives node i (from 1) this "
        "port + i - 1, as it does the game ports.",
    )
    trusted_proxies: str = _setting(
        "",
        "ARENA_TRUSTED_PROXIES",
        "Comma-separated addresses of load balancers whose X-Forwarded-For names the client "
        "(for per-address limits). Empty: the peer's address is the client's.",
    )
    gc_full_every: int = _setting(
        1000,
        "ARENA_GC_FULL_EVERY",
        "Younger collections of Python's cyclic garbage collector between two full ones "
        "(CPython's third threshold; its default is 10). A full pass walks every object "
        "(about a second at 15,000 sockets) and stalls every socket meanwhile.",
    )
    data_dir: str = _setting(
        "var", "ARENA_DATA_DIR", "Folder for the private Redis's data when REDIS_URL is empty."
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every setting from ``env`` (default ``os.environ``); ``overrides`` win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is not None and raw != "":
                values[f.name] = _convert(f, raw)
        values.update(overrides)
        return cls(**values).validated()

    @classmethod
    def from_args(
        cls,
        argv: Sequence[str] | None,
        env: Mapping[str, str] | None = None,
        *,
        prog: str = "python -m server",
    ) -> Settings:
        """Environment first, then command line flags on top."""
        parser = cls.argument_parser(prog)
        args = parser.parse_args(argv)
        flags = {k: v for k, v in vars(args).items() if v is not None}
        try:
            return cls.from_env(env, **flags)
        except ValueError as exc:
            parser.error(str(exc))

    @classmethod
    def argument_parser(cls, prog: str = "python -m server") -> argparse.ArgumentParser:
        parser = OneLineParser(
            prog=prog,
            allow_abbrev=False,
            description="Arena game server. Each flag overrides its environment variable.",
        )
        for f in dataclasses.fields(cls):
            kind = _kind(f)
            default = f.default if f.default != "" else "empty"
            parser.add_argument(
                "--" + f.name.replace("_", "-"),
                type=kind,
                default=None,
                metavar=_metavar(f.name, kind),
                help=f"{f.metadata['help']} [env {f.metadata['env']}; default: {default}]",
            )
        return parser

    def trusted_proxy_set(self) -> frozenset[str]:
        # Asked on every request: parsed once (Settings is frozen).
        return _proxy_set(self.trusted_proxies)

    def validated(self) -> Settings:
        """This, once every check (settings_checks.py) passed; else SettingError."""
        validate(self)
        return self

    def rate_limit_table(self) -> dict[str, RateLimit]:
        """The defaults with ``ARENA_RATE_LIMITS`` on top."""
        table = dict(DEFAULT_RATE_LIMITS)
        for item in filter(None, (part.strip() for part in self.rate_limits.split(","))):
            action, _, spec = item.partition("=")
            burst, _, per_s = spec.partition("/")
            try:
                limit = RateLimit(int(burst), float(per_s))
            except ValueError:
                raise SettingError(
                    "ARENA_RATE_LIMITS", RATE_LIMITS_FORM + " (e.g. lb.submit=20/10)", got=item
                ) from None
            if limit.burst < 1 or limit.per_s <= 0:
                raise SettingError(
                    "ARENA_RATE_LIMITS", RATE_LIMITS_FORM + " with burst and rate above 0", got=item
                )
            table[action.strip()] = limit
        return table

    def board_specs(self) -> tuple[BoardSpec, ...]:
        return parse_boards(self.boards)

    def mode_book(self) -> ModeBook:
        """Every game mode's definition, from ``ARENA_MODES`` (checked against the boards)."""
        boards = self.board_specs()
        server_boards = {board.id for board in boards if board.writers is Writers.SERVER}
        return parse_modes(self.modes, {board.id for board in boards}, server_boards)

    def public_rooms(self) -> frozenset[str]:
        rooms = frozenset(r.strip() for r in self.chat_rooms.split(",") if r.strip())
        for room in rooms:
            if not PUBLIC_ROOM.match(room):
                raise SettingError(
                    "ARENA_CHAT_ROOMS",
                    "room names of 1 to 32 of a-z, 0-9, _ and -, comma-separated",
                    got=room,
                )
        return rooms


def _metavar(name: str, kind: type) -> str:
    if kind is str:
        return "TEXT"
    if name.endswith("_per_s"):
        return "RATE"
    if name.endswith("_s"):
        return "SECONDS"
    return "N"


def _kind(f: dataclasses.Field[Any]) -> type:
    return {"int": int, "float": float, "str": str}[str(f.type)]


def _convert(f: dataclasses.Field[Any], raw: str) -> Any:
    kind = _kind(f)
    try:
        if kind is float and not math.isfinite(float(raw)):  # nan, inf: no wait or rate
            raise ValueError(raw)
        return kind(raw)
    except ValueError:
        accepts = "a whole number" if kind is int else "a number"
        raise SettingError(f.metadata["env"], accepts, got=raw) from None


@functools.lru_cache(maxsize=8)
def _proxy_set(trusted_proxies: str) -> frozenset[str]:
    return frozenset(p.strip() for p in trusted_proxies.split(",") if p.strip())
