"""Where Arena is going: how many players one 16-core machine with 64 GB holds as 16 nodes,
and what Redis must absorb per second at that size, from figures measured in the same run
(memory and CPU per socket, CPU per delivery on the server and in Redis, one Redis core's
ZADD/s) and from the code's own intervals (``server/settings.py``). The arithmetic is
printed with its result, and every assumption is named."""

from __future__ import annotations

import math
from dataclasses import dataclass

from loadtest.bench.summary import BoardHeadline, RelayHeadline, SocketsHeadline
from server.settings import Settings

CORES = 16
MEMORY_GB = 64
NODES = 16  # one node per core
MEMORY_SHARE = 0.8  # of the machine's memory for the nodes' processes: the rest for the
# kernel (socket buffers are not in a process's RSS), the OS and page cache
CPU_SHARE = 0.75  # of a node's core for the relay: the rest for upkeep, opens, bursts
MASTERS = 3
MATCH_S = 300.0  # assumed: a match lasts five minutes, then its players queue again
# Redis operations per player per presence heartbeat: refresh_live_sockets.lua (GET, then
# PEXPIRE on the live-socket key) and presence_stamp.lua (the player's member of one
# ZMSCORE and of one ZADD over a chunk of players: two commands a chunk, not two a player).
PRESENCE_OPERATIONS = 4


@dataclass(frozen=True, slots=True)
class Load:
    """What Redis absorbs per second with ``players`` on the machine."""

    players: float
    presence_per_s: float  # operations/s, all on the {presence} slot
    idle_redis_cores: float  # Redis CPU for connected players, from the idle measure
    sessions_per_s: float  # EXPIREs/s, spread over slots
    relay_calls_per_s: float  # match.send script calls/s, spread by match
    relay_redis_cores: float  # Redis CPU for them, in cores
    relay_node_cores: float  # the nodes' CPU for the same relay, in cores
    redis_gb: float


@dataclass(frozen=True, slots=True)
class Projection:
    per_node_memory: float  # sockets one node's share of memory holds
    per_node_cpu: float  # players one node's core relays for at 20 Hz
    connected: Load  # every node full by memory, players connected and idle
    playing: Load  # every node full by memory or relay CPU, every player playing


def _load(
    players: float, s: SocketsHeadline, r: RelayHeadline, presence_s: float, session_s: float
) -> Load:
    deliveries = players * r.hz * r.seats
    return Load(
        players=players,
        presence_per_s=players * PRESENCE_OPERATIONS / presence_s,
        idle_redis_cores=players * s.redis_idle_share / s.sockets if s.sockets else math.nan,
        sessions_per_s=players / session_s,
        relay_calls_per_s=players * r.hz,
        relay_redis_cores=deliveries * r.redis_us / 1e6,
        relay_node_cores=deliveries * r.server_us / 1e6,
        redis_gb=players * s.redis_bytes_per_player / 1024**3,
    )


def project(s: SocketsHeadline, r: RelayHeadline, settings: Settings) -> Projection:
    node_mb = MEMORY_GB * 1024 * MEMORY_SHARE / NODES - s.base_mb
    per_node_memory = max(0.0, node_mb * 1024 / s.kb_per_socket)
    per_player_us = r.hz * r.seats * r.server_us  # server CPU per playing player per second
    per_node_cpu = CPU_SHARE * 1e6 / per_player_us if per_player_us else math.nan
    idle_every_s = settings.session_ttl_s / 3  # server/upkeep.py: an idle session's refresh
    every = settings.presence_interval_s
    return Projection(
        per_node_memory=per_node_memory,
        per_node_cpu=per_node_cpu,
        connected=_load(NODES * per_node_memory, s, r, every, idle_every_s),
        playing=_load(
            NODES * min(per_node_memory, per_node_cpu),
            s,
            r,
            every,
            settings.session_touch_interval_s,
        ),
    )


