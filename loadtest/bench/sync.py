"""Synced state (issue 16), in process, no server: bytes per patch beside
@colyseus/schema's figures, server CPU per tick, and what a `dots` player receives per
second from the relay's `state` events and from synced-state patches."""

from __future__ import annotations

import time

from loadtest.bench.common import SERVER_CORE
from loadtest.bench.sync_codec import (
    CHANGED,
    ENTITIES,
    ROUNDS,
    SCHEMA_BYTES,
    TICKS,
    TRIALS,
    PatchSize,
    TickCost,
    measure_ticks,
    patch_sizes,
)
from loadtest.bench.sync_dots import PLAYERS, SECONDS, TICK_RATE, DotsRun, dots_runs


def run() -> str:
    started = time.perf_counter()
    sizes = patch_sizes()
    costs = measure_ticks()
    races = dots_runs()
    return render(sizes, costs, races, time.perf_counter() - started)


def _sizes_table(sizes: list[PatchSize]) -> list[str]:
    ranges = list(dict.fromkeys(s.values for s in sizes))
    moved = list(dict.fromkeys(s.moved for s in sizes))
    head = "| x and y | " + " | ".join(f"{m} moved" for m in moved) + " |"
    rows = [head, "|---|" + "---|" * len(moved)]
    rows.append(
        "| @colyseus/schema (its README) | "
        + " | ".join(f"{SCHEMA_BYTES[m]:,}" for m in moved)
        + " |"
    )
    for label in ranges:
        cells = []
        for s in (s for s in sizes if s.values == label):
            spread = f" ({s.low:,}-{s.high:,})" if s.low != s.high else ""
            mean = f"{s.mean:,.0f}" if s.mean >= 100 else f"{s.mean:.1f}"
            cells.append(f"**{mean}**{spread}")
        rows.append(f"| Arena, {label} | " + " | ".join(cells) + " |")
    json_cells = [f"{s.json_mean:,.0f}" for s in sizes if s.values == ranges[0]]
    rows.append(f"| Arena as JSON text, {ranges[0]} | " + " | ".join(json_cells) + " |")
    return rows


def _costs_table(costs: list[TickCost]) -> list[str]:
    rows = [
        "| viewers | patches made | bytes each | patches + msgpack, p50 / mean / p99 µs "
        "| p50 of each round, µs | the tick's tracked writes, mean µs |",
        "|---|---|---|---|---|---|",
    ]
    for c in costs:
        each = ", ".join(f"{p:.0f}" for p in c.rounds_p50)
        rows.append(
            f"| {c.case} | {c.encodings} | {c.bytes_each:,.0f} | **{c.p50_us:.0f}** / "
            f"{c.mean_us:.0f} / {c.p99_us:.0f} | {each} | {c.writes_us:.0f} |"
        )
    return rows


def _dots_table(races: list[DotsRun]) -> list[str]:
    rows = [
        "| race | sent as | pushes/s | msgpack bytes/s | JSON bytes/s (/play) "
        "| of which the data (msgpack) |",
        "|---|---|---|---|---|---|",
    ]
    for race in races:
        for name, got in (("relay `state` events", race.relay), ("synced patches", race.synced)):
            s = race.seconds
            rows.append(
                f"| {race.scenario} | {name} | {got.pushes / s:.1f} | **{got.msgpack / s:,.0f}** "
                f"| {got.json / s:,.0f} | {got.payload / s:,.0f} |"
            )
    return rows


def _notes(costs: list[TickCost], races: list[DotsRun], wall_s: float) -> list[str]:
    one, views = costs[0], costs[-1]
    notes = [
        f"- One view: {one.p50_us:.0f} µs p50 per tick to make and pack the patch of "
        f"{CHANGED} moved entities (aim: under 50 µs); {CHANGED * 2} tracked writes cost "
        f"{one.writes_us:.0f} µs more, in the game's tick.",
        f"- {views.encodings} views: what every view sees alike is made once, each view "
        f"adds its own owner's fields and is packed apart: {views.p50_us:.0f} µs p50 in "
        f"all, {views.p50_us / views.encodings:.0f} µs a view, "
        f"{views.p50_us / one.p50_us:.1f}× the one view's tick.",
    ]
    for race in races:
        relay, synced = race.relay.msgpack, race.synced.msgpack
        notes.append(
            f"- dots, {race.scenario}: synced state sends {synced / relay:.0%} of the relay's "
            f"msgpack bytes ({race.synced.json / race.relay.json:.0%} as JSON); "
            f"{race.points} rings scored in the {race.seconds:.0f} s."
        )
    parked = races[-1].synced
    envelope = (parked.msgpack - parked.payload) / parked.pushes
    notes.append(
        f"- A synced push's envelope (WebSocket header, `ev`, `match_id`, `tick`, `base`, `ts`, "
        f"`id`) is {envelope:.0f} bytes of msgpack: with few dots moving it is most of the push."
    )
    key_mp, key_json = races[0].synced.keyframe
    notes += [
        f"- A joining player's keyframe (schema included): {key_mp:,} bytes of msgpack, "
        f"{key_json:,} of JSON; not counted above.",
        f"- This section took {wall_s:.1f} s.",
    ]
    return notes


def render(
    sizes: list[PatchSize], costs: list[TickCost], races: list[DotsRun], wall_s: float
) -> str:
    lines = [
        f"### Synced state ({ENTITIES} entities with x and y; `dots` at {TICK_RATE} Hz)",
        "",
        f"Bytes per patch, {ENTITIES} entities `{{name, x, y}}` in a map, mean of "
        f"{TRIALS} patches (min-max), msgpack, the patch alone:",
        "",
        *_sizes_table(sizes),
        "",
        f"Server CPU per tick, {CHANGED} of the {ENTITIES} entities moved (x and y 0..199), "
        f"{TICKS:,} ticks a round, {ROUNDS} rounds, the round with the lowest p50 shown, "
        f"on core {SERVER_CORE}:",
        "",
        *_costs_table(costs),
        "",
        f"What one `dots` player receives, {PLAYERS} players, {SECONDS} s of game time "
        f"({SECONDS * TICK_RATE:,} ticks), whole pushes as WebSocket frames:",
        "",
        *_dots_table(races),
        "",
        *_notes(costs, races, wall_s),
    ]
    return "\n".join(lines) + "\n"
