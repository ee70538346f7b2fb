"""Dots: the race /play plays, run by the server. First to touch ring k scores; first
to ``win`` (default 10) points wins.

Players send only where they steer: input ``{type: "steer", data: {x, y}}`` (field
coordinates, clamped to the field and rounded to whole pixels; the latest of a tick
wins). Each tick the server moves every dot toward its steer point, at most ``speed``
px/s (default 240) scaled by the tick period, so a page that claims a position gets
nowhere faster than its dot runs. A dot scores when its path this tick passes within
``TARGET_R + DOT_R`` of the ring; when several do in one tick, the one that got there
earliest in the tick wins (then the lowest player id: ties are decided the same on every
node). Targets come from the seeded ``ctx.rng``, so a replay draws the same ones.

The state is synced (server/games/sync): players get ``match.state`` keyframes and, on
each tick where anything changed, patches of what did. A ``Race`` as players see it::

    {speed, win, seats, min_players, players: [id], gone: [id],
     dots: {player: {x, y, goal_x, goal_y}}, scores: {player: points},
     target: {k, x, y}, winner: player or "", over: bool}

Dots sit on whole pixels (small patches): each tick a dot moves to the whole pixel
nearest its exact step, or, when that would be past the cap, to the one its step
truncated reaches (never faster than ``speed``). An input that is not a steer with
finite numbers x and y gets ``{type: "rejected", data: {reason}}`` to that player only,
at most once a tick (a flood costs the sender, not the feed). A player who leaves or
is kicked is out of the race, their points kept in the result; one who drops keeps
their dot (it runs on to its last steer point). The result through ``ctx.end``:
everyone who played, with their points (the winner's is ``win``); a race everyone left
ends with the points as they stand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from server.games.api import Game, GameContext, Input, JsonValue, LeaveReason
from server.games.sync.state import Schema, SyncList, SyncMap

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


class Dot(Schema):
    """A racing dot: where it is and where its player steers it (whole pixels)."""

    x: int
    y: int
    goal_x: int
    goal_y: int


class Target(Schema):
    """Ring ``k`` (0 first) and its centre."""

    k: int
    x: int
    y: int


class Race(Schema):
    """A match's state. ``players``: everyone who joined, in join order (their points
    stay in ``scores`` after they leave); ``dots``: those still racing."""

    speed: float
    win: int
    seats: int
    min_players: int
    players: SyncList[str]
    gone: SyncList[str]  # left or kicked: out for good
    dots: SyncMap[Dot]
    scores: SyncMap[int]
    target: Target
    winner: str
    over: bool


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


def steer_point(item: Input) -> tuple[int, int] | str:
    """The field point a steer input asks for, clamped to the field and rounded to a
    whole pixel; else why not."""
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
        # Clamped before round(): a huge integer would overflow a float.
        point.append(round(min(max(value, 0), top)))
    return point[0], point[1]


def entry(start: tuple[int, int], end: tuple[int, int], target: tuple[int, int]) -> float | None:
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


def run(at: tuple[int, int], goal: tuple[int, int], step: float) -> tuple[int, int]:
    """Where a dot at ``at`` steering to ``goal`` is after one tick, on a whole pixel:
    ``step`` away at most (the nearest pixel to its exact step, else that step
    truncated toward ``at``, which is never longer)."""
    dx, dy = goal[0] - at[0], goal[1] - at[1]
    dist = math.sqrt(dx * dx + dy * dy)
    if dist <= step:
        return goal
    sx, sy = dx * step / dist, dy * step / dist
    rx, ry = round(sx), round(sy)
    if rx * rx + ry * ry <= step * step:
        return at[0] + rx, at[1] + ry
    return at[0] + int(sx), at[1] + int(sy)


class Dots(Game[Race]):
    """The Dots race: steer inputs in, positions out, first to ``win`` points."""

    def init(self, ctx: GameContext, params: Mapping[str, JsonValue]) -> Race:
        race = Race(
            speed=_number(params, "speed", DEFAULT_SPEED, MAX_SPEED),
            win=_whole(params, "win", DEFAULT_WIN, MAX_WIN),
            seats=_whole(params, "seats", DEFAULT_SEATS, MAX_SEATS),
            min_players=_whole(params, "min_players", DEFAULT_MIN_PLAYERS, MAX_SEATS),
            players=SyncList(),
            gone=SyncList(),
            dots=SyncMap(),
            scores=SyncMap(),
            winner="",
            over=False,
        )
        x, y = self._draw_target(ctx, None)
        race.target = Target(k=0, x=x, y=y)
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
            slot = list(state.players).index(player) % state.seats
            x, y = round(FIELD_W * (slot + 1) / (state.seats + 1)), FIELD_H - 20
            state.dots[player] = Dot(x=x, y=y, goal_x=x, goal_y=y)
            fresh = True
        if fresh:
            ctx.set_label({"open": state.seats - len(state.dots)})

    def leave(self, ctx: GameContext, state: Race, players: list[str], reason: LeaveReason) -> None:
        if reason is LeaveReason.DROPPED or state.over:
            return  # a dropped player may come back; their dot waits where it went
        out = [p for p in players if p in state.dots]
        for player in out:
            del state.dots[player]
            state.gone.append(player)
        if not out:
            return
        ctx.set_label({"open": state.seats - len(state.dots)})
        if not state.dots:
            self._finish(ctx, state, winner="")  # no one races on: the points stand

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
                dot = state.dots[item.player]
                dot.goal_x, dot.goal_y = point
        for player, reason in refused.items():
            ctx.send(player, "rejected", {"reason": reason})
        step = state.speed / ctx.tick_rate
        target = (state.target.x, state.target.y)
        first: tuple[float, str] | None = None
        for player, dot in state.dots.items():
            at = (dot.x, dot.y)
            end = run(at, (dot.goal_x, dot.goal_y), step)
            # A dot standing still scores too: a new ring may be drawn under it.
            when = entry(at, end, target)
            if when is not None and (first is None or (when, player) < first):
                first = (when, player)
            dot.x, dot.y = end  # the same value is no change: nothing to send
        if len(state.players) < state.min_players:
            first = None  # not a race yet: nobody scores alone
        if first is not None:
            self._score(ctx, state, first[1])
        return state

    def _score(self, ctx: GameContext, state: Race, player: str) -> None:
        state.scores[player] += 1
        if state.scores[player] >= state.win:
            self._finish(ctx, state, winner=player)
            return
        target = state.target
        target.x, target.y = self._draw_target(ctx, (target.x, target.y))
        target.k += 1

    def _finish(self, ctx: GameContext, state: Race, *, winner: str) -> None:
        """The race is over: say so, then the result (everyone who played)."""
        state.winner = winner
        state.over = True
        ctx.end({p: state.scores[p] for p in state.players})

    def _draw_target(self, ctx: GameContext, last: tuple[int, int] | None) -> tuple[int, int]:
        """A ring off the edges and the bottom band, far from ``last``."""
        target = (0, 0)
        for _ in range(DRAWS):
            target = (
                ctx.rng.randint(MARGIN, FIELD_W - MARGIN),
                ctx.rng.randint(MARGIN, FIELD_H - MARGIN - BAND),
            )
            if last is None:
                break
            dx, dy = target[0] - last[0], target[1] - last[1]
            if dx * dx + dy * dy > APART * APART:
                break
        return target
