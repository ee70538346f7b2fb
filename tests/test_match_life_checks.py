"""The match-life checks driven directly, on the real services and a real Redis, with an
injected clock: abandonment under a backlog, lapses told once even when telling fails,
matches ended before their keys expire, and the running index tidied. The clock moves
only the match-life service's time (seen marks, delays); presence lapses in real time."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import msgpack
import pytest
import redis as redis_sync

from server.embedded_redis import RedisProcess
from server.errors import Unavailable
from server.protocol import Tell
from server.services import Services
from server.services.match_life import MatchLifeService
from server.storage.clients import open_mux, open_redis
from server.storage.matches import MATCH_TTL_S, MatchStore
from server.storage.mux import Commands
from tests.conftest import settings_for_test
from tests.helpers import eventually, services_of

ABANDON_S = 10.0
CHECK_EVERY_S = 1.0
SUMMARIES = "arena:{matches}:summaries"
SEEN = "arena:{matches}:seen"
RUNNING = "arena:{matches}:running"


class Clock:
    """Real time, moved on by the test."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s


class Life:
    """The services of one node, without its upkeep loop: the test runs the checks."""

    def __init__(self, services: Services, mux: Commands, clock: Clock) -> None:
        self.services = services
        self.mux = mux
        self.clock = clock
        self.conns: dict[str, str] = {}

    def checker(self, store: MatchStore | None = None, **overrides: Any) -> MatchLifeService:
        options: dict[str, Any] = {
            "abandon_s": ABANDON_S,
            "check_every_s": CHECK_EVERY_S,
            "clock": self.clock,
            **overrides,
        }
        return MatchLifeService(
            store or self.services.match_life._store,
            self.services.presence,
            self.services.watch,
            **options,
        )

    async def start(self, players: int) -> tuple[str, list[str]]:
        match_id = secrets.token_hex(8)
        ids = [f"p{secrets.token_hex(4)}" for _ in range(players)]
        for p in ids:
            await self.online(p)
        await self.services.matches.start(match_id, secrets.token_hex(6), "duel", ids)
        return match_id, ids

    async def online(self, player_id: str) -> None:
        self.conns[player_id] = secrets.token_hex(4)
        await self.services.presence.socket_opened(player_id, self.conns[player_id])

    async def close(self, life: MatchLifeService, player_id: str) -> None:
        """What a node does when a player's live socket closes."""
        await life.sockets_closed([(player_id, self.conns[player_id])])

    async def feed(self, match_id: str) -> list[dict[str, Any]]:
        entries = await self.services.match_life._store.feed_after(match_id, None, 100)
        return [dict(msgpack.unpackb(e.push)) for e in entries]

    async def presence_feed(self, match_id: str) -> list[tuple[str, bool]]:
        return [
            (e["player_id"], e["online"])
            for e in await self.feed(match_id)
            if e["ev"] == "match.presence"
        ]


async def open_life(redis_url: str, clock: Clock, **settings: Any) -> tuple[Life, list[Any]]:
    config = settings_for_test(redis_url=redis_url, **settings)
    mux = open_mux(redis_url, timeout_s=config.redis_timeout_s)
    blocking = open_redis(redis_url, pool_size=2, timeout_s=config.redis_timeout_s)
    return Life(services_of(config, mux, clock, blocking), mux, clock), [mux, blocking]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def life(
    redis_server: RedisProcess, redis_client: redis_sync.Redis, clock: Clock
) -> AsyncIterator[Life]:
    # Players stay online a minute unless their socket closes: nothing lapses by itself.
    node, clients = await open_life(
        redis_server.url, clock, presence_ttl_s=60.0, presence_interval_s=1.0
    )
    yield node
    for client in clients:
        await client.aclose()


def state_of(r: redis_sync.Redis, match_id: str) -> dict[bytes, bytes]:
    return r.hgetall(f"arena:{{match:{match_id}}}:state")  # type: ignore[return-value]


