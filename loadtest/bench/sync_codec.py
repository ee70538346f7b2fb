"""Synced state's codec alone, in process: bytes per patch in @colyseus/schema's own
scenario, and the server's CPU per tick to make and encode one.

Schema's scenario (its README, and `benchmark/FossilDeltaComparison.ts` in
colyseus/schema): a map of 100 players ``{name, x, y}`` keyed by 9-character ids,
x and y random integers 0..199; move 1, 50 or 100 of them and encode the patch.
Schema reports 9, 342 and 668 bytes. Here the same state is a Schema in a SyncMap and
the patch is ``Synced.patch()`` packed with msgpack, as a `match.state` push carries it
(the push's envelope is apart: match id, tick, base, ts, id).
"""

from __future__ import annotations

import gc
import json
import os
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import msgpack

from loadtest.bench.common import SERVER_CORE, percentile
from server.games.sync.codec import Synced, Viewer
from server.games.sync.state import Schema, SyncMap

ENTITIES = 100
MOVED = (1, 50, 100)
SCHEMA_BYTES = {1: 9, 50: 342, 100: 668}  # @colyseus/schema's README
TRIALS = 200  # patches per (values, moved) pair: sizes vary with the values drawn
TICKS = 2000  # timed ticks per CPU case and round
ROUNDS = 3  # each case's least disturbed round is kept (the VM's noise moves them)
CHANGED = 50
VIEWERS = 8
ID_ALPHABET = string.ascii_letters + string.digits + "_-"  # nanoid's


class Player(Schema):
    name: str
    x: int | float
    y: int | float


class World(Schema):
    players: SyncMap[Player]


class Seat(Schema):
    """A player with a field only its owner sees (its hand, say)."""

    _views: ClassVar[dict[str, str]] = {"hand": "owner"}
    owner: str
    name: str
    x: int
    y: int
    hand: int


class Table(Schema):
    players: SyncMap[Seat]


Draw = Callable[[random.Random], int | float]
VALUES: list[tuple[str, Draw]] = [
    ("ints 0..199 (schema's benchmark)", lambda r: r.randrange(200)),
    ("ints 0..127 (one msgpack byte)", lambda r: r.randrange(128)),
    ("ints 0..2000", lambda r: r.randrange(2001)),
    ("floats 0..2000", lambda r: r.uniform(0, 2000)),
]


def _ids(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(ID_ALPHABET) for _ in range(9)) for _ in range(n)]


def _fresh(rng: random.Random, draw: Draw, old: Any) -> Any:
    """A value other than ``old`` (an unchanged write sends nothing, in schema too)."""
    while True:
        value = draw(rng)
        if value != old:
            return value


def _world(rng: random.Random, draw: Draw) -> tuple[Synced, list[Player]]:
    world = World(players=SyncMap())
    for i, key in enumerate(_ids(rng, ENTITIES)):
        world.players[key] = Player(name=f"Player {i}", x=draw(rng), y=draw(rng))
    synced = Synced(world)
    synced.full()
    synced.settle()  # the keyframe went out: patches start here
    return synced, [p for _, p in world.players.items()]


@dataclass(frozen=True, slots=True)
class PatchSize:
    values: str
    moved: int
    mean: float
    low: int
    high: int
    json_mean: float


