"""Bytes a `dots` player receives per second at 20 Hz: the relay's `state` events (what
/play was sent before synced state) against synced-state patches.

The real Dots game (`server/games/dots.py`, on synced state) runs through
`HostedMatch.advance`, as a node runs it; its `match.state` frames become the very
pushes a node sends (`state_fields`, then a WebSocket frame per format). The relay
column is the game as it was before synced state: after each tick where a dot moved or a
ring was scored, or once a second, a `state` event whose data is the view it broadcast
(``{dots: {player: [x, y]}, target: {k, x, y} or None, scores, winner}``), built from the
same race and encoded as a node encodes a game's event (`encode_outputs`). Both columns
carry the same positions, ring and scores, so the bytes compare like with like.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from server.games.api import Event, Input, JsonValue
from server.games.dots import Dots, Race
from server.games.match import JOIN, HostedMatch
from server.games.sync.frames import StateFrame
from server.protocol import Format, Frame, Push, packed_head, with_id
from server.services.host_outputs import Hosted, encode_outputs, state_fields

TICK_RATE = 20
PLAYERS = 8
SECONDS = 60  # of game time: 1,200 ticks
FEED_ID = "1764700000000-0"  # a push's stream id as Redis makes them (13 digits, seq)
TS = 1_764_700_000_000  # a push's ts (ms)


def relay_view(race: Race) -> dict[str, JsonValue]:
    """The `state` event's data as the relay-era game broadcast it."""
    target = None if race.over else {"k": race.target.k, "x": race.target.x, "y": race.target.y}
    return {
        "dots": {p: [d.x, d.y] for p, d in race.dots.items()},
        "target": target,
        "scores": dict(race.scores.items()),
        "winner": race.winner,
    }


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
        x = race.target.x + rng.uniform(-8, 8)
        y = race.target.y + rng.uniform(-8, 8)
        out.append(Input(player, "steer", {"x": x, "y": y}, f"{n}"))
    return out


Watch = Callable[[int, StateFrame, dict[str, JsonValue]], None]


def run_dots(
    scenario: str, racing: int, seed: int = 16, seconds: int = SECONDS, watch: Watch | None = None
) -> DotsRun:
    """A race of PLAYERS for ``seconds`` of game time, ``racing`` of them chasing the ring
    (the rest park at the start), as one player receives it both ways. ``watch`` sees
    each synced frame that player gets, with the tick and the relay's view then."""
    rng = random.Random(seed)
    players = [f"{rng.getrandbits(64):016x}" for _ in range(PLAYERS)]  # token_hex(8) ids
    match, _ = HostedMatch.start(
        Dots(), f"{rng.getrandbits(64):016x}", TICK_RATE, {"win": 1000}, seed=seed
    )
    hosted = Hosted(match.ctx.match_id, "dots", match, epoch=1, in_upto="0-0")
    result = DotsRun(scenario, seconds)
    viewer = players[0]
    sent_at = -TICK_RATE  # the tick of the relay's last `state` event
    last: dict[str, JsonValue] | None = None

    def deliver(entries: list[Input]) -> None:
        nonlocal sent_at, last
        outputs = match.advance(entries)
        view = relay_view(match.state)
        tick = match.ctx.tick
        if view != last or tick - sent_at >= TICK_RATE:
            event = Event("state", view)
            pushes, _, _ = encode_outputs(hosted, [event], TS)
            result.relay.add(pushes[0], view)
            sent_at, last = tick, view
        for frame in outputs:
            if not isinstance(frame, StateFrame):
                continue
            if frame.to is not None and viewer not in frame.to:
                continue
            head = packed_head(Push.MATCH_STATE, state_fields(hosted, frame, TS))
            sizes = result.synced.add(head, frame.full or frame.patch)
            if watch is not None:
                watch(tick, frame, view)
            if frame.full is not None and result.synced.keyframe == (0, 0):
                result.synced.keyframe = sizes

    deliver([Input(p, JOIN, None, f"0-{n}") for n, p in enumerate(players)])
    # Joining is not the steady state: count from the first tick on, keyframe apart.
    result.relay = Received()
    result.synced = Received(keyframe=result.synced.keyframe)
    for _ in range(seconds * TICK_RATE):
        deliver(_steers(rng, match.state, players[:racing]))
    result.points = sum(match.state.scores.values())
    return result


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
