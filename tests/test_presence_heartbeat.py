"""A node's presence heartbeat against a real Redis: what it keeps, restores and reports,
for a whole chunk of players at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis as redis_sync

from server.embedded_redis import RedisProcess
from server.storage import keys
from server.storage.mux import RedisMux
from server.storage.presence import HEARTBEAT_CHUNK, PresenceStore
from server.storage.scripts import Scripts
from server.storage.socket_commands import SocketRef

TTL_MS = 60_000


@pytest.fixture
async def store(redis_server: RedisProcess) -> AsyncIterator[PresenceStore]:
    mux = RedisMux(redis_server.url)
    yield PresenceStore(mux, Scripts.load(mux))
    await mux.aclose()


async def test_claims_are_kept_restored_and_never_taken_over(
    store: PresenceStore, redis_client: redis_sync.Redis
) -> None:
    mine = {p: SocketRef("node-a", f"c-{p}") for p in ("kept", "vanished", "taken")}
    for player, ref in mine.items():
        await store.claim_live_socket(player, ref, until_ms=10**13)
        redis_client.pexpire(keys.live_socket(player), 1_000)  # nearly out
    redis_client.delete(keys.live_socket("vanished"))  # as after a Redis restart without it
    theirs = SocketRef("node-b", "newer").encode()
    redis_client.set(keys.live_socket("taken"), theirs, px=1_000)  # a newer socket's

    await store.heartbeat("node-a", mine, now_ms=0, until_ms=TTL_MS)

    for player in ("kept", "vanished"):
        claim = keys.live_socket(player)
        assert redis_client.get(claim) == mine[player].encode().encode()
        assert redis_client.pttl(claim) > 1_000  # renewed to the heartbeat's TTL
    # Not ours: neither changed nor kept alive (should its node be gone, it must lapse, and
    # this node's displaced socket, still open, then gets its claim back).
    assert redis_client.get(keys.live_socket("taken")) == theirs.encode()
    assert 0 < redis_client.pttl(keys.live_socket("taken")) <= 1_000
    redis_client.delete(keys.live_socket("taken"))  # it lapsed
    await store.heartbeat("node-a", mine, now_ms=0, until_ms=TTL_MS)
    assert redis_client.get(keys.live_socket("taken")) == mine["taken"].encode().encode()


async def test_a_chunk_past_lua_limits_is_stamped_and_only_lapsed_players_come_back(
    store: PresenceStore, redis_client: redis_sync.Redis
) -> None:
    # More players than one chunk: two script calls, each ZMSCORE and ZADD over its chunk.
    players = [f"p{i:05d}" for i in range(HEARTBEAT_CHUNK + 7)]
    sockets = {p: SocketRef("node-a", f"c{i}") for i, p in enumerate(players)}
    online = keys.presence()
    redis_client.zadd(online, {p: 5 for p in players[:10]})  # online, stamp ran out
    redis_client.zadd(online, {players[10]: -7, players[-1]: -7})  # lapse leased: told gone
    # The rest have no stamp at all: dropped after their lapse was told (or never stamped).

    back = await store.heartbeat("node-a", sockets, now_ms=0, until_ms=TTL_MS)

    assert set(back) == set(players[10:])  # every one whose matches heard they had gone
    assert all(back.values())  # each with the moment that orders its match.presence
    scores = redis_client.zmscore(online, players)
    assert scores == [TTL_MS] * len(players)
    assert redis_client.zcard(online) == len(players)
    # And every claim, none of which existed, restored across both chunks.
    claims = redis_client.mget([keys.live_socket(p) for p in players])
    assert claims == [sockets[p].encode().encode() for p in players]