def patch_sizes(seed: int = 16) -> list[PatchSize]:
    """Bytes of the patch moving 1, 50 and 100 of the 100 players, per value range."""
    out = []
    for label, draw in VALUES:
        rng = random.Random(seed)
        synced, players = _world(rng, draw)
        for moved in MOVED:
            sizes, texts = [], []
            for _ in range(TRIALS):
                for player in rng.sample(players, moved):
                    player.x = _fresh(rng, draw, player.x)
                    player.y = _fresh(rng, draw, player.y)
                patch = synced.patch()
                sizes.append(len(msgpack.packb(patch)))
                texts.append(len(json.dumps(patch, separators=(",", ":"))))
            out.append(
                PatchSize(
                    label, moved, sum(sizes) / TRIALS, min(sizes), max(sizes), sum(texts) / TRIALS
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class TickCost:
    case: str
    encodings: int  # distinct patches made and packed per tick
    bytes_each: float
    p50_us: float
    mean_us: float
    p99_us: float
    writes_us: float  # the tick's tracked writes, mean
    rounds_p50: tuple[float, ...] = ()  # every round's p50, the kept one among them


Plan = Callable[[random.Random], list[tuple[Schema, dict[str, Any]]]]
WARMUP = 300  # untimed ticks first


def _timed(
    case: str, synced: Synced, plan: Plan, viewers: list[Viewer], rng: random.Random
) -> TickCost:
    """TICKS ticks: the writes (drawn beforehand, so only the writes are timed), then
    the patches for ``viewers`` and one msgpack encoding per distinct patch."""
    spent: list[float] = []
    writes: list[float] = []
    encodings, packed = 0, 0
    clock = time.perf_counter_ns
    for tick in range(WARMUP + TICKS):
        changes = plan(rng)
        started = clock()
        for target, values in changes:
            for name, value in values.items():
                setattr(target, name, value)
        wrote = clock()
        patches = synced.patches(viewers)
        distinct = {id(p): p for p in patches.values()}
        blobs = [msgpack.packb(p) for p in distinct.values()]
        ended = clock()
        if tick >= WARMUP:
            writes.append((wrote - started) / 1000)
            spent.append((ended - wrote) / 1000)
            encodings, packed = len(blobs), packed + sum(len(b) for b in blobs)
    return TickCost(
        case,
        encodings,
        packed / TICKS / encodings,
        percentile(spent, 50),
        sum(spent) / TICKS,
        percentile(spent, 99),
        sum(writes) / TICKS,
    )


def tick_costs(seed: int = 16) -> list[TickCost]:
    """Server CPU per tick, 50 of 100 players moved: ``Synced.patches`` and msgpack."""
    rng = random.Random(seed)

    def draw(r: random.Random) -> int:
        return r.randrange(200)

    synced, players = _world(rng, draw)

    def move(r: random.Random) -> list[tuple[Schema, dict[str, Any]]]:
        return [
            (p, {"x": _fresh(r, draw, p.x), "y": _fresh(r, draw, p.y)})
            for p in r.sample(players, CHANGED)
        ]

    owners = [f"{rng.getrandbits(64):016x}" for _ in range(VIEWERS)]
    table = Table(players=SyncMap())
    for i, key in enumerate(_ids(rng, ENTITIES)):
        table.players[key] = Seat(
            owner=owners[i % VIEWERS], name=f"Player {i}", x=draw(rng), y=draw(rng), hand=0
        )
    seated = Synced(table)
    for owner in owners:
        seated.full((owner, None))
    seated.settle()
    seats = [s for _, s in table.players.items()]

    def move_seats(r: random.Random) -> list[tuple[Schema, dict[str, Any]]]:
        return [
            (s, {"x": _fresh(r, draw, s.x), "y": _fresh(r, draw, s.y), "hand": s.hand + 1})
            for s in r.sample(seats, CHANGED)
        ]

    everyone: list[Viewer] = [(None, None)]
    players8: list[Viewer] = [(o, None) for o in owners]
    cases: list[tuple[str, Synced, Plan, list[Viewer]]] = [
        ("1 player (one view)", synced, move, everyone),
        (f"{VIEWERS} players, one view (one patch shared)", synced, move, players8),
        (
            f"{VIEWERS} players, {VIEWERS} views (an owner-only field on each entity)",
            seated,
            move_seats,
            players8,
        ),
    ]
    rounds = [[_timed(*case, rng) for case in cases] for _ in range(ROUNDS)]
    kept = []
    for runs in zip(*rounds, strict=True):
        best = min(runs, key=lambda r: r.p50_us)
        kept.append(replace(best, rounds_p50=tuple(r.p50_us for r in runs)))
    return kept


def measure_ticks() -> list[TickCost]:
    """``tick_costs`` on the server's core (as the other benchmarks place the server),
    the process's affinity put back after."""
    pinnable = hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2
    before = os.sched_getaffinity(0) if pinnable else set()
    if pinnable:
        os.sched_setaffinity(0, {int(SERVER_CORE)})
    gc.collect()
    try:
        return tick_costs()
    finally:
        if pinnable:
            os.sched_setaffinity(0, before)