async def test_with_a_backlog_dropping_every_player_never_ends_a_match_before_the_delay(
    life: Life, clock: Clock, redis_client: redis_sync.Redis
) -> None:
    """One match checked per batch, twelve running: each match's last check is long past
    when its players all drop, yet none ends before the delay after that drop."""
    checker = life.checker(check_batch=1)
    matches = [await life.start(2) for _ in range(12)]
    # Everyone plays on for a minute; each check round marks the stalest match seen.
    clock.offset_s = 60.0
    await checker.end_abandoned()
    assert all(state_of(redis_client, m)[b"state"] == b"running" for m, _ in matches)

    # Every player of every match drops at once, a minute after the last full check.
    for _, players in matches:
        for p in players:
            await life.close(checker, p)
    clock.offset_s += 0.2
    assert await checker.end_abandoned() == []
    clock.offset_s += ABANDON_S - 0.5  # still within the delay (and a check's margin)
    assert await checker.end_abandoned() == []
    assert all(state_of(redis_client, m)[b"state"] == b"running" for m, _ in matches)

    # Past it: every one of them ends in the same tick, though a batch holds one.
    clock.offset_s += 2 * CHECK_EVERY_S + 0.5
    ended = await checker.end_abandoned()
    assert sorted(ended) == sorted(m for m, _ in matches)
    assert all(state_of(redis_client, m)[b"ended_by"] == b"abandoned" for m, _ in matches)
    assert redis_client.zcard(RUNNING) == 0


async def test_a_match_with_a_player_whose_lapse_is_not_yet_told_is_not_abandoned(
    life: Life, clock: Clock, redis_client: redis_sync.Redis
) -> None:
    checker = life.checker()
    match_id, (stays, lapses) = await life.start(2)
    await life.close(checker, stays)
    # The other's node stopped stamping them an hour ago; nobody has told the match.
    redis_client.zadd("arena:{presence}:online", {lapses: int(time.time() * 1000) - 3_600_000})
    clock.offset_s = 3 * ABANDON_S
    assert await checker.end_abandoned() == []
    # Told now: the delay runs from that telling.
    assert await checker.tell_lapsed() == [lapses]
    assert await checker.end_abandoned() == []
    clock.offset_s += ABANDON_S + 2 * CHECK_EVERY_S
    assert await checker.end_abandoned() == [match_id]
    assert await life.presence_feed(match_id) == [(stays, False), (lapses, False)]


class FailingOnce(MatchStore):
    """The real store, whose first presence announcement fails as a Redis error would."""

    failures = 1

    async def presence_changed(
        self, match_id: str, player_id: str, push: Tell, moment: str
    ) -> str | None:
        if self.failures:
            self.failures -= 1
            raise Unavailable("Redis unavailable")
        return await super().presence_changed(match_id, player_id, push, moment)


async def test_a_lapse_whose_telling_failed_is_told_later_and_the_tick_goes_on(
    redis_server: RedisProcess, redis_client: redis_sync.Redis, clock: Clock
) -> None:
    # Presence lapses 0.3 s after a player's last stamp; nobody stamps here.
    node, clients = await open_life(
        redis_server.url, clock, presence_ttl_s=0.3, presence_interval_s=0.1
    )
    try:
        real = node.services.match_life._store
        failing = FailingOnce(real._mux, real._scripts, real._feeds, feed_keep=real._keep)
        checker = node.checker(failing, check_every_s=0.1)
        checker._lapse_lease_s = 0.5  # a short lease, so the retry comes soon
        lapsing_id, (lapser,) = await node.start(1)
        gone_id, (leaver,) = await node.start(1)
        await node.close(node.services.match_life, leaver)
        clock.offset_s = 3 * ABANDON_S  # the leaver's match is long abandoned

        async def lapsed() -> bool:
            score = redis_client.zscore("arena:{presence}:online", lapser)
            return score is not None and score <= time.time() * 1000

        await eventually(lapsed, within_s=5)
        node.services.presence._steady_since = 0.0  # as if this node beat for ages
        await checker.tick()  # the telling fails: logged, and the tick goes on
        assert state_of(redis_client, gone_id)[b"ended_by"] == b"abandoned"
        assert await node.presence_feed(lapsing_id) == []

        async def told() -> bool:
            await checker.tick()
            return await node.presence_feed(lapsing_id) == [(lapser, False)]

        await eventually(told, within_s=5)
        assert redis_client.zscore("arena:{presence}:online", lapser) is None  # dropped
        await checker.tick()
        assert await node.presence_feed(lapsing_id) == [(lapser, False)]  # told once
    finally:
        for client in clients:
            await client.aclose()


