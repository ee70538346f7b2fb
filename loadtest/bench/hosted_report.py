"""The server-run matches benchmark's section of docs/benchmarks.md: the figures first,
then the climb step by step, the relay beside it, every kill, and notes on what may have
coloured them."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from loadtest.bench.common import OTHER_CPU
from loadtest.bench.hosted_failover import INPUT_EVERY_S, KILLS, Round
from loadtest.bench.hosted_load import (
    HZ,
    LATENESS_LIMIT_S,
    SEATS,
    STEP_S,
    TICK_RATE,
    HostedStep,
)
from loadtest.bench.relay_load import StepResult

GENERATOR_BUSY = 0.9


@dataclass(frozen=True, slots=True)
class HostedRun:
    climb: list[HostedStep]
    relay: list[StepResult]  # the same count twice: right after set-up, then again
    rounds: list[Round]
    logs: dict[str, str]  # part -> its servers' logs, one after another
    wall_s: dict[str, float]  # part -> seconds it took, set-up included
    lease_s: float


def _late(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    if math.isinf(seconds):
        return "> 1 s"
    return f"≤ {seconds * 1000:g} ms"


def _best(steps: list[HostedStep]) -> HostedStep | None:
    return max((s for s in steps if s.passed), key=lambda s: s.matches, default=None)


def _why(step: HostedStep) -> str:
    reasons = []
    if step.lateness_p99 > LATENESS_LIMIT_S:
        reasons.append(f"p99 lateness {_late(step.lateness_p99)}")
    if step.metrics.skipped:
        reasons.append(f"{step.metrics.skipped:,.0f} ticks skipped")
    if step.missing:
        reasons.append(f"{step.missing:,} inputs never shown")
    if step.errors or step.closed:
        reasons.append(f"{step.errors} errors, {step.closed} sockets closed")
    if step.sent < step.scheduled:
        reasons.append(f"sent {step.sent:,} of {step.scheduled:,} inputs")
    return ", ".join(reasons)


def _climb_table(steps: list[HostedStep]) -> str:
    rows = [
        "| matches | players | ticks/s run (due) | tick batches | started ≤ 5 ms late "
        "| p99 lateness | skipped ticks | input → broadcast p50 / p99 ms | broadcasts "
        "received/s | CPU: server / Redis / generator | busy: core 0 / core 1 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in steps:
        mark = "**" if s.passed else ""
        rows.append(
            f"| {mark}{s.matches}{mark} | {s.players:,} "
            f"| {s.ticks_per_s:,.0f} ({s.matches * TICK_RATE:,}) | {s.metrics.batches:,} "
            f"| {s.metrics.share_within(LATENESS_LIMIT_S):.1%} "
            f"| {mark}{_late(s.lateness_p99)}{mark} "
            f"| {s.metrics.skipped:,.0f} | {s.p50_ms:.1f} / {s.p99_ms:.1f} "
            f"| {s.broadcasts_per_s:,.0f} "
            f"| {s.server_cpu:.0%} / {s.redis_cpu:.0%} / {s.generator_cpu:.0%} "
            f"| {s.core_busy[0]:.0%} / {s.core_busy[1]:.0%} |"
        )
    return "\n".join(rows)


def _rows(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _versus(best: HostedStep | None, relay: StepResult | None) -> str:
    if best is None or relay is None:
        return "(no step passed: no comparison)"
    inputs = best.players * HZ
    arrived = "yes" if relay.all_arrived else f"no ({relay.missing:,} missing)"
    hosted_out, relay_out = best.broadcasts_per_s, relay.delivered_per_s
    return _rows(
        (
            f"at {best.matches} matches of {SEATS} ({best.players:,} players)",
            "server-run (bench game)",
            "relay (`match.send`)",
        ),
        [
            ("messages from players/s", f"{inputs:,} inputs", f"{relay.offered:,} events"),
            (
                "pushes delivered to players/s",
                f"{hosted_out:,.0f} broadcasts (one a tick to each player)",
                f"{relay_out:,.0f} events (each to the {SEATS} players)",
            ),
            (
                "latency p50 / p99 ms",
                f"{best.p50_ms:.1f} / {best.p99_ms:.1f} (input → the broadcast reflecting it)",
                f"{relay.p50_ms:.1f} / {relay.p99_ms:.1f} (send → receipt; all arrived: {arrived})",
            ),
            (
                "CPU, share of a core: server / Redis",
                f"{best.server_cpu:.0%} / {best.redis_cpu:.0%}",
                f"{relay.server_cpu:.0%} / {relay.redis_cpu:.0%}",
            ),
            (
                "server CPU per player",
                f"{best.server_cpu / best.players * 1e6:,.0f} µs/s",
                f"{relay.server_cpu / relay.players * 1e6:,.0f} µs/s",
            ),
            (
                "server CPU per message in / per push out, µs",
                f"{best.server_cpu / inputs * 1e6:.1f} / {best.server_cpu / hosted_out * 1e6:.1f}",
                f"{relay.server_cpu / relay.offered * 1e6:.1f} / "
                f"{relay.server_cpu / relay_out * 1e6:.1f}",
            ),
            (
                "busy: core 0 / core 1",
                f"{best.core_busy[0]:.0%} / {best.core_busy[1]:.0%}",
                f"{relay.core_busy[0]:.0%} / {relay.core_busy[1]:.0%}",
            ),
        ],
    )


def _kills_table(rounds: list[Round]) -> str:
    rows = [
        "| kill | → `match.resync`, first / last observer, s | → first broadcast after it, s "
        "| resumed at tick (epoch) | acknowledged inputs lost | ticks received twice "
        "| ticks not received live |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rounds, 1):
        rows.append(
            f"| {i} | {r.resync_s:.2f} / {r.resync_last_s:.2f} | {r.broadcast_s:.2f} "
            f"| {r.tick} ({r.epoch}) | {r.acked_lost} | {r.repeated} | {r.skipped_ticks} |"
        )
    return "\n".join(rows)


def _relay_notes(relay: list[StepResult]) -> list[str]:
    notes = []
    if len(relay) > 1:
        warm = relay[0]
        notes.append(
            f"The relay's first {STEP_S:.0f} s at {warm.matches} matches, right after its "
            f"players logged in and met in lobbies (the table gives the second): "
            f"{warm.delivered_per_s:,.0f} deliveries/s, p50 / p99 {warm.p50_ms:.1f} / "
            f"{warm.p99_ms:.1f} ms, server {warm.server_cpu:.0%} of a core."
        )
    other = [r.other_cpu for r in relay if r.other_cpu >= OTHER_CPU]
    if other:
        notes.append(
            f"The relay's steps: other work on the machine took up to {max(other):.0%} of a core."
        )
    return notes


def _log_note(part: str, log: str) -> str:
    lines = log.splitlines()
    errors = [x for x in lines if " ERROR " in x or "Traceback" in x]
    warnings = [x for x in lines if " WARNING " in x]
    if not errors and not warnings:
        return f"The {part}'s server logs held no warnings or errors."
    first = (errors or warnings)[0][:200]
    return (
        f"The {part}'s server logs held {len(errors)} errors, {len(warnings)} warnings; "
        f"first: `{first}`."
    )


def _relay(run: HostedRun) -> StepResult | None:
    """The relay's step compared: the last one."""
    return run.relay[-1] if run.relay else None


