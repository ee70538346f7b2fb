"""One hosted match, pure: a game, its context and its state, stepped by the caller.

Each call (``join_attempt``, ``join``, ``leave``, ``step``, ``terminate``) returns the
outputs the game emitted during it, in order, for the caller to commit. A snapshot
holds everything a tick reads besides its inputs (the tick number, the rng and the
game's state), so ``HostedMatch.restore`` followed by the same ``step`` calls gives
the same state and the same outputs: that is how another node takes a match over.

A callback that raises propagates: the runner ends the match (``reason: "error"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic

import msgpack

from server.games.api import Game, GameContext, Input, JsonValue, LeaveReason, Output, S
from server.games.sync.frames import StateFeed, StateFrame
from server.games.sync.snapshot import dump, load
from server.games.sync.state import Schema

# Entries of the input stream that Arena writes, not players (a player's input type never
# starts with "$"): a player back after a drop, a player gone (left, dropped, kicked), a
# player asking to join (data: their meta), a player asking for a keyframe of synced state.
JOIN, LEAVE, ATTEMPT, SYNC = "$join", "$leave", "$attempt", "$sync"
REASONS = frozenset(r.value for r in LeaveReason)


@dataclass(frozen=True, slots=True)
class Admit:
    """The game took a player who asked to join (``attempt``: the ask's stream id): the
    host seats them, once per ask however often a takeover replays it."""

    player: str
    attempt: str = ""


@dataclass(frozen=True, slots=True)
class Refuse:
    """The game refused a player who asked to join, with its reason."""

    player: str
    reason: str


@dataclass(frozen=True, slots=True)
class Abandon:
    """Every player left (none merely dropped) and the game did not end the match: the
    host ends it with no result."""


Step = Output | Admit | Refuse | Abandon | StateFrame


def _gone(entry: Input) -> bool:
    """A player left or was kicked (not dropped: they may come back)."""
    return entry.type == LEAVE and entry.data != LeaveReason.DROPPED.value


class HostedMatch(Generic[S]):
    """A match of ``game`` with its state; no I/O, no clock but the tick count."""

    def __init__(self, game: Game[S], ctx: GameContext, state: S, outputs: list[Output]) -> None:
        self.game = game
        self.ctx = ctx
        self.state = state
        self._outputs = outputs
        # Who is in the match, as far as Arena knows: joined and not left or kicked (a
        # dropped player is still in). Empty after a leave: the match is abandoned.
        self.present: set[str] = set()
        # A state of synced containers: each tick ends with its players' match.state frames.
        self.feed = StateFeed(state) if isinstance(state, Schema) else None

    @classmethod
    def start(
        cls,
        game: Game[S],
        match_id: str,
        tick_rate: int,
        params: Mapping[str, JsonValue],
        *,
        seed: int,
    ) -> tuple[HostedMatch[S], list[Output]]:
        """A new match (tick 0) and what ``init`` emitted."""
        outputs: list[Output] = []
        ctx = GameContext(match_id, tick_rate, outputs.append, seed=seed)
        match = cls(game, ctx, game.init(ctx, params), outputs)
        return match, match._take()

    @property
    def ended(self) -> bool:
        return self.ctx.ended

    def join_attempt(self, player: str, meta: Mapping[str, JsonValue]) -> str | None:
        """None if the game takes ``player``, else its reason (emits nothing)."""
        reason = self.game.join_attempt(self.ctx, self.state, player, meta)
        self._outputs.clear()  # a refusal is answered to the asker, not broadcast
        return reason

    def join(self, players: list[str]) -> list[Output]:
        self.present.update(players)
        if self.feed is not None:
            self.feed.want_keyframe(players)
        self.game.join(self.ctx, self.state, players)
        return self._take()

    def leave(self, players: list[str], reason: LeaveReason) -> list[Output]:
        if reason is not LeaveReason.DROPPED:
            self.present.difference_update(players)
        self.game.leave(self.ctx, self.state, players, reason)
        return self._take()

    def step(self, inputs: list[Input]) -> list[Output]:
        """One tick: the tick count moves on, then the game reads ``inputs``."""
        self.ctx.tick += 1
        self.state = self.game.tick(self.ctx, self.state, inputs)
        return self._take()

    def advance(self, entries: list[Input]) -> list[Step]:
        """One tick from what the match's input stream held: the players who asked to join
        (``$attempt``: ``join_attempt``, then ``join`` if taken), came back (``$join``) and
        went (``$leave``, its data the reason) are dealt with first, in order, then the
        tick reads the players' own inputs. Replaying the same entries gives the same
        outputs."""
        outputs: list[Step] = []
        inputs = []
        for entry in entries:
            if entry.type == ATTEMPT:
                meta = entry.data if isinstance(entry.data, Mapping) else {}
                reason = self.join_attempt(entry.player, meta)
                if reason is None:
                    outputs += self.join([entry.player])
                    outputs.append(Admit(entry.player, entry.id))
                else:
                    outputs.append(Refuse(entry.player, str(reason)[:200]))
            elif entry.type == JOIN:
                outputs += self.join([entry.player])
            elif entry.type == SYNC:
                if self.feed is not None and entry.player in self.present:
                    self.feed.want_keyframe([entry.player])
            elif entry.type == LEAVE:
                reason = entry.data if entry.data in REASONS else LeaveReason.LEFT
                outputs += self.leave([entry.player], LeaveReason(reason))
            else:
                inputs.append(entry)
        outputs += self.step(inputs)
        if self.feed is not None:
            outputs += self.feed.frames(self.ctx.tick, self.present, self._team_of)
        if not self.present and not self.ended and any(_gone(e) for e in entries):
            outputs.append(Abandon())
        return outputs

    def _team_of(self, player: str) -> str | None:
        return self.game.team_of(self.ctx, self.state, player)

    def terminate(self) -> list[Output]:
        self.game.terminate(self.ctx, self.state)
        return self._take()

    def snapshot(self) -> bytes:
        """Tick, rng and game state in one blob (what ``{m:ID}:snap`` will hold)."""
        packed: bytes = msgpack.packb(
            {
                "tick": self.ctx.tick,
                "ended": self.ctx.ended,
                "present": sorted(self.present),
                "rng": self.ctx.rng_state(),
                # Synced state is dumped by Arena (every view); other state by the game.
                "synced": self.feed is not None,
                "state": dump(self.feed.synced.root)
                if self.feed
                else self.game.snapshot(self.state),
            }
        )
        return packed

    @classmethod
    def restore(cls, game: Game[S], match_id: str, tick_rate: int, blob: bytes) -> HostedMatch[S]:
        """The match as ``snapshot`` left it, ready for the next ``step``."""
        saved: dict[str, Any] = msgpack.unpackb(blob)
        outputs: list[Output] = []
        ctx = GameContext(match_id, tick_rate, outputs.append, tick=saved["tick"])
        ctx.ended = saved["ended"]
        ctx.restore_rng(saved["rng"])
        blob = saved["state"]
        state: S = load(blob) if saved.get("synced") else game.restore(blob)  # type: ignore[assignment]
        match = cls(game, ctx, state, outputs)
        match.present = set(saved.get("present", ()))
        if match.feed is not None:  # fresh refs: every player starts from a keyframe
            match.feed.want_keyframe(match.present)
        return match

    def _take(self) -> list[Output]:
        taken = list(self._outputs)
        self._outputs.clear()
        return taken
