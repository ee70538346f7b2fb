"""The top of docs/benchmarks.md's generated part: one row per figure of issue 19, Arena
beside its named baseline with the ratio and the issue's aim, from the headline figures
the sections return. The 16-core projection built from the same figures is in
``loadtest.bench.projection``."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RelayHeadline:
    """The relay's figures: Arena one node (its Redis on the server's core) and the bare relay."""

    deliveries_per_s: float  # best passing step (p99 < 100 ms, all delivered)
    bare_per_s: float
    at_matches: int  # the step where the CPU per delivery below was read (0: none)
    server_us: float  # Arena's server CPU per delivery there
    redis_us: float  # its Redis's CPU per delivery there
    bare_us: float  # the bare relay's CPU per delivery at the same step
    seats: int  # players per match
    hz: float  # events per player per second

    @property
    def arena_us(self) -> float:
        """Server + Redis: the issue's measure, Redis counted on the server's side."""
        return self.server_us + self.redis_us


@dataclass(frozen=True, slots=True)
class SocketsHeadline:
    """The connection bench's figures, Arena beside the bare aiohttp server."""

    sockets: int  # held
    kb_per_socket: float  # server memory per idle socket, its login included
    bare_kb_per_socket: float
    base_mb: float  # a fresh server's resident memory
    open_us: float  # server CPU per socket open
    bare_open_us: float
    close_us: float  # server CPU per socket closed after the mass drop
    bare_close_us: float
    open_p99_ms: float  # 100 in flight: mostly the wait behind the other opens
    bare_open_p99_ms: float
    late_open_p99_ms: float  # one at a time, every socket held
    bare_late_open_p99_ms: float
    redis_bytes_per_player: float
    idle_share: float  # the server's CPU, as a share of a core, idle with every socket open
    redis_idle_share: float  # Redis's meanwhile (the presence heartbeat, mostly)


@dataclass(frozen=True, slots=True)
class BoardHeadline:
    submits_per_s: float  # through the server, one Redis
    zadd_per_s: float  # redis-benchmark ZADD on the same Redis: what one Redis core does


@dataclass(frozen=True, slots=True)
class LobbyHeadline:
    joins_per_s: float
    lock_holds_per_s: float  # the lobby lock alone, same Redis, same run


@dataclass(frozen=True, slots=True)
class Headlines:
    """Whatever sections ran; a section not run leaves its part None."""

    relay: RelayHeadline | None = None
    sockets: SocketsHeadline | None = None
    boards: BoardHeadline | None = None
    lobbies: LobbyHeadline | None = None


@dataclass(frozen=True, slots=True)
class Row:
    measure: str
    arena: float
    baseline: float
    baseline_name: str
    unit: str
    aim: str
    met: bool | None  # None: not measured (nan)
    cost: bool  # lower is better: the ratio reads as a multiple, else as a share


def _met(value: float, ok: bool) -> bool | None:
    return None if math.isnan(value) else ok


def rows(h: Headlines) -> list[Row]:
    out: list[Row] = []
    if (r := h.relay) is not None:
        out += [
            Row("relay ceiling, deliveries/s (p99 < 100 ms, all delivered)",
                r.deliveries_per_s, r.bare_per_s, "bare aiohttp relay", "/s",
                "at or above the baseline",
                # No passing step on either side (0): nothing to say, not a pass.
                _met(r.deliveries_per_s * r.bare_per_s or math.nan,
                     r.deliveries_per_s >= r.bare_per_s), False),
            Row(f"relay CPU per delivery, server + Redis (at {r.at_matches} matches)",
                r.arena_us, r.bare_us, "bare aiohttp relay (no Redis)", "µs",
                "under 4 µs", _met(r.arena_us, r.arena_us < 4.0), True),
        ]  # fmt: skip
    if (s := h.sockets) is not None:
        bare = "bare aiohttp WebSocket server"
        out += [
            Row("server CPU per socket open", s.open_us, s.bare_open_us, bare, "µs",
                "under 250 µs", _met(s.open_us, s.open_us < 250), True),
            Row("server memory per idle socket", s.kb_per_socket, s.bare_kb_per_socket, bare,
                "KB", "at or under the baseline",
                _met(s.kb_per_socket, s.kb_per_socket <= s.bare_kb_per_socket), True),
            Row("server CPU per socket closed, after every client dropped at once",
                s.close_us, s.bare_close_us, bare, "µs", "under 100 µs",
                _met(s.close_us, s.close_us < 100), True),
            Row(f"open p99 at {s.sockets:,} sockets, 100 opening at once", s.open_p99_ms,
                s.bare_open_p99_ms, bare, "ms", "under 50 ms",
                _met(s.open_p99_ms, s.open_p99_ms < 50), True),
            Row(f"open p99 with {s.sockets:,} sockets held, one opening at a time",
                s.late_open_p99_ms, s.bare_late_open_p99_ms, bare, "ms", "under 50 ms",
                _met(s.late_open_p99_ms, s.late_open_p99_ms < 50), True),
        ]  # fmt: skip
    if (b := h.boards) is not None:
        share = b.submits_per_s / b.zadd_per_s if b.zadd_per_s else math.nan
        out.append(
            Row("leaderboard submits/s through the server (one Redis)", b.submits_per_s,
                b.zadd_per_s, "`redis-benchmark` ZADD/s, same Redis", "/s",
                "30% of the baseline", _met(share, share >= 0.30), False)
        )  # fmt: skip
    if (lb := h.lobbies) is not None:
        out.append(
            Row("lobby joins/s through the server", lb.joins_per_s, lb.lock_holds_per_s,
                "the lobby lock alone (holds/s), same Redis", "/s", "8,000/s",
                _met(lb.joins_per_s, lb.joins_per_s >= 8000), False)
        )  # fmt: skip
    return out


def _value(x: float, unit: str) -> str:
    if math.isnan(x):
        return "n/a"
    if unit == "/s":
        return f"{x:,.0f}/s"
    return f"{x:,.1f} {unit}" if x < 100 else f"{x:,.0f} {unit}"


def _ratio(row: Row) -> str:
    if math.isnan(row.arena) or math.isnan(row.baseline) or not row.baseline:
        return "n/a"
    ratio = row.arena / row.baseline
    return f"{ratio:.2f}×" if row.cost else f"{ratio:.0%}"


def table(h: Headlines) -> str:
    """The summary, or "" when no section with an issue-19 figure ran."""
    found = rows(h)
    if not found:
        return ""
    lines = [
        "### Summary: issue 19's figures beside their baselines",
        "",
        "Every figure below was measured in this run; the sections after it give the detail.",
        "Ratio: Arena ÷ baseline (a share for rates, a multiple for costs).",
        "",
        "| measure | Arena | baseline | ratio | aim | met? |",
        "|---|---|---|---|---|---|",
    ]
    for row in found:
        met = {True: "**yes**", False: "no", None: "n/a"}[row.met]
        lines.append(
            f"| {row.measure} | **{_value(row.arena, row.unit)}** "
            f"| {_value(row.baseline, row.unit)}, {row.baseline_name} | {_ratio(row)} "
            f"| {row.aim} | {met} |"
        )
    return "\n".join(lines) + "\n"