def _p50_max(values: list[float]) -> str:
    got = [v for v in values if not math.isnan(v)]
    if not got:
        return "-"
    return f"{statistics.median(got):.2f} s / {max(got):.2f} s"


def _notes(run: HostedRun) -> list[str]:
    notes = []
    busy = [s.matches for s in run.climb if s.core_busy[1] >= GENERATOR_BUSY]
    if busy:
        notes.append(
            f"The generator's core (with Redis) was {GENERATOR_BUSY:.0%} busy or more at "
            f"{', '.join(map(str, sorted(set(busy))))} matches: Redis answers the node's tick "
            "reads and commits from that core, so there the lateness is partly the generator's."
        )
    other = [s for s in run.climb if s.other_cpu >= OTHER_CPU]
    if other:
        worst = max(other, key=lambda s: s.other_cpu)
        notes.append(
            f"Work other than the server, the generator, Redis and the network's interrupts "
            f"took {OTHER_CPU:.0%} of a core or more at "
            f"{', '.join(str(s.matches) for s in other)} matches (at most "
            f"{worst.other_cpu:.0%}, at {worst.matches}): the machine was not the bench's "
            "alone, and those steps say less."
        )
    repeated = sorted(
        {s.matches for s in run.climb if not s.passed} & {s.matches for s in run.climb if s.passed}
    )
    if repeated:
        notes.append(
            f"{', '.join(map(str, repeated))} matches failed once and passed when repeated: "
            "noise from the machine, most likely."
        )
    notes += _relay_notes(run.relay)
    timed_out = [i for i, r in enumerate(run.rounds, 1) if math.isnan(r.resync_last_s)]
    if timed_out:
        notes.append(f"Kills {timed_out}: not every observer heard match.resync in time.")
    notes += [_log_note(part, log) for part, log in run.logs.items()]
    return notes


