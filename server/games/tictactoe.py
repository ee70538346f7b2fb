"""Tic-tac-toe with a move clock: the turn-based game Arena ships on the game API.

Two seats. When the second player joins, the rng picks who moves first and the game
broadcasts its ``state``. Input ``{type: "move", data: {cell: 0..8}}``; each accepted
move is followed by a broadcast::

    {type: "state", data: {board: [9 x "" or player_id], turn, winner, draw}}

A move out of turn, on a taken cell or otherwise wrong gets ``{type: "rejected",
data: {reason}}`` to that player only. The player to move has ``move_clock_s``
(default 30) virtual seconds; when it runs out they lose. A player who leaves
(``left`` or ``kicked``) forfeits; one who drops keeps their seat while their clock
runs. Result through ``ctx.end``: winner 1, loser 0; a draw, both 0.

The state is synced too (server/games/sync): players also get ``match.state``
keyframes and patches of the ``Board`` below; the ``state`` and ``rejected`` events stay,
so clients written against them keep working.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from server.games.api import Game, GameContext, Input, JsonValue, LeaveReason
from server.games.sync.state import Schema, SyncList

SEATS = 2
CELLS = 9
DEFAULT_MOVE_CLOCK_S = 30.0
LINES = (
    (0, 1, 2),
    (3, 4, 5),
    (6, 7, 8),
    (0, 3, 6),
    (1, 4, 7),
    (2, 5, 8),
    (0, 4, 8),
    (2, 4, 6),
)


class Board(Schema):
    """A match's state. ``turn`` and ``winner`` are "" when no one; ``deadline`` is the
    virtual time the player to move loses at (0 before the game starts)."""

    move_clock_s: float
    players: SyncList[str]
    cells: SyncList[str]
    turn: str
    winner: str
    draw: bool
    deadline: float

    @classmethod
    def new(cls, move_clock_s: float) -> Board:
        return cls(
            move_clock_s=move_clock_s,
            players=SyncList(),
            cells=SyncList([""] * CELLS),
            turn="",
            winner="",
            draw=False,
            deadline=0.0,
        )

    @property
    def over(self) -> bool:
        return bool(self.winner) or self.draw

    @property
    def started(self) -> bool:
        return len(self.players) == SEATS

    def other(self, player: str) -> str:
        return str(next(p for p in self.players if p != player))

    def view(self) -> dict[str, JsonValue]:
        """What players see (the ``state`` event's data)."""
        return {
            "board": list(self.cells),
            "turn": self.turn,
            "winner": self.winner,
            "draw": self.draw,
        }


class TicTacToe(Game[Board]):
    """Tic-tac-toe for two, turn by turn, with a move clock."""

    def init(self, ctx: GameContext, params: Mapping[str, JsonValue]) -> Board:
        clock = params.get("move_clock_s", DEFAULT_MOVE_CLOCK_S)
        if (
            isinstance(clock, bool)
            or not isinstance(clock, int | float)
            or not math.isfinite(clock)
            or clock <= 0
        ):
            raise ValueError(f"move_clock_s must be a number of seconds above 0, got {clock!r}")
        ctx.set_label({"open": SEATS})
        return Board.new(float(clock))

    def join_attempt(
        self, ctx: GameContext, state: Board, player: str, meta: Mapping[str, JsonValue]
    ) -> str | None:
        if player in state.players:
            return None  # back after a drop: the seat is still theirs
        if state.over:
            return "the game is over"
        if len(state.players) >= SEATS:
            return "the match is full"
        return None

    def join(self, ctx: GameContext, state: Board, players: list[str]) -> None:
        for player in players:
            if player not in state.players and len(state.players) < SEATS:
                state.players.append(player)
        ctx.set_label({"open": SEATS - len(state.players)})
        if state.started and not state.turn and not state.over:
            state.turn = ctx.rng.choice(state.players)
            state.deadline = ctx.now + state.move_clock_s
            ctx.broadcast("state", state.view())

    def leave(
        self, ctx: GameContext, state: Board, players: list[str], reason: LeaveReason
    ) -> None:
        if reason is LeaveReason.DROPPED or not state.started or state.over:
            return  # a dropped player may come back; their clock decides meanwhile
        gone = [p for p in players if p in state.players]
        if gone:
            self._finish(ctx, state, winner=state.other(gone[0]))

    def tick(self, ctx: GameContext, state: Board, inputs: list[Input]) -> Board:
        # Inputs stored before this tick count before the clock: a move sent in time
        # is not lost to a tick that came late.
        for item in inputs:
            reason = self._move(ctx, state, item)
            if reason:
                ctx.send(item.player, "rejected", {"reason": reason})
        if state.started and not state.over and ctx.now >= state.deadline:
            self._finish(ctx, state, winner=state.other(state.turn))
        return state

    def _move(self, ctx: GameContext, state: Board, item: Input) -> str:
        """Plays ``item`` if it is a legal move: "" then, else why not."""
        if item.type != "move":
            return f"unknown input {item.type!r}: only move"
        if item.player not in state.players:
            return "not a player of this match"
        if state.over:
            return "the game is over"
        if not state.started:
            return "the game has not started"
        if item.player != state.turn:
            return "not your turn"
        cell = item.data.get("cell") if isinstance(item.data, dict) else None
        if isinstance(cell, bool) or not isinstance(cell, int) or not 0 <= cell < CELLS:
            return "cell must be 0..8"
        if state.cells[cell]:
            return "cell taken"
        state.cells[cell] = item.player
        if any(all(state.cells[i] == item.player for i in line) for line in LINES):
            self._finish(ctx, state, winner=item.player)
        elif all(state.cells):
            self._finish(ctx, state, winner="")
        else:
            state.turn = state.other(item.player)
            state.deadline = ctx.now + state.move_clock_s
            ctx.broadcast("state", state.view())
        return ""

    def _finish(self, ctx: GameContext, state: Board, *, winner: str) -> None:
        """The game is over: ``winner`` won ("" for a draw); say so, then the result."""
        state.winner = winner
        state.draw = not winner
        state.turn = ""
        ctx.broadcast("state", state.view())
        ctx.end({p: 1 if p == winner else 0 for p in state.players})
