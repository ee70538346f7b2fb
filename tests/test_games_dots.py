"""Dots on the game API, driven through a HostedMatch as a runner would: the speed cap
whatever a page sends, a ring scored once, the race to 10 ended with ctx.end, ties,
leaving, a match taken over from a snapshot replaying exactly, and its synced state
reaching players as match.state keyframes and patches."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import msgpack
import pytest

from server.games.api import End, Event, Input, LeaveReason, Output, SetLabel
from server.games.dots import DOT_R, FIELD_H, FIELD_W, REACH, TARGET_R, Dots, Race
from server.games.match import ATTEMPT, SYNC, HostedMatch, Step
from server.games.sync.frames import StateFrame
from server.games.sync.replica import Replica
from server.games.sync.snapshot import plain

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


def at(match: HostedMatch[Race], player: str) -> tuple[int, int]:
    dot = match.state.dots[player]
    return dot.x, dot.y


def goal(match: HostedMatch[Race], player: str) -> tuple[int, int]:
    dot = match.state.dots[player]
    return dot.goal_x, dot.goal_y


def ring(match: HostedMatch[Race]) -> tuple[int, int]:
    return match.state.target.x, match.state.target.y


def view(match: HostedMatch[Race]) -> dict[str, Any]:
    """The state as a player's replica holds it."""
    seen: dict[str, Any] = plain(match.state)
    return seen


def ends(outputs: list[Output]) -> list[End]:
    return [o for o in outputs if isinstance(o, End)]


def chase(match: HostedMatch[Race], player: str, *, limit: int = 200) -> list[Output]:
    """Steer ``player`` at the ring every tick until they score; every output emitted."""
    k, before = match.state.target.k, match.state.scores[player]
    emitted: list[Output] = []
    for n in range(limit):
        x, y = ring(match)
        emitted += match.step([steer(player, x, y, n)])
        if match.state.scores[player] > before or match.ended:
            assert match.state.target.k == k + 1 or match.ended
            return emitted
    raise AssertionError(f"{player} did not reach ring {k} in {limit} ticks")