def _summary(run: HostedRun) -> str:
    best = _best(run.climb)
    failed = next((s for s in run.climb if best is None or s.matches > best.matches), None)
    stop = f"; {failed.matches} failed ({_why(failed)})" if failed else ""
    rounds, relay = run.rounds, _relay(run)
    lease = f"{run.lease_s:g} s" + (", the default" if run.lease_s == 5.0 else ", not the default")
    at = best.matches if best else "-"
    return _rows(
        ("measure", "figure"),
        [
            (
                f"matches one core hosts with p99 tick lateness ≤ {LATENESS_LIMIT_S * 1000:g} ms",
                f"**{best.matches}** ({best.players:,} players){stop}" if best else "none",
            ),
            (
                f"input → the broadcast reflecting it, p50 / p99, at {at} matches",
                f"**{best.p50_ms:.1f} / {best.p99_ms:.1f} ms**" if best else "-",
            ),
            (
                f"failover over {len(rounds)} SIGKILLs of the host (lease {lease}): kill → "
                "`match.resync` at every observer, p50 / max",
                f"**{_p50_max([r.resync_last_s for r in rounds])}**",
            ),
            (
                "kill → the first broadcast from the new host, p50 / max",
                _p50_max([r.broadcast_s for r in rounds]),
            ),
            (
                "over the kills: acknowledged inputs lost / ticks received twice",
                f"{sum(r.acked_lost for r in rounds)} / {sum(r.repeated for r in rounds)}",
            ),
            (
                f"beside it: the relay, the same matches, `match.send` at {HZ} Hz",
                f"{relay.delivered_per_s:,.0f} deliveries/s, server {relay.server_cpu:.0%} of a "
                f"core, Redis {relay.redis_cpu:.0%}"
                if relay
                else "-",
            ),
        ],
    )


def render(run: HostedRun) -> str:
    lease = f"{run.lease_s:g} s" + (", the default" if run.lease_s == 5.0 else ", not the default")
    wall = ", ".join(f"{part} {s:.0f} s" for part, s in run.wall_s.items())
    notes = "\n".join(f"- {n}" for n in _notes(run))
    title = f"the bench game: {SEATS} players, {TICK_RATE} Hz, each player sending {HZ} inputs/s"
    return f"""### Server-run matches ({title})

{_summary(run)}

The climb (one node on core 0; each step sends every player's inputs for {STEP_S:.0f} s; every
match added so far ticks, inputs or not). A step passes (bold) when the schedule was sent,
every input showed in a broadcast, no tick was skipped, no error came back, and at least 99%
of the node's tick batches started at most {LATENESS_LIMIT_S * 1000:g} ms late
(`arena_match_tick_lateness_seconds`, read before and after the sending; its buckets are
1, 2.5, 5, 10, 25, 50, 100, 250 ms and 1 s, so the p99 column gives the bucket). A failed
step runs once more; a second failure ends the climb. The broadcasts received/s column
counts every player's copy. Inputs are sent at random moments between ticks, so the wait
for the next tick alone is 0 to {1000 / TICK_RATE:.0f} ms: an input-to-broadcast p50 near
{500 / TICK_RATE:.0f} ms and p99 near {1000 / TICK_RATE:.0f} ms is the tick rate's part,
and what is above it the server's.

{_climb_table(run.climb)}

Beside it, the relay on a fresh node and Redis: the same matches of {SEATS}, each player
sending `match.send` (no rid) at {HZ} Hz, {STEP_S:.0f} s, the relay bench's generator:

{_versus(_best(run.climb), _relay(run))}

Failover: two nodes on one Redis (both on core 0), one match with its players split
between them (4 each), every player sending an input with a rid every
{INPUT_EVERY_S * 1000:.0f} ms. Each kill SIGKILLs the node hosting the match at a random
moment within its lease renewal period, and times, at the 4 players on the other node
(the observers), the arrival of `match.resync` and of the next broadcast; then a fresh
node (a new process and node id) takes the dead one's place and its 4 players log back
in there, so the next kill falls on the other side. Lease {lease}, sweep 0.5 s: the new
host can claim only once the lease lapses, so the kill-to-resync time is the lease left
at the kill ({run.lease_s * 0.8:g} to {run.lease_s:g} s: it is renewed every fifth of it)
plus up to a sweep, plus the claim, restore and replay.

{_kills_table(run.rounds)}

{notes}
- This section took {wall} (set-up included); {KILLS} kills.
"""
