"""The benchmark's game (loadtest/bench/bench_game.py) through a HostedMatch: moves are
clamped, each player's input count comes back beside its position, every tick broadcasts
once (moves or not), and a snapshot restores the same state."""

from __future__ import annotations

from loadtest.bench.bench_game import SIDE, BenchGame, State
from server.games.api import Event, Input, LeaveReason, Output
from server.games.match import HostedMatch


def started() -> HostedMatch[State]:
    match, _ = HostedMatch.start(BenchGame(), "m1", 20, {}, seed=1)
    match.join(["alice", "bob"])
    return match


def positions(outputs: list[Output]) -> list[object]:
    return [o.data for o in outputs if isinstance(o, Event) and o.type == "pos"]


def move(player: str, n: int, **data: object) -> Input:
    return Input(player, "move", {**data, "n": n}, f"1-{n}")


def test_every_tick_broadcasts_every_position_once_moves_or_not() -> None:
    match = started()
    assert positions(match.step([])) == [
        {"alice": [SIDE / 2, SIDE / 2, 0], "bob": [SIDE / 2, SIDE / 2, 0]}
    ]
    emitted = match.step([move("alice", 1, x=10, y=20), move("alice", 2, x=30, y=40)])
    assert positions(emitted) == [{"alice": [30.0, 40.0, 2], "bob": [SIDE / 2, SIDE / 2, 0]}]


def test_moves_are_clamped_and_bad_fields_change_nothing() -> None:
    match = started()
    emitted = match.step(
        [
            move("alice", 1, x=-5, y=SIDE * 3),
            move("bob", 1, x="far", y=True),
            Input("bob", "jump", {"x": 1}, "1-9"),
        ]
    )
    assert positions(emitted)[-1] == {"alice": [0.0, SIDE, 1], "bob": [SIDE / 2, SIDE / 2, 1]}


def test_a_player_who_left_is_gone_and_a_dropped_one_keeps_their_place() -> None:
    match = started()
    match.step([move("alice", 3, x=1, y=2)])
    match.leave(["alice"], LeaveReason.DROPPED)
    match.leave(["bob"], LeaveReason.LEFT)
    assert positions(match.step([]))[-1] == {"alice": [1.0, 2.0, 3]}


def test_a_restored_snapshot_goes_on_as_the_original() -> None:
    match = started()
    match.step([move("bob", 4, x=7, y=8)])
    copy = HostedMatch.restore(BenchGame(), "m1", 20, match.snapshot())
    later = [move("alice", 1, x=3, y=3)]
    assert positions(copy.step(later)) == positions(match.step(later))