def distance(a: Sequence[float], b: Sequence[float]) -> float:
    return math.sqrt((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2)


def test_players_start_on_the_bottom_band_and_see_the_first_ring() -> None:
    match, _ = HostedMatch.start(Dots(), "m1", RATE, {}, seed=3)
    emitted = match.join(["alice", "bob"])
    assert emitted == [SetLabel({"open": 6})]  # the state is synced: no event
    seen = view(match)
    assert set(seen["dots"]) == {"alice", "bob"}
    assert all(d["y"] == d["goal_y"] == FIELD_H - 20 for d in seen["dots"].values())
    assert seen["scores"] == {"alice": 0, "bob": 0}
    target = seen["target"]
    assert target["k"] == 0
    assert TARGET_R <= target["x"] <= FIELD_W - TARGET_R
    assert TARGET_R <= target["y"] <= FIELD_H - 40 - TARGET_R
    assert (seen["winner"], seen["over"]) == ("", False)


@pytest.mark.parametrize(
    ("x", "y"),
    [(0, 0), (640, 400), (10**400, -(10**400)), (1e308, 1e308), (-5.5, 7), (320, 0)],
)
def test_a_dot_never_moves_faster_than_the_cap_whatever_it_is_told(x: object, y: object) -> None:
    match = start()
    for n in range(60):
        before = at(match, "alice")
        # Many steers in one tick: the last counts, and still only one step is run.
        match.step([steer("alice", 320, 200, n), steer("alice", x, y, n)])
        after = at(match, "alice")
        assert all(isinstance(c, int) for c in after)  # whole pixels: small patches
        assert distance(before, after) <= STEP + 1e-9
        assert 0 <= after[0] <= FIELD_W
        assert 0 <= after[1] <= FIELD_H


def test_the_cap_follows_the_speed_and_the_tick_rate() -> None:
    match, _ = HostedMatch.start(Dots(), "m1", 60, {"speed": 120}, seed=1)
    match.join(["alice"])
    before = at(match, "alice")
    match.step([steer("alice", 0, 0)])
    assert 1.0 < distance(before, at(match, "alice")) <= 2.0
    match, _ = HostedMatch.start(Dots(), "m1", 60, {"speed": 120}, seed=1)
    match.join(["alice"])
    match.step([steer("alice", 71, 0)])  # straight up: exactly the cap
    assert at(match, "alice") == (71, FIELD_H - 22)


def test_a_page_claiming_to_be_on_the_ring_only_steers_there() -> None:
    match = start()
    x, y = ring(match)
    claims = [
        steer("alice", x, y),
        Input("alice", "score", {"k": 0, "x": x, "y": y}, "1-1"),
        Input("alice", "move", {"x": x, "y": y}, "1-2"),
    ]
    emitted = match.step(claims)
    assert match.state.scores["alice"] == 0
    assert Event("rejected", {"reason": "unknown input 'score': only steer"}, ("alice",)) in emitted
    far = distance(at(match, "alice"), [x, y])
    ticks = 1
    while match.state.scores["alice"] == 0:
        match.step([])
        ticks += 1
    # It took as long as running there takes, not one tick.
    assert ticks >= math.ceil((far + STEP - REACH) / STEP)


def test_a_ring_reached_is_scored_once_and_the_next_one_is_far_from_it() -> None:
    match = start()
    old = ring(match)
    chase(match, "alice")
    seen = view(match)
    assert seen["scores"] == {"alice": 1, "bob": 0}
    assert seen["target"]["k"] == 1
    assert distance(old, ring(match)) > 4 * REACH
    # Standing on (and around) the old ring scores nothing more.
    for n in range(40):
        match.step([steer("alice", old[0], old[1], n)])
    assert view(match)["scores"] == {"alice": 1, "bob": 0}
    assert match.state.target.k == 1


def test_the_first_to_ten_wins_and_the_match_ends_with_everyones_points() -> None:
    match = start()
    chase(match, "bob")
    emitted: list[Output] = []
    for _ in range(10):
        emitted += chase(match, "alice")
    assert ends(emitted) == [End({"alice": 10, "bob": 1})]
    assert match.ended
    last = view(match)
    assert (last["winner"], last["over"]) == ("alice", True)
    assert last["scores"] == {"alice": 10, "bob": 1}
    # After the end nothing moves, nothing is said.
    assert match.step([steer("bob", 0, 0)]) == []
    assert match.join_attempt("carol", {}) == "the race is over"


def test_the_win_is_a_parameter() -> None:
    match = start(win=2)
    chase(match, "alice")
    assert ends(chase(match, "alice")) == [End({"alice": 2, "bob": 0})]


def place(match: HostedMatch[Race], **dots: tuple[int, int]) -> None:
    for player, (x, y) in dots.items():
        dot = match.state.dots[player]
        dot.x, dot.y, dot.goal_x, dot.goal_y = x, y, x, y


def test_two_dots_on_the_ring_in_one_tick_the_earlier_one_scores() -> None:
    match = start()
    x, y = ring(match)
    # bob (the later id) is 2 px from touching, alice 8 px: both touch within the tick.
    place(match, alice=(x - REACH - 8, y), bob=(x + REACH + 2, y))
    match.step([steer("alice", x, y, 1), steer("bob", x, y, 2)])
    assert view(match)["scores"] == {"alice": 0, "bob": 1}


def test_a_true_tie_goes_to_the_lowest_player_id_on_every_node() -> None:
    match = start(players=("bob", "alice"))
    x, y = ring(match)
    place(match, alice=(x - REACH - 5, y), bob=(x + REACH + 5, y))
    match.step([steer("bob", x, y, 1), steer("alice", x, y, 2)])
    assert view(match)["scores"] == {"bob": 0, "alice": 1}


def test_a_dot_that_crosses_the_ring_in_one_tick_still_touches_it() -> None:
    match = start(speed=2000)  # 100 px a tick: over the ring and out the other side
    x, y = ring(match)
    place(match, alice=(x - 50, y + REACH - 1))
    match.step([steer("alice", x + 50, y + REACH - 1)])
    assert match.state.scores["alice"] == 1


BAD_DATA: list[object] = [None, [], "x", 7, {}, {"x": 1}, {"x": "1", "y": 2}]
BAD_DATA += [{"x": bad, "y": 2} for bad in (True, None, [1], float("nan"), float("inf"))]
BAD_DATA += [{"x": 1, "y": float("-inf")}, {"x": {"y": 1}, "y": 2}]


@pytest.mark.parametrize("data", BAD_DATA)
def test_a_bad_steer_is_rejected_to_its_sender_and_changes_nothing(data: object) -> None:
    match = start()
    match.step([steer("alice", 300, 300)])
    steering = goal(match, "alice")
    emitted = match.step([Input("alice", "steer", data, "1-9")])
    rejections = [o for o in emitted if isinstance(o, Event) and o.type == "rejected"]
    assert len(rejections) == 1
    assert rejections[0].to == ("alice",)
    assert goal(match, "alice") == steering


def test_a_flood_of_bad_inputs_gets_one_rejection_a_tick_and_good_ones_still_count() -> None:
    match = start()
    flood = [Input("alice", "steer", None, f"1-{n}") for n in range(50)]
    flood.append(steer("alice", 0, 0, 99))
    flood += [Input("bob", "jump", {}, "2-0"), Input("carol", "steer", {"x": 1, "y": 1}, "3-0")]
    emitted = match.step(flood)
    rejected = [o for o in emitted if isinstance(o, Event) and o.type == "rejected"]
    assert [r.to for r in rejected] == [("alice",), ("bob",)]  # carol is not in the race
    assert goal(match, "alice") == (0, 0)


def test_a_player_who_leaves_is_out_of_the_race_with_their_points_kept() -> None:
    match = start(players=("alice", "bob", "carol"))
    chase(match, "carol")
    emitted = match.leave(["carol"], LeaveReason.LEFT)
    assert emitted == [SetLabel({"open": 6})]
    assert set(view(match)["dots"]) == {"alice", "bob"}
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
    assert (view(match)["winner"], view(match)["over"]) == ("", True)


def test_a_full_race_refuses_more() -> None:
    match = start(seats=2)
    assert match.join_attempt("carol", {}) == "the race is full"


def frames(steps: list[Step]) -> list[StateFrame]:
    return [s for s in steps if isinstance(s, StateFrame)]


def test_players_get_a_keyframe_then_patches_of_what_moved_and_nothing_when_idle() -> None:
    """What the host pushes as match.state: a keyframe to each joiner, then one patch
    for everyone on a tick where anything changed, on top of the tick before; a
    replica fed them holds the server's state, and no state event is broadcast."""
    match, _ = HostedMatch.start(Dots(), "m1", RATE, {}, seed=3)
    joined = match.advance([Input("alice", ATTEMPT, {}, "1-0"), Input("bob", ATTEMPT, {}, "1-1")])
    keyframe = frames(joined)
    # One keyframe serves both: nothing in the race is for some players only.
    assert [(f.to, f.full is not None) for f in keyframe] == [(("alice", "bob"), True)]
    replica = Replica()
    replica.keyframe(1, keyframe[0].full or [], keyframe[0].schema or [])
    assert replica.state == view(match)
    # Nothing moved: at most the types again (the keyframe's schema told them already;
    # StateFeed does not settle after keyframes yet), then nothing at all.
    for frame in frames(match.advance([])):
        assert all(op[0] == 0 for op in frame.patch or [])
        replica.apply(2, frame.base or 0, frame.patch or [])
    assert frames(match.advance([])) == []
    for tick in range(4, 9):
        steps = match.advance([steer("alice", 0, 0, tick)] if tick == 4 else [])
        assert not [s for s in steps if isinstance(s, Event) and s.type == "state"]
        (patch,) = frames(steps)
        # One frame for everyone, on top of the last one they got.
        assert (patch.to, patch.full, patch.base) == (None, None, replica.tick)
        assert patch.patch
        replica.apply(tick, patch.base or 0, patch.patch)
        assert replica.state == view(match)
    # A moving dot's patch is a few bytes: its ref, then x and y as small ints.
    assert len(msgpack.packb(patch.patch)) <= 12
    # match.sync: a keyframe for the asker at the next tick; the others' patches go on.
    steps = match.advance([Input("bob", SYNC, None, "2-0"), steer("alice", 600, 0, 9)])
    assert [(f.to, f.full is not None) for f in frames(steps)] == [
        (("alice",), False),
        (("bob",), True),
    ]


def test_a_replay_from_a_snapshot_gives_the_same_state_outputs_and_rings() -> None:
    """What a node taking over does: restore the last snapshot, replay the recorded
    inputs of the ticks since. Scoring draws rings from the rng after the snapshot."""
    match = start(seed=42)
    chase(match, "alice")
    saved = match.snapshot()
    recorded: list[list[Input]] = []
    emitted: list[Output] = []
    for n in range(300):
        x, y = ring(match)
        mover = "bob" if n % 70 < 35 else "alice"
        recorded.append([steer(mover, x, y, n), steer("alice", 13.25, 399.5, n)])
        emitted += match.step(recorded[-1])
    assert match.state.target.k >= 3

    copy = HostedMatch.restore(Dots(), "m1", RATE, saved)
    replayed: list[Output] = []
    for inputs in recorded:
        replayed += copy.step(inputs)
    assert replayed == emitted
    assert view(copy) == view(match)
    assert copy.snapshot() == match.snapshot()
    assert copy.ctx.rng.getstate() == match.ctx.rng.getstate()


def test_the_rings_come_from_the_seed() -> None:
    def rings(seed: int) -> list[tuple[int, int]]:
        match = start(seed=seed)
        seen = []
        for _ in range(4):
            seen.append(ring(match))
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
        x, y = ring(match)
        match.step([steer("alice", x, y, n)])
    assert view(match)["scores"] == {"alice": 0}
    assert not match.ended
    match.join(["bob"])
    chase(match, "alice")
    assert match.state.scores["alice"] == 1
