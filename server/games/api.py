"""The game API: what a server-run game implements, and the context it acts through.

A game is a class with synchronous callbacks (a tick must not wait on I/O). The
state is passed in and handed back; the game object itself holds none, so one
instance serves every match of its mode::

    init(ctx, params) -> state
    join_attempt(ctx, state, player, meta) -> None (accept) or a reason (str)
    join(ctx, state, players)
    leave(ctx, state, players, reason)        # LeaveReason: left, dropped, kicked
    tick(ctx, state, inputs) -> state         # inputs since the last tick, in arrival order
    terminate(ctx, state)
    snapshot(state) -> bytes / restore(bytes) -> state   # msgpack by default

What a game emits (``ctx.broadcast``, ``send``, ``kick``, ``end``, ``set_label``) is
collected as ``Output`` values handed to the context's sink, in order; the caller
commits them (one Redis script per tick) and only then are they delivered. The
context does no I/O, so a tick is a pure function of (state, rng, tick, inputs):
replaying recorded inputs from a snapshot gives the same state and the same outputs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar, runtime_checkable

import msgpack

TICK_RATE_MIN, TICK_RATE_MAX = 1, 60

# A value that travels as JSON on the wire (what ``match.input`` carries and what
# ``match.event`` delivers). Left open: each game checks the shape it expects.
JsonValue = Any

S = TypeVar("S")


class LeaveReason(StrEnum):
    """Why players left a match."""

    LEFT = "left"  # they asked to (match.leave)
    DROPPED = "dropped"  # their connection went away; they may come back
    KICKED = "kicked"  # the game removed them (ctx.kick)


@dataclass(frozen=True, slots=True)
class Input:
    """One input of a player, as stored in the match's input stream. ``id`` is the
    stream id: unique within the match, ordered by arrival."""

    player: str
    type: str
    data: JsonValue
    id: str


@dataclass(frozen=True, slots=True)
class Event:
    """An event for players: everyone in the match when ``to`` is None. Encoded once."""

    type: str
    data: JsonValue
    to: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Kick:
    player: str


@dataclass(frozen=True, slots=True)
class End:
    """The match's result, player -> score; it goes through the results queue once."""

    scores: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class SetLabel:
    label: Mapping[str, JsonValue]


Output = Event | Kick | End | SetLabel


class MatchEndedError(RuntimeError):
    """``ctx.end`` called on a match that already has its result."""


def check_tick_rate(tick_rate: int) -> int:
    """``tick_rate`` if it is a whole number of ticks a second, 1..60; else ValueError."""
    if isinstance(tick_rate, bool) or not isinstance(tick_rate, int):
        raise ValueError(f"tick rate must be a whole number, got {tick_rate!r}")
    if not TICK_RATE_MIN <= tick_rate <= TICK_RATE_MAX:
        raise ValueError(f"tick rate must be {TICK_RATE_MIN}..{TICK_RATE_MAX}, got {tick_rate}")
    return tick_rate


class GameContext:
    """What a game acts through: emits outputs, reads virtual time and a seeded rng.

    ``tick`` is 0 during ``init`` and counts the ticks run since; ``now`` is virtual
    time, ``tick / tick_rate`` seconds: a game that reads only these (never the wall
    clock, never the global ``random``) replays exactly.
    """

    def __init__(
        self,
        match_id: str,
        tick_rate: int,
        sink: Callable[[Output], object],
        *,
        seed: int = 0,
        tick: int = 0,
    ) -> None:
        self.match_id = match_id
        self.tick_rate = check_tick_rate(tick_rate)
        self.tick = tick
        self.rng = random.Random(seed)
        self.ended = False
        self._sink = sink

    @property
    def period(self) -> float:
        return 1.0 / self.tick_rate

    @property
    def now(self) -> float:
        """Virtual seconds since the match began: tick x period (computed, not summed,
        so it does not drift)."""
        return self.tick / self.tick_rate

    def broadcast(self, type: str, data: JsonValue, to: Iterable[str] | None = None) -> None:
        """An event to every player in the match, or only to ``to``."""
        self._sink(Event(type, data, None if to is None else tuple(to)))

    def send(self, player: str, type: str, data: JsonValue) -> None:
        """An event to one player only."""
        self._sink(Event(type, data, (player,)))

    def kick(self, player: str) -> None:
        self._sink(Kick(player))

    def end(self, scores: Mapping[str, float]) -> None:
        """The result: the match ends after this tick. Once only."""
        if self.ended:
            raise MatchEndedError(f"match {self.match_id} already ended")
        self.ended = True
        self._sink(End(dict(scores)))

    def set_label(self, label: Mapping[str, JsonValue]) -> None:
        """What ``match.list`` filters on (replaces the previous label)."""
        self._sink(SetLabel(dict(label)))

    def rng_state(self) -> bytes:
        """The rng's state as bytes, for a snapshot."""
        version, internal, gauss = self.rng.getstate()
        packed: bytes = msgpack.packb([version, list(internal), gauss])
        return packed

    def restore_rng(self, blob: bytes) -> None:
        version, internal, gauss = msgpack.unpackb(blob)
        self.rng.setstate((version, tuple(internal), gauss))


@runtime_checkable
class Game(Protocol[S]):
    """A server-run game. Subclass it to take the defaults below (accept everyone, do
    nothing on join, leave and terminate, msgpack snapshots of a plain state); ``init``
    and ``tick`` are the two a game must write. A callback that raises ends the match.
    """

    def init(self, ctx: GameContext, params: Mapping[str, JsonValue]) -> S: ...

    def tick(self, ctx: GameContext, state: S, inputs: list[Input]) -> S: ...

    def join_attempt(
        self, ctx: GameContext, state: S, player: str, meta: Mapping[str, JsonValue]
    ) -> str | None:
        """None to accept ``player``; else the reason they are refused."""
        return None

    def join(self, ctx: GameContext, state: S, players: list[str]) -> None:
        return None

    def leave(self, ctx: GameContext, state: S, players: list[str], reason: LeaveReason) -> None:
        return None

    def terminate(self, ctx: GameContext, state: S) -> None:
        return None

    def team_of(self, ctx: GameContext, state: S, player: str) -> str | None:
        """The player's team, for synced fields seen by a team only (None: no team)."""
        return None

    def snapshot(self, state: S) -> bytes:
        """The state as bytes. The default packs it with msgpack: fine for a state of
        dicts, lists, strings and numbers; a dataclass state overrides this pair."""
        packed: bytes = msgpack.packb(state)
        return packed

    def restore(self, blob: bytes) -> S:
        state: S = msgpack.unpackb(blob)
        return state


CALLBACKS = (
    "init",
    "join_attempt",
    "join",
    "leave",
    "tick",
    "terminate",
    "snapshot",
    "restore",
)
