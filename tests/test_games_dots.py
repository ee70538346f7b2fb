"""Dots on the game API, driven through a HostedMatch as a runner would: the speed cap
whatever a page sends, a ring scored once, the race to 10 ended with ctx.end, ties,
leaving, and a match taken over from a snapshot replaying exactly."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest

from server.games.api import End, Event, Input, LeaveReason, Output, SetLabel
from server.games.dots import DOT_R, FIELD_H, FIELD_W, REACH, TARGET_R, Dots, Race
from server.games.match import HostedMatch

RATE = 20  # ticks a second: 240 px/s is 12 px a tick
STEP = 240 / RATE


def start(
    seed: int = 7, players: tuple[str, ...] = ("alice", "bob"), **params: Any
) -> HostedMatch[Race]:
    match, outputs = HostedMatch.start(Dots(), "m1", RATE, params, seed=seed)
    assert outputs == [SetLabel({"open": params.get("seats", 8)})]
    for player in players:
        assert match.join_attempt(player, {}) is None
        match.join([player])
    return match


def steer(player: str, x: object, y: object, n: int = 0) -> Input:
    return Input(player, "steer", {"x": x, "y": y}, f"1-{n}")


def states(outputs: list[Output]) -> list[dict[str, Any]]:
    return [o.data for o in outputs if isinstance(o, Event) and o.type == "state" and o.to is None]


def ends(outputs: list[Output]) -> list[End]:
    return [o for o in outputs if isinstance(o, End)]


def chase(match: HostedMatch[Race], player: str, *, limit: int = 200) -> list[Output]:
    """Steer ``player`` at the ring every tick until they score; every output emitted."""
    k, before = match.state.k, match.state.scores[player]
    emitted: list[Output] = []
    for n in range(limit):
        x, y = match.state.target
        emitted += match.step([steer(player, x, y, n)])
        if match.state.scores[player] > before or match.ended:
            assert match.state.k == k + 1 or match.ended
            return emitted
    raise AssertionError(f"{player} did not reach ring {k} in {limit} ticks")


def distance(a: Sequence[float], b: Sequence[float]) -> float:
    return math.sqrt((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2)


def test_players_start_on_the_bottom_band_and_see_the_first_ring() -> None:
    match, _ = HostedMatch.start(Dots(), "m1", RATE, {}, seed=3)
    emitted = match.join(["alice", "bob"])
    assert emitted[0] == SetLabel({"open": 6})
    view = states(emitted)[0]
    assert set(view["dots"]) == {"alice", "bob"}
    assert all(y == FIELD_H - 20 for _, y in view["dots"].values())
    assert view["scores"] == {"alice": 0, "bob": 0}
    target = view["target"]
    assert target["k"] == 0
    assert TARGET_R <= target["x"] <= FIELD_W - TARGET_R
    assert TARGET_R <= target["y"] <= FIELD_H - 40 - TARGET_R
    assert view["winner"] == ""


@pytest.mark.parametrize(
    ("x", "y"),
    [(0, 0), (640, 400), (10**400, -(10**400)), (1e308, 1e308), (-5.5, 7), (320, 0)],
)
def test_a_dot_never_moves_faster_than_the_cap_whatever_it_is_told(x: object, y: object) -> None:
    match = start()
    for n in range(60):
        before = list(match.state.dots["alice"])
        # Many steers in one tick: the last counts, and still only one step is run.
        match.step([steer("alice", 320, 200, n), steer("alice", x, y, n)])
        after = match.state.dots["alice"]
        assert distance(before, after) <= STEP + 1e-9
        assert 0 <= after[0] <= FIELD_W
        assert 0 <= after[1] <= FIELD_H


def test_the_cap_follows_the_speed_and_the_tick_rate() -> None:
    match, _ = HostedMatch.start(Dots(), "m1", 60, {"speed": 120}, seed=1)
    match.join(["alice"])
    before = list(match.state.dots["alice"])
    match.step([steer("alice", 0, 0)])
    assert distance(before, match.state.dots["alice"]) == pytest.approx(2.0)


def test_a_page_claiming_to_be_on_the_ring_only_steers_there() -> None:
    match = start()
    x, y = match.state.target
    claims = [
        steer("alice", x, y),
        Input("alice", "score", {"k": 0, "x": x, "y": y}, "1-1"),
        Input("alice", "move", {"x": x, "y": y}, "1-2"),
    ]
    emitted = match.step(claims)
    assert match.state.scores["alice"] == 0
    assert Event("rejected", {"reason": "unknown input 'score': only steer"}, ("alice",)) in emitted
    far = distance(match.state.dots["alice"], [x, y])
    ticks = 1
    while match.state.scores["alice"] == 0:
        match.step([])
        ticks += 1
    # It took as long as running there takes, not one tick.
    assert ticks >= math.ceil((far + STEP - REACH) / STEP)


def test_a_ring_reached_is_scored_once_and_the_next_one_is_far_from_it() -> None:
    match = start()
    old = list(match.state.target)
    emitted = chase(match, "alice")
    assert match.state.scores == {"alice": 1, "bob": 0}
    view = states(emitted)[-1]
    assert view["scores"] == {"alice": 1, "bob": 0}
    assert view["target"]["k"] == 1
    assert distance(old, match.state.target) > 4 * REACH
    # Standing on (and around) the old ring scores nothing more.
    for n in range(40):
        match.step([steer("alice", old[0], old[1], n)])
    assert match.state.scores == {"alice": 1, "bob": 0}
    assert match.state.k == 1


def test_the_first_to_ten_wins_and_the_match_ends_with_everyones_points() -> None:
    match = start()
    chase(match, "bob")
    emitted: list[Output] = []
    for _ in range(10):
        emitted += chase(match, "alice")
    assert ends(emitted) == [End({"alice": 10, "bob": 1})]
    assert match.ended
    last = states(emitted)[-1]
    assert last["winner"] == "alice"
    assert last["target"] is None
    assert last["scores"] == {"alice": 10, "bob": 1}
    # After the end nothing moves, nothing is said.
    assert match.step([steer("bob", 0, 0)]) == []
    assert match.join_attempt("carol", {}) == "the race is over"


def test_the_win_is_a_parameter() -> None:
    match = start(win=2)
    chase(match, "alice")
    assert ends(chase(match, "alice")) == [End({"alice": 2, "bob": 0})]


def place(match: HostedMatch[Race], **dots: list[float]) -> None:
    for player, at in dots.items():
        match.state.dots[player] = list(at)
        match.state.steer[player] = list(at)


def test_two_dots_on_the_ring_in_one_tick_the_earlier_one_scores() -> None:
    match = start()
    x, y = match.state.target
    # bob (the later id) is 2 px from touching, alice 8 px: both touch within the tick.
    place(match, alice=[x - REACH - 8, y], bob=[x + REACH + 2, y])
    match.step([steer("alice", x, y, 1), steer("bob", x, y, 2)])
    assert match.state.scores == {"alice": 0, "bob": 1}


def test_a_true_tie_goes_to_the_lowest_player_id_on_every_node() -> None:
    match = start(players=("bob", "alice"))
    x, y = match.state.target
    place(match, alice=[x - REACH - 5, y], bob=[x + REACH + 5, y])
    match.step([steer("bob", x, y, 1), steer("alice", x, y, 2)])
    assert match.state.scores == {"bob": 0, "alice": 1}


def test_a_dot_that_crosses_the_ring_in_one_tick_still_touches_it() -> None:
    match = start(speed=2000)  # 100 px a tick: over the ring and out the other side
    x, y = match.state.target
    place(match, alice=[x - 50, y + REACH - 1])
    match.step([steer("alice", x + 50, y + REACH - 1)])
    assert match.state.scores["alice"] == 1


BAD_DATA: list[object] = [
    None,
    [],
    "x",
    7,
    {},
    {"x": 1},
    {"x": "1", "y": 2},
    {"x": True, "y": 2},
    {"x": None, "y": 2},
    {"x": [1], "y": 2},
    {"x": float("nan"), "y": 2},
    {"x": float("inf"), "y": 2},
    {"x": 1, "y": float("-inf")},
    {"x": {"y": 1}, "y": 2},
]


@pytest.mark.parametrize("data", BAD_DATA)
def test_a_bad_steer_is_rejected_to_its_sender_and_changes_nothing(data: object) -> None:
    match = start()
    match.step([steer("alice", 300, 300)])
    steering = dict(match.state.steer)
    emitted = match.step([Input("alice", "steer", data, "1-9")])
    rejections = [o for o in emitted if isinstance(o, Event) and o.type == "rejected"]
    assert len(rejections) == 1
    assert rejections[0].to == ("alice",)
    assert match.state.steer == steering


def test_a_flood_of_bad_inputs_gets_one_rejection_a_tick_and_good_ones_still_count() -> None:
    match = start()
    flood = [Input("alice", "steer", None, f"1-{n}") for n in range(50)]
    flood.append(steer("alice", 0, 0, 99))
    flood += [Input("bob", "jump", {}, "2-0"), Input("carol", "steer", {"x": 1, "y": 1}, "3-0")]
    emitted = match.step(flood)
    rejected = [o for o in emitted if isinstance(o, Event) and o.type == "rejected"]
    assert [r.to for r in rejected] == [("alice",), ("bob",)]  # carol is not in the race
    assert match.state.steer["alice"] == [0.0, 0.0]


def test_a_player_who_leaves_is_out_of_the_race_with_their_points_kept() -> None:
    match = start(players=("alice", "bob", "carol"))
    chase(match, "carol")
    emitted = match.leave(["carol"], LeaveReason.LEFT)
    assert SetLabel({"open": 6}) in emitted
    assert set(states(emitted)[0]["dots"]) == {"alice", "bob"}
    assert match.join_attempt("carol", {}) == "you left this race"
    # A steer of carol's stored before she left is ignored.
    assert match.step([steer("carol", 0, 0)]) == []
    for _ in range(10):
        emitted = chase(match, "bob")
    assert ends(emitted) == [End({"alice": 0, "bob": 10, "carol": 1})]


def test_a_dropped_player_keeps_their_dot_and_comes_back_to_it() -> None:
    match = start()
    match.step([steer("bob", 100, 100)])
    assert match.leave(["bob"], LeaveReason.DROPPED) == []
    for _ in range(5):
        match.step([])
    assert "bob" in match.state.dots
    assert match.join_attempt("bob", {}) is None
    assert match.join(["bob"]) == []  # already racing: nothing changes


def test_when_everyone_left_the_race_ends_with_the_points_as_they_stand() -> None:
    match = start()
    chase(match, "bob")
    match.leave(["alice"], LeaveReason.KICKED)
    emitted = match.leave(["bob"], LeaveReason.LEFT)
    assert ends(emitted) == [End({"alice": 0, "bob": 1})]
    assert states(emitted)[-1]["winner"] == ""


def test_a_full_race_refuses_more() -> None:
    match = start(seats=2)
    assert match.join_attempt("carol", {}) == "the race is full"


def test_idle_dots_are_broadcast_once_a_second_and_moving_ones_every_tick() -> None:
    match = start()
    said = [len(states(match.step([]))) for _ in range(2 * RATE)]
    assert sum(said) == 2
    said = [len(states(match.step([steer("alice", 0, 0, n)]))) for n in range(5)]
    assert said == [1] * 5


def test_a_replay_from_a_snapshot_gives_the_same_state_outputs_and_rings() -> None:
    """What a node taking over does: restore the last snapshot, replay the recorded
    inputs of the ticks since. Scoring draws rings from the rng after the snapshot."""
    match = start(seed=42)
    chase(match, "alice")
    saved = match.snapshot()
    recorded: list[list[Input]] = []
    emitted: list[Output] = []
    for n in range(300):
        x, y = match.state.target
        mover = "bob" if n % 70 < 35 else "alice"
        recorded.append([steer(mover, x, y, n), steer("alice", 13.25, 399.5, n)])
        emitted += match.step(recorded[-1])
    assert match.state.k >= 3

    copy = HostedMatch.restore(Dots(), "m1", RATE, saved)
    replayed: list[Output] = []
    for inputs in recorded:
        replayed += copy.step(inputs)
    assert replayed == emitted
    assert copy.state == match.state
    assert copy.snapshot() == match.snapshot()
    assert copy.ctx.rng.getstate() == match.ctx.rng.getstate()


def test_the_rings_come_from_the_seed() -> None:
    def rings(seed: int) -> list[list[int]]:
        match = start(seed=seed)
        seen = []
        for _ in range(4):
            seen.append(list(match.state.target))
            chase(match, "alice")
        return seen

    assert rings(5) == rings(5)
    assert rings(5) != rings(6)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"speed": 0}, "speed"),
        ({"speed": "fast"}, "speed"),
        ({"win": 0}, "win"),
        ({"win": 2.5}, "win"),
        ({"seats": 65}, "seats"),
        ({"seats": True}, "seats"),
    ],
)
def test_bad_params_are_refused_at_init(params: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        HostedMatch.start(Dots(), "m1", RATE, params, seed=1)


def test_dots_are_drawn_where_the_page_expects_them() -> None:
    assert (FIELD_W, FIELD_H, TARGET_R, DOT_R) == (640, 400, 24, 10)  # play-field.js


def test_a_race_run_alone_scores_nothing_until_a_second_player_joins() -> None:
    match = start(players=("alice",))
    for n in range(100):  # long enough to reach the ring many times over
        x, y = match.state.target
        match.step([steer("alice", x, y, n)])
    assert match.state.scores == {"alice": 0}
    assert not match.ended
    match.join(["bob"])
    chase(match, "alice")
    assert match.state.scores["alice"] == 1
