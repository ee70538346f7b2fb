"""The rating model: sides from a result (teams or free-for-all), ranks from scores."""

from __future__ import annotations

import pytest

from server.services.rating_model import Rating, Side, rate, sides_of


def test_without_teams_every_player_is_a_side() -> None:
    assert sides_of({"a": 3, "b": 1}, None) == [Side(("a",), 3), Side(("b",), 1)]


def test_a_team_scores_its_players_total_and_stray_players_stand_alone() -> None:
    result = {"a": 1, "b": 2, "c": 5, "d": 0}
    # "x" has no score (left out), "a" is named twice (counted once), "d" is in no team.
    teams = [["a", "b", "x"], ["c", "a"], []]
    assert sides_of(result, teams) == [Side(("a", "b"), 3), Side(("c",), 5), Side(("d",), 0)]


def test_a_win_moves_the_winner_up_and_the_loser_down() -> None:
    after = rate({"a": Rating(), "b": Rating()}, [Side(("a",), 1), Side(("b",), 0)])
    assert after["a"].mu > 1500 > after["b"].mu
    assert after["a"].mu - 1500 == pytest.approx(1500 - after["b"].mu)
    assert after["a"].display > 0 > after["b"].display  # display: mu - 3 sigma
    assert after["a"].games == after["b"].games == 1


def test_equal_scores_share_a_rank() -> None:
    sides = [Side(("a",), 2), Side(("b",), 2), Side(("c",), 0)]
    after = rate({p: Rating() for p in "abc"}, sides)
    assert after["a"] == after["b"]
    assert after["a"].mu > 1500 > after["c"].mu
    draw = rate({"a": Rating(), "b": Rating()}, [Side(("a",), 1), Side(("b",), 1)])
    assert draw["a"].mu == pytest.approx(1500)
    assert draw["a"].sigma < 500


def test_an_upset_moves_more_than_an_expected_win() -> None:
    strong, weak = Rating(1900, 150, 40), Rating(1300, 150, 40)
    expected = rate({"s": strong, "w": weak}, [Side(("s",), 1), Side(("w",), 0)])
    upset = rate({"s": strong, "w": weak}, [Side(("s",), 0), Side(("w",), 1)])
    assert upset["w"].mu - weak.mu > expected["s"].mu - strong.mu > 0


def test_one_side_teaches_nothing() -> None:
    assert rate({"a": Rating(), "b": Rating()}, [Side(("a", "b"), 4)]) == {}


def test_a_rating_is_stored_exactly() -> None:
    after = rate({"a": Rating(), "b": Rating()}, [Side(("a",), 1), Side(("b",), 0)])["a"]
    assert Rating.unpack(after.pack()) == after
    assert Rating.unpack("") == Rating()
