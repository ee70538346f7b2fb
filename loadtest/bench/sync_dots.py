"""Bytes a `dots` player receives per second at 20 Hz: the relay's `state` events (what
/play was sent before synced state) against synced-state patches, both modelled in
process from the real game.

The Dots game (`server/games/dots.py`) runs through `HostedMatch`, as a node runs it, and
its `state` events become the very pushes a node sends (`encode_outputs`, then a
WebSocket frame per format). The synced variant is a model: a small Schema mirroring
what the `state` event says (dots, ring, scores, winner), written from the game's state
after each tick and sent through the real `StateFeed` and `match.state` encoding. It is
not the game moved to synced state (another branch does that), but the same data, so
the bytes a player would get.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from server.games.api import Event, Input
from server.games.dots import Dots, Race
from server.games.match import HostedMatch, Step
from server.games.sync.frames import StateFeed, StateFrame
from server.games.sync.state import Schema, SyncMap
from server.protocol import Format, Frame, Push, packed_head, with_id
from server.services.host_outputs import Hosted, encode_outputs, state_fields

TICK_RATE = 20
PLAYERS = 8
SECONDS = 60  # of game time: 1,200 ticks
FEED_ID = "1764700000000-0"  # a push's stream id as Redis makes them (13 digits, seq)
TS = 1_764_700_000_000  # a push's ts (ms)


class Dot(Schema):
    x: int
    y: int


class Ring(Schema):
    k: int
    x: int
    y: int


class RaceView(Schema):
    """What the `state` event says, as synced state (ring None once the race is over)."""

    dots: SyncMap[Dot]
    ring: Ring | None
    scores: SyncMap[int]
    winner: str


def mirror(view: RaceView, race: Race) -> None:
    """Write the game's state into the synced mirror (unchanged values send nothing)."""
    for player, at in race.dots.items():
        x, y = (at.x, at.y) if hasattr(at, "x") else at
        if player in view.dots:
            dot = view.dots[player]
            dot.x, dot.y = round(x), round(y)
        else:
            view.dots[player] = Dot(x=round(x), y=round(y))
    for player in [p for p in view.dots if p not in race.dots]:
        del view.dots[player]
    for player, points in race.scores.items():
        view.scores[player] = points
    if race.over:
        view.ring = None
    elif view.ring is None:
        view.ring = Ring(k=race.k, x=race.target[0], y=race.target[1])
    else:
        view.ring.k, view.ring.x, view.ring.y = race.k, race.target[0], race.target[1]
    view.winner = race.winner


@dataclass
class Received:
    """What one player got: bytes per wire format, and the pushes counted."""

    msgpack: int = 0
    json: int = 0
    pushes: int = 0
    payload: int = 0  # the event's data or the patch alone, msgpack, no envelope
    keyframe: tuple[int, int] = (0, 0)  # the first keyframe, msgpack / JSON bytes

    def add(self, head: bytes, payload: object) -> tuple[int, int]:
        frame = Frame(packed=with_id(head, FEED_ID))
        sizes = len(frame.wire(Format.MSGPACK)), len(frame.wire(Format.JSON))
        self.msgpack += sizes[0]
        self.json += sizes[1]
        self.pushes += 1
        self.payload += len(msgpack.packb(payload))
        return sizes


@dataclass
class DotsRun:
    scenario: str
    seconds: float
    relay: Received = field(default_factory=Received)
    synced: Received = field(default_factory=Received)
    points: int = 0  # rings scored over the run


def _steers(rng: random.Random, race: Race, racers: list[str]) -> list[Input]:
    """Each racer heads for the ring, aiming a little off (as a hand on a pointer would);
    the others stay where they are."""
    out = []
    for n, player in enumerate(racers):
        x = race.target[0] + rng.uniform(-8, 8)
        y = race.target[1] + rng.uniform(-8, 8)
        out.append(Input(player, "steer", {"x": x, "y": y}, f"{n}"))
    return out


Watch = Callable[[int, StateFrame, dict[str, Any]], None]


def run_dots(
    scenario: str, racing: int, seed: int = 16, seconds: int = SECONDS, watch: Watch | None = None
) -> DotsRun:
    """A race of PLAYERS for ``seconds`` of game time, ``racing`` of them chasing the ring
    (the rest park at the start), as one player receives it both ways. ``watch`` sees
    each synced frame that player gets, with the tick and the game's own view then."""
    rng = random.Random(seed)
    players = [f"{rng.getrandbits(64):016x}" for _ in range(PLAYERS)]  # token_hex(8) ids
    match, _ = HostedMatch.start(
        Dots(), f"{rng.getrandbits(64):016x}", TICK_RATE, {"win": 1000}, seed=seed
    )
    hosted = Hosted(match.ctx.match_id, "dots", match, epoch=1, in_upto="0-0")
    view = RaceView(dots=SyncMap(), ring=None, scores=SyncMap(), winner="")
    feed = StateFeed(view)
    result = DotsRun(scenario, seconds)
    viewer = players[0]

    def deliver(outputs: list[Step]) -> None:
        events = [o for o in outputs if isinstance(o, Event) and o.type == "state"]
        pushes, _, _ = encode_outputs(hosted, list(events), TS)
        for head, event in zip(pushes, events, strict=True):
            result.relay.add(head, event.data)
        mirror(view, match.state)
        for frame in feed.frames(match.ctx.tick, set(players), lambda p: None):
            if frame.to is not None and viewer not in frame.to:
                continue
            head = packed_head(Push.MATCH_STATE, state_fields(hosted, frame, TS))
            sizes = result.synced.add(head, frame.full or frame.patch)
            if watch is not None:
                watch(match.ctx.tick, frame, dict(match.state.view()))
            if _is_keyframe(frame) and result.synced.keyframe == (0, 0):
                result.synced.keyframe = sizes

    feed.want_keyframe(players)
    deliver(list(match.join(players)))
    # Joining is not the steady state: count from the first tick on, keyframe apart.
    result.relay = Received()
    keyframe = result.synced.keyframe
    result.synced = Received(keyframe=keyframe)
    for _ in range(seconds * TICK_RATE):
        deliver(list(match.step(_steers(rng, match.state, players[:racing]))))
    result.points = sum(match.state.scores.values())
    return result


def _is_keyframe(frame: StateFrame) -> bool:
    return frame.full is not None


def dots_runs() -> list[DotsRun]:
    return [
        run_dots(f"all {PLAYERS} chasing the ring", PLAYERS),
        run_dots(f"2 chasing, {PLAYERS - 2} parked", 2),
    ]


def per_second(received: Received, seconds: float) -> dict[str, Any]:
    return {
        "msgpack": received.msgpack / seconds,
        "json": received.json / seconds,
        "pushes": received.pushes / seconds,
        "payload": received.payload / seconds,
    }
