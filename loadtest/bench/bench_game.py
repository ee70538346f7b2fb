"""The server-run matches benchmark's game: 8 players move points on a square, and every
tick the game broadcasts where everyone is.

Input ``{type: "move", data: {x, y, n}}``: the player's wanted position, clamped to
the square (a number that is not one leaves that coordinate as it was), and ``n``, the
sender's count of its inputs, which the game hands back beside the position so that a
client can tell which of its inputs a broadcast first reflects (its input-to-broadcast
latency). Every tick broadcasts, whether or not anyone moved, once::

    {type: "pos", data: {player_id: [x, y, n], ...}}

The state is a plain dict (msgpack snapshots by default); the game never ends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from server.games.api import Game, GameContext, Input, JsonValue, LeaveReason

SIDE = 1000.0  # the square is [0, SIDE] on both axes
N_MAX = 2**53  # the largest count handed back (an exact float in a JavaScript client)

State = dict[str, list[Any]]  # player -> [x, y, n]


def _clamped(value: object, was: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return was
    return min(SIDE, max(0.0, float(value)))


class BenchGame(Game[State]):
    def init(self, ctx: GameContext, params: Mapping[str, JsonValue]) -> State:
        return {}

    def join(self, ctx: GameContext, state: State, players: list[str]) -> None:
        for player in players:
            state.setdefault(player, [SIDE / 2, SIDE / 2, 0])

    def leave(
        self, ctx: GameContext, state: State, players: list[str], reason: LeaveReason
    ) -> None:
        if reason is not LeaveReason.DROPPED:  # a dropped player may come back
            for player in players:
                state.pop(player, None)

    def tick(self, ctx: GameContext, state: State, inputs: list[Input]) -> State:
        for item in inputs:
            where = state.get(item.player)
            if item.type != "move" or where is None or not isinstance(item.data, dict):
                continue
            n = item.data.get("n", where[2])
            where[0] = _clamped(item.data.get("x"), where[0])
            where[1] = _clamped(item.data.get("y"), where[1])
            if isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= N_MAX:
                where[2] = n
        # A copy: the outputs are encoded after the tick, the state moves on.
        ctx.broadcast("pos", {player: list(where) for player, where in state.items()})
        return state
