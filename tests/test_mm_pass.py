"""The matchmaking pass, pure: oldest first, nearest ratings, mutual windows that widen
with waiting, equal properties, parties kept whole and on one team."""

from __future__ import annotations

import random

from server.mm_rules import MatchRules, Window
from server.services.mm_pass import Waiting, plan

WINDOW = Window(start=100, widen=50, every_s=5, max=600)


def ticket(
    name: str, rating: float, *, at_ms: int = 0, players: int = 1, bucket: tuple[str, ...] = ()
) -> Waiting:
    ids = (name,) if players == 1 else tuple(f"{name}{i}" for i in range(players))
    return Waiting(name, ids, rating, bucket, at_ms)


def test_a_full_match_of_the_nearest_ratings_around_the_oldest() -> None:
    rules = MatchRules(min=2, max=3, rating=WINDOW)
    tickets = [
        ticket("old", 1000, at_ms=0),
        ticket("far", 1300, at_ms=1),
        ticket("near", 1020, at_ms=2),
        ticket("nearer", 990, at_ms=3),
        ticket("next", 1010, at_ms=4),
    ]
    groups = plan(tickets, rules, now_ms=10)
    assert [{t.ticket_id for t in g.tickets} for g in groups] == [{"old", "nearer", "next"}]
    assert not groups[0].widened


def test_two_tickets_400_apart_match_once_both_windows_reach() -> None:
    rules = MatchRules(min=2, max=2, rating=WINDOW)
    low, high = ticket("low", 1000, at_ms=0), ticket("high", 1400, at_ms=10_000)
    # 100 + 50 per 5 s: 400 after 30 s of waiting, for each of them.
    assert plan([low, high], rules, now_ms=30_000) == []  # high waited 20 s: 300
    assert plan([low, high], rules, now_ms=39_999) == []
    groups = plan([low, high], rules, now_ms=40_000)
    assert [t.ticket_id for t in groups[0].tickets] == ["low", "high"]
    assert groups[0].widened


def test_unequal_properties_never_meet() -> None:
    rules = MatchRules(min=2, max=2, equal=("region",))
    tickets = [ticket("eu1", 1, bucket=("eu",)), ticket("us1", 1, bucket=("us",))]
    assert plan(tickets, rules, now_ms=0) == []
    tickets.append(ticket("eu2", 1, bucket=("eu",)))
    assert [t.ticket_id for t in plan(tickets, rules, now_ms=0)[0].tickets] == ["eu1", "eu2"]


def test_a_party_of_three_lands_on_one_team() -> None:
    rules = MatchRules(teams=2, team_size=3, rating=WINDOW)
    tickets = [ticket(f"s{i}", 1000 + i, at_ms=i) for i in range(3)]
    tickets.append(ticket("party", 1000, at_ms=5, players=3))
    (group,) = plan(tickets, rules, now_ms=10)
    assert sorted(map(sorted, group.teams)) == [["party0", "party1", "party2"], ["s0", "s1", "s2"]]


def test_teams_need_exactly_full_teams_and_a_party_too_big_waits() -> None:
    rules = MatchRules(teams=2, team_size=2)
    assert plan([ticket("a", 0), ticket("b", 0), ticket("c", 0)], rules, now_ms=0) == []
    assert plan([ticket("p", 0, players=3), ticket("a", 0)], rules, now_ms=0) == []
    groups = plan([ticket("p", 0, players=2), ticket("a", 0), ticket("b", 0)], rules, now_ms=0)
    assert sorted(map(sorted, groups[0].teams)) == [["a", "b"], ["p0", "p1"]]


def test_every_ticket_in_one_group_at_most_and_every_group_within_its_rules() -> None:
    rng = random.Random(17)
    rules = MatchRules(min=2, max=4, equal=("region",), rating=WINDOW)
    tickets = [
        ticket(
            f"t{i}",
            rng.gauss(1500, 300),
            at_ms=rng.randrange(60_000),
            players=rng.choice([1, 1, 1, 2]),
            bucket=(rng.choice(["eu", "us"]),),
        )
        for i in range(400)
    ]
    now = 60_000
    groups = plan(tickets, rules, now_ms=now)
    seen = [t.ticket_id for g in groups for t in g.tickets]
    assert len(seen) == len(set(seen))
    assert len(seen) > 300
    for group in groups:
        assert 2 <= len(group.players) <= 4
        assert len({t.bucket for t in group.tickets}) == 1
        spread = max(t.rating for t in group.tickets) - min(t.rating for t in group.tickets)
        assert all(spread <= WINDOW.at((now - t.created_ms) / 1000) for t in group.tickets)
