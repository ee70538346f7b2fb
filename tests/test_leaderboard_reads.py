"""Leaderboard reads over HTTP, trusted game-server writes, and the cache in front of top pages."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import redis as redis_sync

from server.protocol import Format
from tests.conftest import SpawnNode, StartArena
from tests.helpers import connect, eventually, every_key, http_json, login

SERVER_KEY = "test-server-key-" + "0123456789" * 2


async def post_score(
    base: str, board: str, body: dict[str, Any], key: str | None = SERVER_KEY
) -> tuple[int, dict[str, Any]]:
    return await http_json("POST", f"{base}/v1/leaderboards/{board}/scores", token=key, json=body)


async def test_http_reads_have_the_same_shapes_as_the_socket(start_arena: StartArena) -> None:
    arena = await start_arena(server_key=SERVER_KEY)
    alice, client = await connect(arena, "alice", fmt=Format.JSON)
    async with client:
        await client.request("lb.submit", board="global", score=77)
        status, top = await http_json("GET", f"{arena}/v1/leaderboards/global/top?limit=5")
        assert status == 200
        assert top == await client.request("lb.top", board="global", limit=5)
        assert top["entries"] == [
            {"rank": 1, "player_id": alice.player_id, "name": "alice", "score": 77}
        ]
    status, me = await http_json("GET", f"{arena}/v1/leaderboards/global/players/{alice.player_id}")
    assert (status, me) == (
        200,
        {"rank": 1, "player_id": alice.player_id, "name": "alice", "score": 77},
    )


async def test_http_read_errors(arena: str) -> None:
    status, body = await http_json("GET", f"{arena}/v1/leaderboards/nope/top")
    assert (status, body["error"]["code"]) == (404, "UNKNOWN_BOARD")
    status, body = await http_json("GET", f"{arena}/v1/leaderboards/global/players/nobody")
    assert (status, body["error"]["code"]) == (404, "NOT_RANKED")
    for query in ("limit=0", "limit=101", "limit=ten", "offset=-1", "period=yesterday"):
        status, body = await http_json("GET", f"{arena}/v1/leaderboards/daily/top?{query}")
        assert (status, body["error"]["code"]) == (400, "BAD_REQUEST"), query


async def test_server_submits_need_the_server_key(start_arena: StartArena) -> None:
    arena = await start_arena(server_key=SERVER_KEY)
    player = await login(arena, "alice")
    body = {"player_id": player.player_id, "score": 5}
    assert (await post_score(arena, "global", body, key=None))[0] == 401
    status, reply = await post_score(arena, "global", body, key="wrong-key")
    assert (status, reply["error"]["code"]) == (403, "FORBIDDEN")
    assert await post_score(arena, "global", body) == (
        200,
        {"score": 5, "rank": 1, "improved": True},
    )
    status, reply = await post_score(arena, "global", {"player_id": "ghost", "score": 5})
    assert (status, reply["error"]["code"]) == (404, "NOT_FOUND")
    for bad in ({"player_id": player.player_id, "score": 1.5}, {"score": 1}):
        status, reply = await post_score(arena, "global", bad)
        assert (status, reply["error"]["code"]) == (400, "BAD_REQUEST")


async def test_server_routes_are_off_without_a_key(arena: str) -> None:
    player = await login(arena)
    status, reply = await post_score(arena, "global", {"player_id": player.player_id, "score": 1})
    assert (status, reply["error"]["code"]) == (401, "UNAUTHORIZED")


async def test_a_cached_top_page_is_stale_by_at_most_its_ttl(start_arena: StartArena) -> None:
    arena = await start_arena(lb_cache_ttl_s=0.5)
    _, alice = await connect(arena, "alice")
    _, bob = await connect(arena, "bob")
    async with alice, bob:
        await alice.request("lb.submit", board="global", score=10)
        first = await alice.request("lb.top", board="global")
        await bob.request("lb.submit", board="global", score=20)
        # Served from the cache: bob's better score is not there yet...
        assert await alice.request("lb.top", board="global") == first

        async def bob_leads() -> bool:
            entries = (await alice.request("lb.top", board="global"))["entries"]
            return bool(entries[0]["name"] == "bob")

        # ...and it is there once the cached page has lived its TTL.
        await eventually(bob_leads, within_s=0.5 + 0.3, every_s=0.02)
    _, stats = await http_json("GET", arena + "/v1/stats")
    assert stats["caches"]["lb_top"]["hits"] >= 1
    assert stats["caches"]["lb_top"]["misses"] >= 2


async def test_a_stampede_on_a_cold_page_makes_one_rebuild_across_nodes(
    spawn_node: SpawnNode,
) -> None:
    a, b = spawn_node(ARENA_LB_CACHE_TTL="10"), spawn_node(ARENA_LB_CACHE_TTL="10")
    _, alice = await connect(a.url, "alice")
    async with alice:
        await alice.request("lb.submit", board="global", score=1)
    readers = 60
    async with aiohttp.ClientSession() as http:

        async def read(node_url: str) -> dict[str, Any]:
            async with http.get(node_url + "/v1/leaderboards/global/top?limit=7") as resp:
                assert resp.status == 200
                return dict(await resp.json())

        pages = await asyncio.gather(*(read((a, b)[i % 2].url) for i in range(readers)))
    assert all(page == pages[0] for page in pages)
    assert pages[0]["entries"][0]["name"] == "alice"
    await http_json("GET", a.url + "/v1/stats")  # each node adds its counts when asked
    _, stats = await http_json("GET", b.url + "/v1/stats")
    counts = stats["caches"]["lb_top"]
    assert counts["misses"] == 1
    assert counts["hits"] + counts["waits"] + counts["stale"] == readers - 1


async def test_profiles_are_read_through_the_cache_and_invalidated_on_rename(
    arena: str,
) -> None:
    device = "profile-device-0001"
    player = await login(arena, "before", device_id=device)
    for _ in range(3):
        assert (await http_json("GET", arena + "/v1/session", token=player.token))[1][
            "name"
        ] == "before"
    await login(arena, "after", device_id=device)
    assert (await http_json("GET", arena + "/v1/session", token=player.token))[1]["name"] == "after"
    _, stats = await http_json("GET", arena + "/v1/stats")
    assert stats["caches"]["profile"]["hits"] >= 2
    assert stats["caches"]["profile"]["misses"] >= 2  # the first read, and the one after rename


async def ranked_players(arena: str, count: int) -> None:
    """``count`` players on ``global``, player i with score i (so rank 1 has the most)."""
    players = await asyncio.gather(*(login(arena, f"p{i}") for i in range(count)))
    for score, player in enumerate(players, start=1):
        body = {"player_id": player.player_id, "score": score}
        assert (await post_score(arena, "global", body))[0] == 200


async def test_top_pages_are_cut_from_whole_cached_pages(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(
        server_key=SERVER_KEY, lb_cache_ttl_s=60, rate_limits="http.read=1000/1000"
    )
    await ranked_players(arena, 130)
    # Offsets and limits as an attacker would vary them, one page boundary crossed.
    asks = [(0, 10), (3, 7), (95, 10), (99, 2), (100, 30), (120, 100), (129, 1), (200, 5)]
    asks += [(offset, 1 + offset % 100) for offset in range(0, 140, 7)]
    for offset, limit in asks:
        url = f"{arena}/v1/leaderboards/global/top?offset={offset}&limit={limit}"
        status, page = await http_json("GET", url)
        assert status == 200, (offset, limit)
        ranks = [entry["rank"] for entry in page["entries"]]
        assert ranks == list(range(offset + 1, min(offset + limit, 130) + 1)), (offset, limit)
        assert all(e["score"] == 131 - e["rank"] for e in page["entries"])
    # Only whole pages at offsets 0 and 100 were built and stored (200 is past the end).
    pattern = "arena:cache:{lb_top:*}:fresh"
    stored = [k.decode() if isinstance(k, bytes) else k for k in every_key(redis_client, pattern)]
    assert {key.split(":")[-2].rstrip("}") for key in stored} == {"0", "100"}
    _, stats = await http_json("GET", arena + "/v1/stats")
    assert stats["caches"]["lb_top"]["misses"] == 2


async def test_anonymous_board_reads_are_rate_limited_per_address(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(
        server_key=SERVER_KEY, rate_limits="http.read=3/0.01", trusted_proxies="127.0.0.1"
    )
    player = await login(arena)
    await post_score(arena, "global", {"player_id": player.player_id, "score": 1})
    top = f"{arena}/v1/leaderboards/global/top?limit=1"
    mine = f"{arena}/v1/leaderboards/global/players/{player.player_id}"
    async with aiohttp.ClientSession() as http:
        for url in (top, mine, top):
            async with http.get(url) as resp:
                assert resp.status == 200
        for url in (top, mine):
            async with http.get(url) as resp:
                assert resp.status == 429
                assert (await resp.json())["error"]["code"] == "RATE_LIMITED"
                assert int(resp.headers["Retry-After"]) >= 1
        # Another client address (behind the trusted proxy) has its own allowance.
        async with http.get(top, headers={"X-Forwarded-For": "203.0.113.9"}) as resp:
            assert resp.status == 200