async def test_a_match_ends_expired_before_its_keys_would_and_its_players_hear_it(
    life: Life, clock: Clock, redis_client: redis_sync.Redis
) -> None:
    checker = life.checker()
    match_id, players = await life.start(2)
    young_id, _ = await life.start(2)
    clock.offset_s = MATCH_TTL_S - 3 * CHECK_EVERY_S  # not yet: more than two checks left
    assert await checker.end_expiring() == []
    redis_client.zadd(RUNNING, {young_id: int(clock() * 1000)})  # as if started just now
    clock.offset_s = MATCH_TTL_S - 1.5 * CHECK_EVERY_S  # within two checks of its TTL
    assert await checker.end_expiring() == [match_id]

    state = state_of(redis_client, match_id)
    assert (state[b"state"], state[b"ended_by"]) == (b"ended", b"expired")
    ended = (await life.feed(match_id))[-1]
    assert ended == {**ended, "ev": "match.ended", "scores": {}, "by": "expired"}
    assert all(redis_client.get(f"arena:{{player:{p}}}:match") is None for p in players)
    assert redis_client.zscore(RUNNING, match_id) is None
    assert state_of(redis_client, young_id)[b"state"] == b"running"
    assert await life.services.matches.abandoned_count() == 0  # not counted as abandoned
    assert await checker.end_expiring() == []  # once


async def test_summaries_and_seen_entries_of_unlisted_matches_are_tidied(
    life: Life, redis_client: redis_sync.Redis
) -> None:
    checker = life.checker()
    kept_id, _ = await life.start(2)
    # An older node's unlisting that died half-way: the index entry gone, the rest left.
    orphan = "0123456789abcdef"
    redis_client.hset(SUMMARIES, mapping={orphan: b"x", f"{orphan}:playing": 2})
    redis_client.zadd(SEEN, {orphan: 1})

    async def tidied() -> bool:
        await checker.tick()
        return (
            not redis_client.hexists(SUMMARIES, orphan)
            and redis_client.zscore(SEEN, orphan) is None
        )

    await eventually(tidied, within_s=5)
    assert redis_client.hexists(SUMMARIES, f"{kept_id}:playing")
    assert not redis_client.hexists(SUMMARIES, f"{orphan}:playing")
    assert redis_client.zscore(SEEN, kept_id) is not None


async def test_a_release_announced_after_a_later_return_does_not_leave_the_player_offline(
    life: Life,
) -> None:
    """A socket's release on one node and the same player's new socket on another, their
    announcements crossing: the feed never ends on the older one."""
    match_id, (player, _) = await life.start(2)
    on_a, on_b = life.conns[player], "another-conn"
    released = (await life.services.presence.sockets_closed([(player, on_a)]))[player]  # a
    back = await life.services.presence.socket_opened(player, on_b)  # ...node b: back
    assert back is not None
    assert int(back) > int(released)
    # Node b announces first, node a's announcement arrives late.
    await life.services.match_life.player_back(player, match_id, back)
    await life.services.match_life.player_gone(player, released)
    assert await life.presence_feed(match_id) == [(player, True)]
    # Later changes are announced as usual, in order.
    gone = (await life.services.presence.sockets_closed([(player, on_b)]))[player]
    await life.services.match_life.player_gone(player, gone)
    assert await life.presence_feed(match_id) == [(player, True), (player, False)]


async def test_sockets_closed_together_are_released_when_their_matches_cannot_be_marked(
    life: Life, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mass drop's batch: the matches' seen marks fail and one announcement fails, yet
    every socket is released and every other match hears its player went. Only the
    release's own failure reaches the sockets (their handlers log it)."""
    first, (a, b) = await life.start(2)
    second, (c, _) = await life.start(2)
    service = life.services.match_life

    async def seen_fails(*_: Any, **__: Any) -> None:
        raise Unavailable("injected: the seen marks fail")

    announce = service._announce

    async def fails_for_b(player_id: str, match_id: str, moment: str, *, online: bool) -> None:
        if player_id == b:
            raise Unavailable("injected: b's announcement fails")
        await announce(player_id, match_id, moment, online=online)

    monkeypatch.setattr(service._store.index, "seen", seen_fails)
    monkeypatch.setattr(service, "_announce", fails_for_b)
    await service.sockets_closed([(p, life.conns[p]) for p in (a, b, c)])
    assert (await life.services.presence.lookup([a, b, c]))[1] == {a: False, b: False, c: False}
    assert await life.presence_feed(first) == [(a, False)]
    assert await life.presence_feed(second) == [(c, False)]

    async def release_fails(*_: Any) -> dict[str, str]:
        raise Unavailable("injected: Redis is away")

    monkeypatch.setattr(life.services.presence, "sockets_closed", release_fails)
    with pytest.raises(Unavailable):
        await service.sockets_closed([(b, life.conns[b])])
