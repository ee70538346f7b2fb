"""The game context: what a game emits is collected in order, never sent; virtual time
and the rng are the match's own; a plain game takes msgpack snapshots by default."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from server.games.api import (
    End,
    Event,
    Game,
    GameContext,
    Input,
    JsonValue,
    Kick,
    MatchEndedError,
    Output,
    SetLabel,
    check_tick_rate,
)
from server.games.match import HostedMatch


def test_what_a_game_emits_reaches_the_sink_in_order() -> None:
    out: list[Output] = []
    ctx = GameContext("m1", 20, out.append)
    ctx.broadcast("hello", {"n": 1})
    ctx.broadcast("psst", 2, to=["a", "b"])
    ctx.send("a", "you", None)
    ctx.kick("b")
    ctx.set_label({"open": 1})
    ctx.end({"a": 1, "b": 0})
    assert out == [
        Event("hello", {"n": 1}),
        Event("psst", 2, ("a", "b")),
        Event("you", None, ("a",)),
        Kick("b"),
        SetLabel({"open": 1}),
        End({"a": 1, "b": 0}),
    ]


def test_a_match_ends_once() -> None:
    ctx = GameContext("m1", 20, lambda _: None)
    ctx.end({})
    with pytest.raises(MatchEndedError):
        ctx.end({})


def test_virtual_time_is_the_tick_count_over_the_rate() -> None:
    ctx = GameContext("m1", 20, lambda _: None, tick=60)
    assert ctx.now == 3.0
    assert ctx.period == 0.05
    ctx.tick = 7
    assert ctx.now == 7 / 20


@pytest.mark.parametrize("rate", [0, 61, -1, 1.5, True, "20"])
def test_a_tick_rate_outside_1_to_60_is_refused(rate: object) -> None:
    with pytest.raises(ValueError, match="tick rate"):
        check_tick_rate(rate)  # type: ignore[arg-type]


def test_the_rng_is_seeded_and_its_state_round_trips_through_bytes() -> None:
    a = GameContext("m1", 20, lambda _: None, seed=42)
    b = GameContext("m1", 20, lambda _: None, seed=42)
    assert [a.rng.random() for _ in range(3)] == [b.rng.random() for _ in range(3)]
    a.rng.gauss(0, 1)  # leaves a cached value in the state: it must travel too
    c = GameContext("m1", 20, lambda _: None, seed=0)
    c.restore_rng(a.rng_state())
    assert [c.rng.gauss(0, 1) for _ in range(3)] == [a.rng.gauss(0, 1) for _ in range(3)]


class Counter(Game[dict[str, int]]):
    """The least a game writes: init and tick, with a plain dict state."""

    def init(self, ctx: GameContext, params: Mapping[str, JsonValue]) -> dict[str, int]:
        return {"inputs": 0, "rolls": 0}

    def tick(self, ctx: GameContext, state: dict[str, int], inputs: list[Input]) -> dict[str, int]:
        state["inputs"] += len(inputs)
        state["rolls"] += ctx.rng.randint(1, 6)
        ctx.broadcast("count", dict(state))
        return state


def test_a_plain_game_takes_the_defaults_and_snapshots_with_msgpack() -> None:
    match, _ = HostedMatch.start(Counter(), "m1", 5, {}, seed=3)
    assert match.join_attempt("a", {}) is None
    assert match.join(["a"]) == []
    match.step([Input("a", "x", None, "1-0")])
    copy = HostedMatch.restore(Counter(), "m1", 5, match.snapshot())
    assert copy.state == match.state
    assert copy.step([]) == match.step([])
    assert copy.ctx.tick == 2
    assert isinstance(Counter(), Game)
