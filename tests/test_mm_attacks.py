"""The matchmaker against a review that attacked it (issue 17): accepts racing the
deadline, late accepts, party changes the matchmaker missed, tickets put back after a
timeout, made-up modes, huge numbers, a node dying before a proposal went out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgpack
import pytest
import redis as redis_sync

from client_sim.client import ArenaError as ClientError
from server.embedded_redis import RedisProcess
from server.errors import ArenaError, NotFound
from server.protocol import Format
from server.services import Services
from server.storage import keys
from tests.conftest import StartArena
from tests.helpers import connect
from tests.mm_helpers import Clock, clocked_services

MODES = {
    "duel": {"capacity": 2, "matchmaker": {"min": 2, "max": 2}},
    "acc": {"capacity": 2, "matchmaker": {"min": 2, "max": 2, "accept_s": 5}},
    "trio": {"capacity": 3, "matchmaker": {"min": 3, "max": 3}},
    "four": {"capacity": 4, "matchmaker": {"min": 4, "max": 4}},
    "acc3": {"capacity": 3, "matchmaker": {"min": 3, "max": 3, "accept_s": 5}},
}


@pytest.fixture
async def world(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> AsyncIterator[tuple[Services, Clock]]:
    # redis_client: asked for so the test starts on an empty Redis (it flushes it).
    async with clocked_services(redis_server.url, MODES) as made:
        yield made


def queued(redis_client: redis_sync.Redis, mode: str) -> set[str]:
    members: list[bytes] = redis_client.zrange(keys.mm_queue(mode), 0, -1)  # type: ignore[assignment]
    return {m.decode() for m in members}


async def test_a_match_everyone_accepted_is_started_not_called_off_by_the_timeout(
    world: tuple[Services, Clock], redis_client: redis_sync.Redis
) -> None:
    """Both accepted in time, but the last accepter's node died before starting it: the
    pass past the deadline starts it (the accepts decide inside the requeue script, so
    an accept racing the timeout either lands first or is refused as late), and no
    ticket of it goes back to the queue."""
    services, clock = world
    maker = services.matchmaker
    await maker.enqueue("a", "acc", None)
    await maker.enqueue("b", "acc", None)
    (_,) = await maker.pass_once("acc")
    made = await maker._store.made("acc")
    ((match_id, payload),) = made.items()
    by_ms = msgpack.unpackb(payload)["accept_by_ms"]
    now = int(clock.now * 1000)
    for player in ("a", "b"):  # accepted, and the starting node died
        await maker._store.accept("acc", match_id, player, 2, now, by_ms)
    clock.now += 9  # past the deadline, and the time its accepter had to start it
    assert await maker.pass_once("acc") == []
    assert await services.matches.read(match_id) is not None  # started
    assert queued(redis_client, "acc") == set()


async def test_an_accept_after_the_deadline_is_refused_and_starts_nothing(
    world: tuple[Services, Clock],
) -> None:
    """An accept after ``accept_by_ms`` (before a pass called the match off) is NOT_FOUND:
    it starts nothing."""
    services, clock = world
    maker = services.matchmaker
    ta = await maker.enqueue("a", "acc", None)
    tb = await maker.enqueue("b", "acc", None)
    await maker.pass_once("acc")
    await maker.accept("a", ta)
    clock.now += 60  # far past accept_by
    with pytest.raises(NotFound):
        await maker.accept("b", tb)


async def test_a_player_who_joins_a_party_is_not_matched_on_their_solo_ticket(
    world: tuple[Services, Clock], redis_client: redis_sync.Redis
) -> None:
    """A player queued alone joins a party: the pass sees their roster changed, and their
    solo ticket goes instead of matching a party member without its leader."""
    services, _ = world
    maker, parties = services.matchmaker, services.parties
    solo = await maker.enqueue("m1", "duel", None)
    party = await parties.create("lead", "Lead", is_open=True, max_size=2)
    await parties.join("m1", "m1", party.party_id)
    await maker.enqueue("x", "duel", None)
    groups = await maker.pass_once("duel")
    matched = {p for g in groups for p in g.players}
    assert solo not in queued(redis_client, "duel")
    assert "m1" not in matched


async def test_a_party_change_the_matchmaker_missed_never_matches_the_old_roster(
    world: tuple[Services, Clock],
) -> None:
    """The matchmaker is not told of a change (a Redis blip, a node dying in between): the
    pass checks the roster at commit, so a member who left is not matched with the
    party."""
    services, _ = world
    maker, parties = services.matchmaker, services.parties
    party = await parties.create("lead", "Lead", is_open=True, max_size=2)
    await parties.join("m1", "m1", party.party_id)
    await maker.enqueue("lead", "trio", None)
    real = maker.party_changed

    async def blip(party_id: str, change: str) -> None:
        raise ArenaError("redis away")

    maker.party_changed = blip  # type: ignore[method-assign]
    await parties.leave("m1")
    maker.party_changed = real  # type: ignore[method-assign]
    await maker.enqueue("x", "trio", None)
    groups = await maker.pass_once("trio")
    assert not any("m1" in g.players for g in groups)


async def test_a_ticket_put_back_after_an_accept_timeout_lives_its_time_again(
    world: tuple[Services, Clock], redis_client: redis_sync.Redis
) -> None:
    """The one who accepted goes back at its old place (``created_ms``), but its time to
    live counts from its return: it is not expired in the same pass."""
    services, clock = world
    maker = services.matchmaker
    ta = await maker.enqueue("a", "acc", None)
    clock.now += 117
    await maker.enqueue("b", "acc", None)
    (_,) = await maker.pass_once("acc")  # a waited 117 s of its 120
    await maker.accept("a", ta)
    clock.now += 6  # b never accepts
    await maker.pass_once("acc")
    assert ta in queued(redis_client, "acc")  # a, who accepted, keeps its place


async def test_made_up_modes_leave_the_modes_index_once_empty_and_quiet(
    world: tuple[Services, Clock],
) -> None:
    """Any well-formed mode may be queued for; once its queue is empty and no ticket came
    for a minute, a pass takes it out of the index every node reads."""
    services, clock = world
    maker = services.matchmaker
    made_up = [f"junk-{i}" for i in range(10)]
    for i, mode in enumerate(made_up):
        ticket = await maker.enqueue(f"cheat{i}", mode, None)
        await maker.cancel(f"cheat{i}", ticket)
    clock.now += 60
    now_ms = int(clock.now * 1000)
    for mode in await maker._store.modes(now_ms):
        await maker.pass_once(mode)  # a pass finds each queue empty
    assert not set(made_up) & set(await maker._store.modes(now_ms))


async def test_a_huge_integer_property_is_a_bad_request(
    start_arena: StartArena,
) -> None:
    """JSON carries integers of any size: one past what a float holds is BAD_REQUEST, not
    INTERNAL."""
    arena = await start_arena()
    _, client = await connect(arena, "alice", fmt=Format.JSON)
    try:
        with pytest.raises(ClientError) as refused:
            await client.request("mm.enqueue", mode="tictactoe", properties={"x": 10**400})
        assert refused.value.code == "BAD_REQUEST"
    finally:
        await client.close()


async def test_a_party_ticket_is_not_put_back_with_a_member_who_left(
    world: tuple[Services, Clock], redis_client: redis_sync.Redis
) -> None:
    """While a party's ticket is proposed, a member leaves and the proposal times out: the
    ticket is not put back with the old roster."""
    services, clock = world
    maker, parties = services.matchmaker, services.parties
    party = await parties.create("lead", "Lead", is_open=True, max_size=2)
    await parties.join("m1", "m1", party.party_id)
    ticket = await maker.enqueue("lead", "acc3", None)
    await maker.enqueue("x", "acc3", None)
    (_,) = await maker.pass_once("acc3")
    await maker.accept("lead", ticket)
    await maker.accept("m1", ticket)
    await parties.leave("m1")  # x never accepts
    clock.now += 6
    await maker.pass_once("acc3")
    assert ticket not in queued(redis_client, "acc3")


class NodeDied(Exception):
    pass


async def test_a_proposal_that_never_went_out_loses_no_ticket(
    world: tuple[Services, Clock], redis_client: redis_sync.Redis
) -> None:
    """accept_s: the node commits, then dies before ``mm.matched`` goes out; nobody could
    accept, so at the deadline every ticket goes back (and is matched again), none is
    dropped."""
    services, clock = world
    maker = services.matchmaker
    ta = await maker.enqueue("a", "acc", None)
    tb = await maker.enqueue("b", "acc", None)
    proposals = maker._proposals
    real = proposals.propose

    async def die(mode: str, match_id: str, made: dict[str, Any]) -> None:
        raise NodeDied

    proposals.propose = die  # type: ignore[method-assign]
    with pytest.raises(NodeDied):
        await maker.pass_once("acc")
    proposals.propose = real  # type: ignore[method-assign]
    clock.now += 6  # another node's pass, past the deadline
    # Never told, so nobody's fault: both back at their places, and matched again.
    (again,) = await maker.pass_once("acc")
    assert {t.ticket_id for t in again.tickets} == {ta, tb}


async def test_a_ticket_noted_after_a_change_took_the_partys_tickets_goes_at_the_next(
    world: tuple[Services, Clock], redis_client: redis_sync.Redis
) -> None:
    """A change takes the party's ticket set in one step (SPOP): a ticket noted after it
    stays for the next change, which cancels it."""
    services, _ = world
    maker, parties = services.matchmaker, services.parties
    party = await parties.create("lead", "Lead", is_open=True, max_size=3)
    for member in ("m1", "m2"):
        await parties.join(member, member, party.party_id)
    await parties.leave("m1")  # a change before any ticket: nothing to take
    ticket = await maker.enqueue("lead", "four", None)
    assert ticket in queued(redis_client, "four")
    await parties.leave("m2")
    assert ticket not in queued(redis_client, "four")
