"""The matchmaker's rules with real ratings and real parties, against a real Redis: a
window that widens with waiting (an injected clock, no sleeping), a party kept whole on
one team, and a party's ticket cancelled when its membership changes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis as redis_sync

from server.boards import ALLTIME_ID
from server.embedded_redis import RedisProcess
from server.errors import NotFound, NotPartyLeader
from server.services import Services
from server.services.rating_model import Rating
from server.services.ratings import rating_board_id
from server.storage import keys
from tests.mm_helpers import Clock, clocked_services

MODES = {
    "ranked": {
        "capacity": 2,
        "matchmaker": {
            "min": 2,
            "max": 2,
            "rating": {"start": 100, "widen": 50, "every_s": 5, "max": 600},
        },
    },
    "squads": {"capacity": 6, "matchmaker": {"teams": {"count": 2, "size": 3}}},
}


@pytest.fixture
async def world(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> AsyncIterator[tuple[Services, Clock]]:
    # redis_client: asked for so the test starts on an empty Redis (it flushes it).
    async with clocked_services(redis_server.url, MODES) as made:
        yield made


def rate(redis_client: redis_sync.Redis, mode: str, player: str, mu: float) -> None:
    key = keys.board_ratings(rating_board_id(mode), ALLTIME_ID)
    redis_client.hset(key, player, Rating(mu=mu, sigma=100.0, games=10).pack())


async def test_two_tickets_400_apart_match_only_once_both_windows_reach(
    world: tuple[Services, Clock], redis_client: redis_sync.Redis
) -> None:
    services, clock = world
    maker = services.matchmaker
    rate(redis_client, "ranked", "low", 1000.0)
    rate(redis_client, "ranked", "high", 1400.0)
    low = await maker.enqueue("low", "ranked", None)
    clock.now += 10  # high queues 10 s later
    high = await maker.enqueue("high", "ranked", None)
    # 100, plus 50 every 5 s waited: 400 once each has waited 30 s (low at 40 s from its
    # start, high at 30 s from its own); until then each pass leaves them waiting.
    for waited_by_high in (0, 10, 20, 29.9):
        clock.now = 1_800_000_010.0 + waited_by_high
        assert await maker.pass_once("ranked") == []
    clock.now = 1_800_000_040.0
    (group,) = await maker.pass_once("ranked")
    assert {t.ticket_id for t in group.tickets} == {low, high}
    assert group.widened
    assert maker.counts.widened == 1


async def test_a_party_of_three_lands_on_one_team_and_a_change_cancels_its_ticket(
    world: tuple[Services, Clock],
) -> None:
    services, _ = world
    maker, parties = services.matchmaker, services.parties
    party = await parties.create("lead", "Lead", is_open=True, max_size=3)
    for member in ("m1", "m2"):
        await parties.join(member, member, party.party_id)
    with pytest.raises(NotPartyLeader):  # only the leader queues the party
        await maker.enqueue("m1", "squads", None)
    ticket = await maker.enqueue("lead", "squads", None)
    for solo in ("s1", "s2", "s3"):
        await maker.enqueue(solo, "squads", None)
    (group,) = await maker.pass_once("squads")
    teams = sorted(sorted(team) for team in group.teams)
    assert teams == [["lead", "m1", "m2"], ["s1", "s2", "s3"]]
    assert ticket in {t.ticket_id for t in group.tickets}
    # Queued again, then a member leaves: the ticket is cancelled, nothing is matched.
    again = await maker.enqueue("lead", "squads", None)
    await parties.leave("m2")
    for solo in ("t1", "t2", "t3", "t4"):
        await maker.enqueue(solo, "squads", None)
    assert await maker.pass_once("squads") == []  # 4 singles: no full teams of 3
    with pytest.raises(NotFound):  # the party's ticket went with the change
        await maker.cancel("lead", again)
