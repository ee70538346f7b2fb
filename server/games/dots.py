"""Dots: the race /play plays, run by the server. First to touch ring k scores; first
to ``win`` (default 10) points wins.

Players send only where they steer: input ``{type: "steer", data: {x, y}}`` (field
coordinates, clamped to the field; the latest of a tick wins). Each tick the server
moves every dot toward its steer point, at most ``speed`` px/s (default 240) scaled by
the tick period, so a page that claims a position gets nowhere faster than its dot
runs. A dot scores when its path this tick passes within ``TARGET_R + DOT_R`` of the
ring; when several do in one tick, the one that got there earliest in the tick wins
(then the lowest player id: ties are decided the same on every node). Targets come
from the seeded ``ctx.rng``, so a replay draws the same ones.

Broadcast to everyone, on a tick where anything changed and at least once a second::

    {type: "state", data: {dots: {player: [x, y]}, target: {k, x, y} or null,
                           scores: {player: points}, winner: player or ""}}

Positions are rounded to whole pixels (the server keeps floats). An input that is not
a steer with finite numbers x and y gets ``{type: "rejected", data: {reason}}`` to
that player only, at most once a tick (a flood costs the sender, not the feed). A
player who leaves or is kicked is out of the race, their points kept in the result;
one who drops keeps their dot (it runs on to its last steer point). The result
through ``ctx.end``: everyone who played, with their points (the winner's is ``win``);
a race everyone left ends with the points as they stand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import msgpack

from server.games.api import Game, GameContext, Input, JsonValue, LeaveReason

FIELD_W, FIELD_H = 640, 400
TARGET_R, DOT_R = 24, 10
REACH = TARGET_R + DOT_R  # a dot this close to the ring's centre touches it
MARGIN = TARGET_R + 8  # rings keep this far from the edges
BAND = 40  # the bottom strip where dots start: rings never appear there
APART = 4 * REACH  # ring k + 1 is at least this far from ring k: one touch, one point
DEFAULT_SPEED = 240.0  # px/s
DEFAULT_WIN = 10
DEFAULT_SEATS = 8
# Points count once this many have joined: a race run alone scores nothing (else one
# player, or a creator alone in a match, would farm the boards).
DEFAULT_MIN_PLAYERS = 2
MAX_SPEED = 10_000.0
MAX_WIN = 1000
MAX_SEATS = 64
DRAWS = 100  # tries for a ring far from the last one before taking the last draw


@dataclass(slots=True)
class Race:
    """A match's state. ``players``: everyone who joined, in join order (their points
    stay in ``scores`` after they leave); ``dots`` and ``steer``: those still racing."""

    speed: float = DEFAULT_SPEED
    win: int = DEFAULT_WIN
    seats: int = DEFAULT_SEATS
    min_players: int = DEFAULT_MIN_PLAYERS
    players: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # left or kicked: out for good
    dots: dict[str, list[float]] = field(default_factory=dict)
    steer: dict[str, list[float]] = field(default_factory=dict)
    scores: dict[str, int] = field(default_factory=dict)
    k: int = 0
    target: list[int] = field(default_factory=lambda: [0, 0])
    winner: str = ""
    over: bool = False
    sent_at: int = -1  # the tick of the last state broadcast

    def view(self) -> dict[str, JsonValue]:
        """What players see (the ``state`` event's data)."""
        target = None if self.over else {"k": self.k, "x": self.target[0], "y": self.target[1]}
        return {
            "dots": {p: [round(x), round(y)] for p, (x, y) in self.dots.items()},
            "target": target,
            "scores": dict(self.scores),
            "winner": self.winner,
        }


def _number(params: Mapping[str, JsonValue], name: str, default: float, top: float) -> float:
    value = params.get(name, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= top
    ):
        raise ValueError(f"{name} must be a number above 0 and at most {top:g}, got {value!r}")
    return float(value)


def _whole(params: Mapping[str, JsonValue], name: str, default: int, top: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise ValueError(f"{name} must be a whole number 1..{top}, got {value!r}")
    return value


def steer_point(item: Input) -> list[float] | str:
    """The field point a steer input asks for, clamped to the field; else why not."""
    if item.type != "steer":
        return f"unknown input {item.type!r}: only steer"
    data = item.data
    if not isinstance(data, dict):
        return "steer data must be {x, y}"
    point = []
    for axis, top in (("x", FIELD_W), ("y", FIELD_H)):
        value = data.get(axis)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{axis} must be a number"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{axis} must be finite"
        # Clamped before float(): a huge integer would overflow it.
        point.append(float(min(max(value, 0), top)))
    return point


def entry(start: list[float], end: list[float], target: list[int]) -> float | None:
    """When (0..1 of the tick) a dot going ``start`` -> ``end`` first touches the ring
    at ``target``; None if it does not. Only +, *, / and sqrt: exact on every node."""
    ax, ay = start[0] - target[0], start[1] - target[1]
    c = ax * ax + ay * ay - REACH * REACH
    if c <= 0:
        return 0.0
    dx, dy = end[0] - start[0], end[1] - start[1]
    a = dx * dx + dy * dy
    if a == 0:
        return None
    b = 2 * (ax * dx + ay * dy)
    disc = b * b - 4 * a * c
    if disc < 0 or b >= 0:  # misses the ring, or heads away from it
        return None
    t = (-b - math.sqrt(disc)) / (2 * a)
    if t <= 1:
        return t
    bx, by = end[0] - target[0], end[1] - target[1]
    return 1.0 if bx * bx + by * by <= REACH * REACH else None  # rounding, at the rim


class Dots(Game[Race]):
    """The Dots race: steer inputs in, positions out, first to ``win`` points."""

    def init(self, ctx: GameContext, params: Mapping[str, JsonValue]) -> Race:
        race = Race(
            speed=_number(params, "speed", DEFAULT_SPEED, MAX_SPEED),
            win=_whole(params, "win", DEFAULT_WIN, MAX_WIN),
            seats=_whole(params, "seats", DEFAULT_SEATS, MAX_SEATS),
            min_players=_whole(params, "min_players", DEFAULT_MIN_PLAYERS, MAX_SEATS),
        )
        race.target = self._draw_target(ctx, None)
        ctx.set_label({"open": race.seats})
        return race

    def join_attempt(
        self, ctx: GameContext, state: Race, player: str, meta: Mapping[str, JsonValue]
    ) -> str | None:
        if player in state.dots:
            return None  # back after a drop: the dot is still theirs
        if state.over:
            return "the race is over"
        if player in state.gone:
            return "you left this race"
        if len(state.dots) >= state.seats:
            return "the race is full"
        return None

    def join(self, ctx: GameContext, state: Race, players: list[str]) -> None:
        fresh = False
        for player in players:
            if player in state.dots or player in state.gone or len(state.dots) >= state.seats:
                continue
            if player not in state.players:
                state.players.append(player)
                state.scores[player] = 0
            slot = state.players.index(player) % state.seats
            start = [float(round(FIELD_W * (slot + 1) / (state.seats + 1))), FIELD_H - 20.0]
            state.dots[player] = start
            state.steer[player] = list(start)
            fresh = True
        if fresh:
            ctx.set_label({"open": state.seats - len(state.dots)})
            self._send_state(ctx, state)

    def leave(self, ctx: GameContext, state: Race, players: list[str], reason: LeaveReason) -> None:
        if reason is LeaveReason.DROPPED or state.over:
            return  # a dropped player may come back; their dot waits where it went
        out = [p for p in players if p in state.dots]
        for player in out:
            del state.dots[player]
            del state.steer[player]
            state.gone.append(player)
        if not out:
            return
        ctx.set_label({"open": state.seats - len(state.dots)})
        if not state.dots:
            self._finish(ctx, state, winner="")  # no one races on: the points stand
        else:
            self._send_state(ctx, state)

    def tick(self, ctx: GameContext, state: Race, inputs: list[Input]) -> Race:
        if state.over:
            return state
        refused: dict[str, str] = {}
        for item in inputs:
            if item.player not in state.dots:
                continue  # out of the race (or never in it): nothing to say to them
            point = steer_point(item)
            if isinstance(point, str):
                refused.setdefault(item.player, point)
            else:
                state.steer[item.player] = point
        for player, reason in refused.items():
            ctx.send(player, "rejected", {"reason": reason})
        step = state.speed / ctx.tick_rate
        moved = False
        first: tuple[float, str] | None = None
        for player, at in state.dots.items():
            end = self._run(at, state.steer[player], step)
            # A dot standing still scores too: a new ring may be drawn under it.
            when = entry(at, end, state.target)
            if when is not None and (first is None or (when, player) < first):
                first = (when, player)
            moved = moved or end != at
            state.dots[player] = end
        if len(state.players) < state.min_players:
            first = None  # not a race yet: nobody scores alone
        if first is not None:
            self._score(ctx, state, first[1])
        elif moved or ctx.tick - state.sent_at >= ctx.tick_rate:
            self._send_state(ctx, state)
        return state

    def snapshot(self, state: Race) -> bytes:
        packed: bytes = msgpack.packb(asdict(state))
        return packed

    def restore(self, blob: bytes) -> Race:
        return Race(**msgpack.unpackb(blob))

    @staticmethod
    def _run(at: list[float], goal: list[float], step: float) -> list[float]:
        """Where a dot at ``at`` steering to ``goal`` is after one tick: ``step`` at most."""
        dx, dy = goal[0] - at[0], goal[1] - at[1]
        dist = math.sqrt(dx * dx + dy * dy)
        if dist <= step:
            return list(goal)
        return [at[0] + dx * step / dist, at[1] + dy * step / dist]

    def _score(self, ctx: GameContext, state: Race, player: str) -> None:
        state.scores[player] += 1
        if state.scores[player] >= state.win:
            self._finish(ctx, state, winner=player)
            return
        state.k += 1
        state.target = self._draw_target(ctx, state.target)
        self._send_state(ctx, state)

    def _finish(self, ctx: GameContext, state: Race, *, winner: str) -> None:
        """The race is over: say so, then the result (everyone who played)."""
        state.winner = winner
        state.over = True
        self._send_state(ctx, state)
        ctx.end({p: state.scores[p] for p in state.players})

    def _send_state(self, ctx: GameContext, state: Race) -> None:
        state.sent_at = ctx.tick
        ctx.broadcast("state", state.view())

    def _draw_target(self, ctx: GameContext, last: list[int] | None) -> list[int]:
        """A ring off the edges and the bottom band, far from ``last``."""
        target = [0, 0]
        for _ in range(DRAWS):
            target = [
                ctx.rng.randint(MARGIN, FIELD_W - MARGIN),
                ctx.rng.randint(MARGIN, FIELD_H - MARGIN - BAND),
            ]
            if last is None:
                break
            dx, dy = target[0] - last[0], target[1] - last[1]
            if dx * dx + dy * dy > APART * APART:
                break
        return target