def _beyond_one_core(cores: float) -> str:
    if math.isnan(cores) or cores <= 1.0:
        return ""
    return (
        " One slot is one master's one thread: **the all-connected figure is out of reach** "
        "until presence is spread over several slots (per-node liveness, or the online set "
        "sharded by player)."
    )


def _n(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:,.0f}"


def _share(x: float, of: float) -> str:
    return f"{x / of:.0%}" if of and not math.isnan(x) and not math.isnan(of) else "n/a"


def render(
    s: SocketsHeadline, r: RelayHeadline, b: BoardHeadline | None, settings: Settings
) -> str:
    p = project(s, r, settings)
    c, g = p.connected, p.playing
    core = b.zadd_per_s if b is not None else math.nan  # one Redis core's commands/s
    core_text = (
        f"{core:,.0f} ZADD/s (`redis-benchmark`, 50 clients, this run)" if b else "not measured"
    )
    bound = "memory" if p.per_node_memory <= p.per_node_cpu else "the relay's CPU"
    per_match = r.seats * r.hz
    idle_share = s.idle_share / s.sockets * p.per_node_memory if s.sockets else math.nan
    starts = g.players / r.seats / MATCH_S
    queue = g.players / MATCH_S
    measured = "" if b is None else f" (this run: {b.submits_per_s:,.0f}/s through one node)"
    every = settings.presence_interval_s
    session_idle_s = settings.session_ttl_s / 3
    node_rows = [
        ("players, by memory",
         f"({MEMORY_GB} GB × {MEMORY_SHARE:.0%} ÷ {NODES} − {s.base_mb:.0f} MB) "
         f"÷ {s.kb_per_socket:.1f} KB", _n(p.per_node_memory)),
        ("idle CPU with that many sockets",
         f"{s.idle_share:.1%} ÷ {s.sockets:,} × {_n(p.per_node_memory)}",
         f"{idle_share:.0%} of a core"),
        ("players playing, by relay CPU",
         f"{CPU_SHARE:.0%} × 1 s ÷ ({per_match:g} × {r.server_us:.2f} µs)", _n(p.per_node_cpu)),
        ("CPU to reopen every socket after a restart, all connected",
         f"{_n(p.per_node_memory)} × {s.open_us:.0f} µs",
         f"{p.per_node_memory * s.open_us / 1e6:.1f} s"),
    ]  # fmt: skip

    def cores(x: float) -> str:
        return f"{x:.1f} ({x / MASTERS:.1f})"

    def of_core(x: float) -> str:
        return _n(x) if math.isnan(core) else f"{_n(x)} ({_share(x, core)} of a core)"

    machine_rows = [
        ("**players**", f"{NODES} × the per-node bound",
         f"**{_n(c.players)}**", f"**{_n(g.players)}**"),
        ("Redis: presence operations/s, all on one slot",
         f"N × {PRESENCE_OPERATIONS} ÷ {every:g} s",
         of_core(c.presence_per_s), of_core(g.presence_per_s)),
        ("Redis: CPU for connected players (heartbeat and upkeep, measured idle), cores",
         f"N × {s.redis_idle_share:.1%} ÷ {s.sockets:,}",
         f"{c.idle_redis_cores:.2f}", f"{g.idle_redis_cores:.2f}"),
        ("Redis: session refreshes (EXPIRE/s), spread over slots",
         f"N ÷ {session_idle_s:g} s idle, N ÷ {settings.session_touch_interval_s:g} s playing",
         _n(c.sessions_per_s), _n(g.sessions_per_s)),
        (f"Redis: relay script calls/s, all playing at {r.hz:g} Hz, spread by match",
         f"N × {r.hz:g}", "- (idle: no relay)", _n(g.relay_calls_per_s)),
        (f"Redis: CPU for that relay, cores ({MASTERS}-master cluster: per master)",
         f"N × {per_match:g} × {r.redis_us:.2f} µs",
         "-", cores(g.relay_redis_cores)),
        (f"the nodes' CPU for that relay, cores (of {CORES})",
         f"N × {per_match:g} × {r.server_us:.2f} µs",
         "-", f"{g.relay_node_cores:.1f}"),
        ("Redis memory", f"N × {s.redis_bytes_per_player:,.0f} bytes",
         f"{c.redis_gb:.2f} GB", f"{g.redis_gb:.2f} GB"),
    ]  # fmt: skip
    tables = "\n".join(
        ["| per node | arithmetic | result |", "|---|---|---|"]
        + [f"| {a} | {x} | {y} |" for a, x, y in node_rows]
        + [
            "",
            f"| the machine ({NODES} nodes), per second | arithmetic (N players) "
            f"| N = all connected, idle ({NODES} × memory's bound) "
            f"| N = all playing ({bound} bounds) |",
            "|---|---|---|---|",
        ]
        + [f"| {a} | {x} | {y} | {z} |" for a, x, y, z in machine_rows]
    )
    return f"""### Projection: one {CORES}-core machine with {MEMORY_GB} GB as {NODES} nodes

Measured in this run: {s.kb_per_socket:.1f} KB of server memory per idle socket (its
login included); a fresh node {s.base_mb:.0f} MB; {s.open_us:.0f} µs of server CPU per
open; idle, {s.idle_share:.1%} of a core for {s.sockets:,} sockets; relay CPU per delivery
{r.server_us:.2f} µs in the server and {r.redis_us:.2f} µs in Redis (at {r.at_matches}
matches); {s.redis_bytes_per_player:,.0f} bytes of Redis per player; one Redis core:
{core_text}. From the code (`server/settings.py` defaults, `server/upkeep.py`): a presence
heartbeat every {every:g} s with {PRESENCE_OPERATIONS} operations per player
(`refresh_live_sockets.lua`: GET, PEXPIRE; `presence_stamp.lua`: a member of one ZMSCORE
and of one ZADD per chunk of players); a session
refreshed at most every {settings.session_touch_interval_s:g} s while its player is active,
every {settings.session_ttl_s / 3:g} s (a third of its TTL) while idle. Assumed: one node per
core; the nodes get {MEMORY_SHARE:.0%} of the memory (the kernel's socket buffers are not in
their RSS); the relay may take {CPU_SHARE:.0%} of a node's core; players play in matches of
{r.seats} at {r.hz:g} Hz ({per_match:g} deliveries/s each); a match lasts {MATCH_S:.0f} s;
Redis runs on machines of its own.

{tables}

The single-slot keys, which a cluster cannot spread, saturate first (figures for N all
playing; one Redis core's ZADD/s, a round trip each, is the yardstick, so a command run
inside a script costs less than its share shows):

- `arena:{{presence}}:online` and every `arena:{{presence}}:live:*` (one hash tag, so one
  master): {of_core(g.presence_per_s)} operations/s from the heartbeats alone (all
  connected: {of_core(c.presence_per_s)}), before any open, close or lookup. Measured
  rather than counted, Redis spent {s.redis_idle_share:.1%} of a core on {s.sockets:,}
  idle players (the heartbeat, mostly): {c.idle_redis_cores:.2f} cores' worth all
  connected, nearly all of it on this one slot.{_beyond_one_core(c.idle_redis_cores)}
- `arena:{{matches}}:running` (the running-match index, with its summaries and seen sets):
  about {_n(starts)} match starts/s and as many ends.
- `arena:{{mm:MODE}}:queue` of a mode everyone plays: {_n(queue)} tickets/s if every player
  queues once per match.
- a leaderboard everyone submits to (`arena:lb:{{BOARD:PERIOD}}:*`): {_n(queue)} submits/s
  at one submit per player per match{measured}.
- `arena:lobbies:open:MODE` and `arena:lobbies:seat-leases`: every lobby change and seat
  renewal (untagged, one key each).
"""
