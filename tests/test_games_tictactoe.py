"""Tic-tac-toe on the game API, driven through a HostedMatch as a runner would: whole
games to a win and a draw, rejected moves, the move clock, and a match taken over
from a snapshot (the rng included) that ends as the original did."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from server.games.api import End, Event, Input, LeaveReason, Output, SetLabel
from server.games.match import ATTEMPT, HostedMatch, Step
from server.games.sync.frames import StateFrame
from server.games.sync.replica import Replica
from server.games.sync.snapshot import plain
from server.games.tictactoe import Board, TicTacToe

RATE = 10  # ticks a second: the move clock of 30 s is 300 ticks


def start(seed: int = 7, **params: Any) -> tuple[HostedMatch[Board], str, str]:
    """A match with alice and bob seated; returns it, who moves first, who second."""
    match, outputs = HostedMatch.start(TicTacToe(), "m1", RATE, params, seed=seed)
    assert outputs == [SetLabel({"open": 2})]
    for player in ("alice", "bob"):
        assert match.join_attempt(player, {}) is None
        match.join([player])
    first = match.state.turn
    return match, first, match.state.other(first)


def move(player: str, cell: object, n: int = 0) -> Input:
    return Input(player, "move", {"cell": cell}, f"1-{n}")


def states(outputs: Sequence[Output | Step]) -> list[dict[str, Any]]:
    return [o.data for o in outputs if isinstance(o, Event) and o.type == "state"]


def ends(outputs: list[Output]) -> list[End]:
    return [o for o in outputs if isinstance(o, End)]


def play(match: HostedMatch[Board], x: str, o: str, cells: list[int]) -> list[Output]:
    """Alternate moves x, o, x, ... one a tick; every output emitted."""
    emitted: list[Output] = []
    for n, cell in enumerate(cells):
        emitted += match.step([move(x if n % 2 == 0 else o, cell, n)])
    return emitted


def test_the_first_player_wins_a_row_and_the_result_says_so() -> None:
    match, x, o = start()
    emitted = play(match, x, o, [0, 3, 1, 4, 2])
    last = states(emitted)[-1]
    assert last == {
        "board": [x, x, x, o, o, "", "", "", ""],
        "turn": "",
        "winner": x,
        "draw": False,
    }
    assert ends(emitted) == [End({x: 1, o: 0})]
    assert match.ended


def test_every_accepted_move_is_broadcast_to_everyone_with_whose_turn_it_is() -> None:
    match, x, o = start()
    emitted = match.step([move(x, 4)])
    assert emitted == [
        Event(
            "state",
            {"board": ["", "", "", "", x, "", "", "", ""], "turn": o, "winner": "", "draw": False},
        )
    ]


def test_a_full_board_without_a_line_is_a_draw_scored_zero_each() -> None:
    match, x, o = start()
    emitted = play(match, x, o, [0, 1, 2, 4, 3, 5, 7, 6, 8])
    assert states(emitted)[-1]["draw"] is True
    assert states(emitted)[-1]["winner"] == ""
    assert ends(emitted) == [End({x: 0, o: 0})]


@pytest.mark.parametrize(
    ("who", "cell", "reason"),
    [
        ("second", 0, "not your turn"),
        ("first", 4, "cell taken"),
        ("first", 9, "cell must be 0..8"),
        ("first", "4", "cell must be 0..8"),
        ("carol", 0, "not a player of this match"),
    ],
)
def test_a_wrong_move_is_rejected_to_that_player_only_and_changes_nothing(
    who: str, cell: object, reason: str
) -> None:
    match, x, o = start()
    match.step([move(x, 4), move(o, 0)])
    player = {"first": x, "second": o}.get(who, who)
    before = list(match.state.cells)
    emitted = match.step([move(player, cell)])
    assert emitted == [Event("rejected", {"reason": reason}, (player,))]
    assert list(match.state.cells) == before


def test_inputs_of_one_tick_are_applied_in_arrival_order() -> None:
    match, x, o = start()
    emitted = match.step([move(o, 0), move(x, 4), move(o, 0)])
    assert emitted[0] == Event("rejected", {"reason": "not your turn"}, (o,))
    assert [s["turn"] for s in states(emitted)] == [o, x]
    assert match.state.cells[0] == o


def test_a_move_before_the_game_starts_or_after_it_ends_is_rejected() -> None:
    match, _ = HostedMatch.start(TicTacToe(), "m1", RATE, {}, seed=1)
    match.join(["alice"])
    assert match.step([move("alice", 0)]) == [
        Event("rejected", {"reason": "the game has not started"}, ("alice",))
    ]
    match, x, o = start()
    play(match, x, o, [0, 3, 1, 4, 2])
    assert match.step([move(o, 8)])[0] == Event("rejected", {"reason": "the game is over"}, (o,))


def test_the_player_whose_clock_runs_out_loses() -> None:
    match, x, o = start(move_clock_s=2)
    match.step([move(x, 4)])  # tick 1: o's clock runs to tick 21 (2 s at 10 Hz)
    for _ in range(19):
        assert match.step([]) == []
    emitted = match.step([])
    assert match.ctx.now == pytest.approx(2.1)
    assert states(emitted)[-1]["winner"] == x
    assert ends(emitted) == [End({x: 1, o: 0})]


def test_a_player_who_leaves_forfeits_but_one_who_drops_keeps_the_seat() -> None:
    match, x, o = start()
    assert match.leave([o], LeaveReason.DROPPED) == []
    assert match.join_attempt(o, {}) is None
    assert match.join_attempt("carol", {}) == "the match is full"
    emitted = match.leave([o], LeaveReason.LEFT)
    assert ends(emitted) == [End({x: 1, o: 0})]


def test_a_match_restored_from_a_snapshot_mid_game_ends_the_same() -> None:
    match, x, o = start()
    play(match, x, o, [0, 3])
    copy = HostedMatch.restore(TicTacToe(), "m1", RATE, match.snapshot())
    rest = [1, 4, 2]
    assert play(copy, x, o, rest) == play(match, x, o, rest)
    assert plain(copy.state) == plain(match.state)
    assert copy.ctx.tick == match.ctx.tick


def test_a_replay_from_a_snapshot_gives_the_same_state_and_rng() -> None:
    """What a node taking over does: restore the last snapshot, replay the recorded
    inputs of the ticks since. The seat draw reads the rng after the snapshot."""
    match, _ = HostedMatch.start(TicTacToe(), "m1", RATE, {}, seed=99)
    match.join(["alice"])
    saved = match.snapshot()
    recorded: list[list[Input]] = []
    emitted: list[Output] = match.join(["bob"])
    first = match.state.turn
    for n, (player, cell) in enumerate([(first, 4), (match.state.other(first), 0), (first, 8)]):
        recorded.append([move(player, cell, n)])
        emitted += match.step(recorded[-1])

    copy = HostedMatch.restore(TicTacToe(), "m1", RATE, saved)
    replayed = copy.join(["bob"])
    for inputs in recorded:
        replayed += copy.step(inputs)
    assert replayed == emitted
    assert plain(copy.state) == plain(match.state)
    assert copy.ctx.rng.getstate() == match.ctx.rng.getstate()


def test_the_first_mover_comes_from_the_seeded_rng() -> None:
    firsts = {start(seed)[1] for seed in range(20)}
    assert firsts == {"alice", "bob"}
    assert start(5)[1] == start(5)[1]


def test_a_bad_move_clock_is_refused_at_init() -> None:
    with pytest.raises(ValueError, match="move_clock_s"):
        HostedMatch.start(TicTacToe(), "m1", RATE, {"move_clock_s": 0}, seed=1)


def test_the_board_is_synced_state_and_the_state_events_stay() -> None:
    """Players get match.state keyframes and patches of the Board, and the same
    ``state`` events as before it was synced: clients of either keep working."""
    match, _ = HostedMatch.start(TicTacToe(), "m1", RATE, {}, seed=7)
    steps = match.advance([Input("alice", ATTEMPT, {}, "1-0"), Input("bob", ATTEMPT, {}, "1-1")])
    keyframes = [s for s in steps if isinstance(s, StateFrame)]
    assert [f.to for f in keyframes] == [("alice", "bob")]  # one view: one keyframe
    replica = Replica()
    replica.keyframe(1, keyframes[0].full or [], keyframes[0].schema or [])
    assert replica.state == plain(match.state)
    x = match.state.turn
    steps = match.advance([move(x, 4)])
    assert states(steps) == [
        {
            "board": ["", "", "", "", x, "", "", "", ""],
            "turn": match.state.other(x),
            "winner": "",
            "draw": False,
        }
    ]
    (patch,) = [s for s in steps if isinstance(s, StateFrame)]
    assert (patch.to, patch.base) == (None, 1)
    replica.apply(2, 1, patch.patch or [])
    assert replica.state == plain(match.state)
    assert replica.state["cells"][4] == x
