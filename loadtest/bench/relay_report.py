"""The room relay benchmark's section of docs/benchmarks.md: a table per target, the four
side by side, and notes on what stopped each climb and what may have coloured it."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import msgpack

from loadtest.bench.common import OTHER_CPU
from loadtest.bench.relay_load import (
    BEHIND_MS,
    HZ,
    P99_LIMIT_MS,
    SEATS,
    STEP_S,
    StepResult,
    event_data,
)
from loadtest.bench.summary import RelayHeadline

GENERATOR_BUSY = 0.9  # the generator's core this busy: the generator may be what limits


@dataclass(frozen=True, slots=True)
class Climbed:
    """One target's steps, and the server's log (Arena's nodes, one after another)."""

    results: list[StepResult]
    log: str | None


NAMES = {
    "single": "Arena, one node, one Redis on the server's core",
    "window": "Arena, one node, one Redis on the server's core, push window 10 ms",
    "cluster": "Arena, one node, 3-master Redis Cluster",
    "two nodes": "Arena, two nodes, one Redis",
    "bare": "The bare relay",
}


def _table(
    results: list[StepResult], cores: str = "core 0 (server) / core 1 (generator + Redis)"
) -> str:
    rows = [
        "| matches | players | offered events/s | delivered/s | p50 ms | p99 ms | all arrived? "
        f"| send lag p99 ms | busy: {cores} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        arrived = "yes" if r.all_arrived else f"no: {r.missing:,} missing, {r.extra:,} extra"
        if r.errors:
            arrived += f", {r.errors:,} errors"
        if r.closed:
            arrived += f", {r.closed:,} sockets closed"
        if r.sent < r.scheduled:
            arrived += f" (sent {r.sent:,} of {r.scheduled:,})"
        mark = "**" if r.passed else ""
        rows.append(
            f"| {mark}{r.matches}{mark} | {r.players:,} | {r.offered:,} "
            f"| {mark}{r.delivered_per_s:,.0f}{mark} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
            f"| {arrived} | {r.send_lag_p99_ms:.1f} "
            f"| {r.core_busy[0]:.0%} / {r.core_busy[1]:.0%} |"
        )
    return "\n".join(rows)


def _best(results: list[StepResult]) -> StepResult | None:
    return max((r for r in results if r.passed), key=lambda r: r.matches, default=None)


def _listed(values: list[int]) -> str:
    return ", ".join(str(v) for v in sorted(set(values)))


def _notes(name: str, results: list[StepResult]) -> list[str]:
    """What stopped a target's climb."""
    notes = []
    failed = [r for r in results if not r.passed]
    best = max((r.matches for r in results if r.passed), default=0)
    if not failed:
        notes.append(f"{name}: every step passed; the time budget ended the climb.")
    else:
        f = min(
            (r for r in failed if r.matches > best), key=lambda r: r.matches, default=failed[-1]
        )
        why = "p99 over the limit" if f.p99_ms >= P99_LIMIT_MS else "events lost or late"
        redis = f", Redis {f.redis_cpu:.0%}" if f.redis_cpu else ""
        notes.append(
            f"{name} failed at {f.matches} matches ({why}) with the server's core "
            f"{f.core_busy[0]:.0%} busy (the server's processes {f.server_cpu:.0%} of a core) "
            f"and the generator's {f.core_busy[1]:.0%} (generator {f.generator_cpu:.0%}{redis})."
        )
        if max(f.core_busy) < GENERATOR_BUSY:
            notes.append(
                f"{name}: neither core was {GENERATOR_BUSY:.0%} busy when it failed, so the load "
                "does not explain the failure by itself: other work on the machine may have "
                "taken a share; compare several runs."
            )
    passed_later = sorted({r.matches for r in failed if r.matches <= best})
    if passed_later:
        notes.append(
            f"{name}: {_listed(passed_later)} matches failed once and passed when repeated "
            "(or a larger step passed): noise from the machine, most likely."
        )
    return notes


def _generator_notes(name: str, results: list[StepResult]) -> list[str]:
    """Where the generator, or other work on the machine, may have limited or coloured the
    figures."""
    notes = []
    own = [r.matches for r in results if r.core_busy[1] >= GENERATOR_BUSY]
    if own:
        notes.append(
            f"{name}: the generator's core was {GENERATOR_BUSY:.0%} busy or more at "
            f"{_listed(own)} matches: there the latencies are partly the generator's own, "
            "and the ceiling may be the generator's rather than the server's."
        )
    late = [r.matches for r in results if r.generator_behind and r.core_busy[1] < GENERATOR_BUSY]
    if late:
        notes.append(
            f"{name}: sends ran behind schedule (p99 over {BEHIND_MS:.0f} ms) at {_listed(late)} "
            f"matches although the generator's core averaged under {GENERATOR_BUSY:.0%} busy: "
            "bursts of deliveries from a server falling behind (or other work on the machine) "
            "held the generator's loop up; the latencies there include that delay."
        )
    other = [r for r in results if r.other_cpu >= OTHER_CPU]
    if other:
        worst = max(other, key=lambda r: r.other_cpu)
        notes.append(
            f"{name}: work other than the server, the generator, Redis and the network's "
            "interrupts took "
            f"{OTHER_CPU:.0%} of a core or more at {_listed([r.matches for r in other])} "
            f"matches (at most {worst.other_cpu:.0%}, at {worst.matches}): the machine was not "
            "the bench's alone, and those steps say less."
        )
    stray = sum(r.stray for r in results)
    if stray:
        notes.append(f"{name}: {stray:,} deliveries arrived after their step's drain ended.")
    return notes


def _log_notes(name: str, log: str) -> list[str]:
    lines = log.splitlines()
    errors = [x for x in lines if " ERROR " in x or "Traceback" in x]
    warnings = [x for x in lines if " WARNING " in x]
    if not errors and not warnings:
        return [f"{name}: the server's log held no warnings or errors."]
    first = (errors or warnings)[0][:200]
    return [
        f"{name}: the server's log held {len(errors)} errors, {len(warnings)} warnings; "
        f"first: `{first}`."
    ]


def _common_step(climbed: dict[str, Climbed]) -> int:
    """The most matches every Arena target passed at: where their CPU costs compare."""
    passed = [
        {r.matches for r in c.results if r.passed} for key, c in climbed.items() if key != "bare"
    ]
    return max(set.intersection(*passed), default=0) if passed else 0


def cost_us(results: list[StepResult], matches: int) -> tuple[float, float]:
    """CPU per delivery (µs) of the server's processes and of Redis at a passing step;
    nan where that step did not pass (Redis 0.0 for a target without it)."""
    step = next((r for r in results if r.passed and r.matches == matches), None)
    if step is None:
        return math.nan, math.nan
    deliveries = step.offered * SEATS  # a passing step delivered its whole schedule
    return step.server_cpu / deliveries * 1e6, step.redis_cpu / deliveries * 1e6


def _cost(results: list[StepResult], matches: int) -> str:
    server, redis = cost_us(results, matches)
    if math.isnan(server):
        return "-"
    if not redis:
        return f"{server:.1f} / - / {server:.1f}"
    return f"{server:.1f} / {redis:.1f} / {server + redis:.1f}"


def headline(climbed: dict[str, Climbed]) -> RelayHeadline:
    """Arena's one node (its Redis on the server's core) beside the bare relay: ceilings,
    and CPU per delivery at the step where the relay table compares them."""
    single, bare = _best(climbed["single"].results), _best(climbed["bare"].results)
    common = _common_step(climbed)
    server, redis = cost_us(climbed["single"].results, common)
    bare_us, _ = cost_us(climbed["bare"].results, common)
    return RelayHeadline(
        deliveries_per_s=single.delivered_per_s if single else 0.0,
        bare_per_s=bare.delivered_per_s if bare else 0.0,
        at_matches=common,
        server_us=server,
        redis_us=redis,
        bare_us=bare_us,
        seats=SEATS,
        hz=HZ,
    )


def _summary(climbed: dict[str, Climbed]) -> str:
    best = {key: _best(c.results) for key, c in climbed.items()}
    rate = {key: b.delivered_per_s if b else 0.0 for key, b in best.items()}

    def share(key: str, of: str) -> str:
        return f"**{rate[key] / rate[of]:.0%}**" if rate[of] else "n/a"

    versus = {
        "single": "reference",
        "window": f"{share('window', 'single')} of the same node without the window; "
        f"{share('window', 'bare')} of the bare relay",
        "cluster": f"{share('cluster', 'single')} of one Redis (on the server's core)",
        "two nodes": f"{share('two nodes', 'single')} of one node (its Redis on its core)",
        "bare": f"Arena (one node, one Redis) is {share('single', 'bare')} of it (aim: 100%)",
    }
    common = _common_step(climbed)
    at = f"at {common} matches" if common else "(no step that every Arena target passed)"
    rows = [
        f"| target | best passing step | deliveries/s there | p99 ms there | CPU per delivery "
        f"{at}, µs: server / Redis / server + Redis | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for key, b in best.items():
        mark = "**" if key != "bare" else ""
        rows.append(
            f"| {NAMES[key].replace('The bare', 'bare aiohttp')} "
            f"| {b.matches if b else 0} matches | {mark}{rate[key]:,.0f}{mark} "
            f"| {b.p99_ms if b else float('nan'):.1f} | {_cost(climbed[key].results, common)} "
            f"| {versus[key]} |"
        )
    return "\n".join(rows)


def render(climbed: dict[str, Climbed]) -> str:
    size = len(msgpack.packb(event_data(7, 10, 59, time.monotonic_ns())))
    notes = []
    for key, c in climbed.items():
        notes += [*_notes(NAMES[key], c.results), *_generator_notes(NAMES[key], c.results)]
    for key, c in climbed.items():
        if c.log is not None:
            notes += _log_notes(NAMES[key], c.log)
    title = f"Room relay (matches of {SEATS}, every player sending a {size}-byte event at {HZ} Hz)"
    return f"""### {title}

Each step runs {STEP_S:.0f} s; a delivery is one event reaching one player (the sender
included), so a match of {SEATS} makes {SEATS * SEATS * HZ:,} deliveries/s. A step passes
(bold) when the whole schedule was sent, every event reached every player of its match and
p99 latency, from send to receipt in the generator, stayed under {P99_LIMIT_MS:.0f} ms.
The five targets below climbed together, under the same generator: each step ran on every
target still climbing, one after another, before the next step began, so that other work
on the machine fell on them alike.

{_summary(climbed)}

Where each ran: every server on core 0 (each target's servers stay up between its steps,
holding their sockets idle); the generator and every Redis on core 1 (the cluster's three
redis-servers share that core between them and with the generator), except the first
two targets' Redis, each sharing core 0 with its server, as issue 19 measured Arena: their
ceilings count Redis on the server's side. The cluster's and the two nodes' Redis is on
core 1, so their ratios to the first compare layouts as well as what each changes. The
two nodes share core 0, the CPU one node had alone, so their ratio is what crossing nodes
costs, not what a second machine would add.

{NAMES["single"]} (`match.send` without rid: Lua append + publish, the hub, each socket's
outbox):

{_table(climbed["single"].results, "core 0 (server + Redis) / core 1 (generator)")}

{NAMES["window"]} (the bench's mode with `push_window_ms: 10` in `ARENA_MODES`: a match's
pushes wait up to 10 ms on each socket, so that the frames of several event-loop turns
leave in one write; the latencies include that wait):

{_table(climbed["window"].results, "core 0 (server + Redis) / core 1 (generator)")}

{NAMES["cluster"]} (`redis+cluster://`: each match's keys and channel on the shard owning
its slot, `SPUBLISH`/`SSUBSCRIBE`; the node holds a connection and a subscriber per master):

{_table(climbed["cluster"].results)}

{NAMES["two nodes"]} (seat s of every match plays on node s mod 2, so each event is
published once and reaches both nodes' hubs, 4 of its 8 deliveries on each):

{_table(climbed["two nodes"].results)}

Baseline, the bare aiohttp relay (`loadtest/bench/bare_relay.py`: rooms in a dict, no Redis,
one encoding per event), same generator, same cores:

{_table(climbed["bare"].results)}

{chr(10).join(f"- {note}" for note in notes)}
"""
