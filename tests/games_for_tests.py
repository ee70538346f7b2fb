"""Games the failover tests run on real nodes (named in ARENA_MODES as
``tests.games_for_tests:Class``). Each is small and says something checkable.

- ``Counter``: input ``{type: "add", data: n}`` adds ``n`` to the sender's total and
  remembers it; ``report`` broadcasts every total and every value applied, in order, so
  a test can see each input applied once; ``end`` ends the match with the totals (or
  with its data, as it is: the scores a careless game might give); ``kick`` kicks the
  player its data names; ``unreadable`` broadcasts what no client could decode.
- ``Boom``: a Counter whose tick raises on an input ``boom``, and whose ``snapshot``
  raises once it had an input ``boom_later``.
- ``Slow``: a Counter whose tick blocks (``time.sleep``, as a careless game would) for
  ``data`` seconds on an input ``slow``: it overruns its period.
- ``Guarded``: a Counter whose ``join_attempt`` refuses a player whose meta ``pass`` is
  not the match's ``params.pass``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

from server.games.api import Game, GameContext, Input, JsonValue, LeaveReason
from server.games.sync.state import Schema, SyncMap

SLOW_MAX_S = 2.0  # a test's overrun, bounded

State = dict[str, Any]


class Counter(Game[State]):
    def init(self, ctx: GameContext, params: Mapping[str, JsonValue]) -> State:
        return {"totals": {}, "applied": {}, "pass": params.get("pass", "")}

    def join(self, ctx: GameContext, state: State, players: list[str]) -> None:
        for player in players:
            state["totals"].setdefault(player, 0)
            state["applied"].setdefault(player, [])

    def leave(
        self, ctx: GameContext, state: State, players: list[str], reason: LeaveReason
    ) -> None:
        ctx.broadcast("left", {"players": players, "reason": reason.value})

    def tick(self, ctx: GameContext, state: State, inputs: list[Input]) -> State:
        for item in inputs:
            self.on_input(ctx, state, item)
        return state

    def on_input(self, ctx: GameContext, state: State, item: Input) -> None:
        if item.type == "add" and isinstance(item.data, int) and not isinstance(item.data, bool):
            state["totals"][item.player] = state["totals"].get(item.player, 0) + item.data
            state["applied"].setdefault(item.player, []).append(item.data)
            ctx.send(item.player, "added", {"n": item.data})
        elif item.type == "report":
            ctx.broadcast("report", {"totals": state["totals"], "applied": state["applied"]})
        elif item.type == "kick" and isinstance(item.data, str):
            ctx.kick(item.data)
        elif item.type == "unreadable":
            ctx.broadcast("unreadable", {1: b"bytes are no JSON"})
        elif item.type == "end" and not ctx.ended:
            ctx.end(state["totals"] if item.data is None else item.data)


class Boom(Counter):
    def on_input(self, ctx: GameContext, state: State, item: Input) -> None:
        if item.type == "boom":
            raise RuntimeError("boom, as the test asked")
        if item.type == "boom_later":
            state["boom_in_snapshot"] = True
        super().on_input(ctx, state, item)

    def snapshot(self, state: State) -> bytes:
        if state.get("boom_in_snapshot"):
            raise RuntimeError("boom in snapshot, as the test asked")
        return super().snapshot(state)


class Slow(Counter):
    def on_input(self, ctx: GameContext, state: State, item: Input) -> None:
        if item.type == "slow" and isinstance(item.data, int | float):
            time.sleep(min(float(item.data), SLOW_MAX_S))
        super().on_input(ctx, state, item)


class Guarded(Counter):
    def join_attempt(
        self, ctx: GameContext, state: State, player: str, meta: Mapping[str, JsonValue]
    ) -> str | None:
        if meta.get("pass") != state["pass"]:
            return "wrong pass"
        return None


class Tally(Schema):
    """Synced state: each player's total, and a secret per player (owner only)."""

    _views: ClassVar[dict[str, str]] = {"secret": "owner"}
    owner: str
    total: int
    secret: int


class Board(Schema):
    tallies: SyncMap[Tally]


class SyncedCounter(Game[Board]):
    """Inputs ``add {n}`` add to the sender's synced total; its secret is n squared."""

    def init(self, ctx: GameContext, params: Mapping[str, JsonValue]) -> Board:
        return Board(tallies=SyncMap())

    def join(self, ctx: GameContext, state: Board, players: list[str]) -> None:
        for player in players:
            if player not in state.tallies:
                state.tallies[player] = Tally(owner=player, total=0, secret=0)

    def tick(self, ctx: GameContext, state: Board, inputs: list[Input]) -> Board:
        for item in inputs:
            if item.type == "add" and isinstance(item.data, int) and item.player in state.tallies:
                tally = state.tallies[item.player]
                tally.total += item.data
                tally.secret = item.data * item.data
        return state
