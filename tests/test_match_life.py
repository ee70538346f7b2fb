"""A match's life beside its game: its keys expire with it, its players' comings and
goings reach the others, it ends abandoned when they have all gone, and ``match.list``
reads the running matches in one round trip."""

from __future__ import annotations

from typing import Any

import redis as redis_sync

from client_sim.client import ArenaClient
from server.storage.matches import ENDED_FEED_TTL_S, ENDED_STATE_TTL_S, MATCH_TTL_S
from tests.conftest import SpawnNode, StartArena
from tests.helpers import eventually, every_key, http_json, start_match
from tests.test_metrics import scrape

# A match is abandoned after 1 s without a player online; nodes stamp presence every 0.2 s
# and a dead node's players count as gone 3 s after its last stamp: a node paused for a
# second or two on a loaded machine keeps its players online.
FAST_ABANDON = {"match_abandon_s": 1.0, "presence_interval_s": 0.2, "presence_ttl_s": 3.0}
FAST_ABANDON_ENV = {
    "ARENA_MATCH_ABANDON_S": "1",
    "ARENA_PRESENCE_INTERVAL": "0.2",
    "ARENA_PRESENCE_TTL": "3",
}
RUNNING = "arena:{matches}:running"
SUMMARIES = "arena:{matches}:summaries"
SEEN = "arena:{matches}:seen"


async def spectate(base_url: str) -> ArenaClient:
    """A dashboard's socket, watching the whole game."""
    status, body = await http_json("POST", base_url + "/v1/auth/spectator", json={})
    assert status == 200
    watcher = await ArenaClient.connect(base_url, body["token"])
    await watcher.request("watch")
    return watcher


async def presence_of(
    client: ArenaClient, player_id: str, *, timeout: float = 15
) -> dict[str, Any]:
    """The next ``match.presence`` about ``player_id`` (others' comings and goings are not
    what the caller waits for)."""
    while True:
        push = await client.next_push("match.presence", timeout=timeout)
        if push["player_id"] == player_id:
            return push


async def match_watched_ending(watcher: ArenaClient, match_id: str) -> dict[str, Any]:
    while True:
        match: dict[str, Any] = (await watcher.next_push("watch.match", timeout=15))["match"]
        if match["match_id"] == match_id and match["state"] == "ended":
            return match


async def stats(base_url: str) -> dict[str, Any]:
    status, body = await http_json("GET", base_url + "/v1/stats")
    assert status == 200
    return body


def ttls_of_match(r: redis_sync.Redis, match_id: str, player_ids: list[str]) -> dict[str, int]:
    """Every key of the match, and the players' pointers to it, with its TTL in ms
    (-1: none, for ever); a key that expired while being read is left out."""
    names = [*every_key(r, f"arena:{{match:{match_id}}}:*")]
    names += [
        f"arena:{{player:{p}}}:match" for p in player_ids if r.exists(f"arena:{{player:{p}}}:match")
    ]
    ttls = {(n.decode() if isinstance(n, bytes) else n): int(r.pttl(n)) for n in names}
    return {name: ttl for name, ttl in ttls.items() if ttl != -2}


def assert_every_key_expires(ttls: dict[str, int], *, within_s: int) -> None:
    # 0: expiring this very millisecond (a rate key's last moment): it expires too.
    forever = {name: ttl for name, ttl in ttls.items() if not 0 <= ttl <= within_s * 1000}
    assert forever == {}, f"keys without a TTL (or longer than {within_s} s)"


def listed(r: redis_sync.Redis, match_id: str) -> bool:
    return any(
        (
            r.zscore(RUNNING, match_id) is not None,
            r.zscore(SEEN, match_id) is not None,
            r.hexists(SUMMARIES, match_id),
            r.hexists(SUMMARIES, f"{match_id}:playing"),
        )
    )


async def test_a_matchs_keys_expire_at_every_step_and_go_when_it_ends(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena()
    match_id, clients, players = await start_match([arena], 3)
    ids = [p.player_id for p in players]
    try:
        started = ttls_of_match(redis_client, match_id, ids)
        assert {f"arena:{{player:{p}}}:match" for p in ids} <= set(started)
        assert_every_key_expires(started, within_s=MATCH_TTL_S)

        # The first event makes the feed: it expires with the match, like the rest.
        await clients[0].request("match.send", match_id=match_id, type="move", data=1)
        sent = ttls_of_match(redis_client, match_id, ids)
        assert f"arena:{{match:{match_id}}}:feed" in sent
        rate_key = f"arena:{{match:{match_id}}}:rate:{ids[0]}"
        assert rate_key in sent or not redis_client.exists(rate_key)  # its PX may have run out
        assert_every_key_expires(sent, within_s=MATCH_TTL_S)
        assert listed(redis_client, match_id)

        # Leaving: the leaver's pointer goes, and the list's summary counts one fewer.
        await clients[2].request("match.leave", match_id=match_id)
        left = ttls_of_match(redis_client, match_id, ids)
        assert f"arena:{{player:{ids[2]}}}:match" not in left
        assert_every_key_expires(left, within_s=MATCH_TTL_S)
        summary = (await clients[0].request("match.list"))["matches"]
        assert [(m["match_id"], m["players"], m["playing"]) for m in summary] == [(match_id, 3, 2)]
        await clients[1].request("match.leave", match_id=match_id)
        summary = (await clients[0].request("match.list"))["matches"]
        assert [(m["match_id"], m["playing"]) for m in summary] == [(match_id, 1)]

        # The end: the state stays while a result may wait; the feed and the players an
        # hour; the pointers and the index entries go.
        await clients[0].request("match.result", match_id=match_id, scores={ids[0]: 5})
        ended = ttls_of_match(redis_client, match_id, ids)
        assert not any(name.startswith("arena:{player:") for name in ended)
        state_key = f"arena:{{match:{match_id}}}:state"
        assert 0 < ended.pop(state_key) <= ENDED_STATE_TTL_S * 1000
        assert f"arena:{{match:{match_id}}}:players" in ended
        assert_every_key_expires(ended, within_s=ENDED_FEED_TTL_S)
        assert not listed(redis_client, match_id)
        assert (await clients[0].request("match.list"))["matches"] == []

        async def rate_state_gone() -> bool:
            return not redis_client.exists(rate_key)

        await eventually(rate_state_gone, within_s=5)
    finally:
        for client in clients:
            await client.close()


async def test_a_match_whose_players_all_left_ends_abandoned_and_one_with_a_player_does_not(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(**FAST_ABANDON, workers=1)
    watcher = await spectate(arena)
    kept_id, kept, kept_players = await start_match([arena], 2)
    match_id, clients, players = await start_match([arena], 2)
    ids = [p.player_id for p in players]
    try:
        # One player of the kept match goes first: the other hears it, and stays.
        await kept[1].close()
        gone = await presence_of(kept[0], kept_players[1].player_id)
        assert gone == {
            **gone,
            "match_id": kept_id,
            "player_id": kept_players[1].player_id,
            "online": False,
        }
        assert isinstance(gone["id"], str)
        assert isinstance(gone["ts"], int)

        # Then everyone of the other match goes.
        for client in clients:
            await client.close()
        ended = await match_watched_ending(watcher, match_id)
        assert (ended["playing"], ended["players"]) == (0, 2)

        async def counted() -> bool:
            now = await stats(arena)
            return bool(now["abandoned"] == 1 and now["matches_running"] == 1)

        await eventually(counted, within_s=5)
        # The kept match's last player never went, though its other one went before.
        assert [m["match_id"] for m in (await kept[0].request("match.list"))["matches"]] == [
            kept_id
        ]
        assert (await kept[0].request("match.current"))["match"]["match_id"] == kept_id

        # A member coming back finds it over, with no result: nothing on the boards.
        back = await ArenaClient.connect(arena, players[0].token, reconnect=False)
        try:
            assert (await back.request("match.current"))["match"] is None
            feed = (await back.request("match.feed", match_id=match_id))["events"]
            assert feed[-1] == {
                **feed[-1],
                "ev": "match.ended",
                "match_id": match_id,
                "scores": {},
                "by": "abandoned",
            }
            presence = [(e["player_id"], e["online"]) for e in feed if e["ev"] == "match.presence"]
            # Both closed at once: their announcements may come in either order.
            assert sorted(presence) == sorted([(ids[0], False), (ids[1], False)])
            assert (await back.request("lb.top", board="global", limit=10))["entries"] == []
        finally:
            await back.close()
        state = redis_client.hgetall(f"arena:{{match:{match_id}}}:state")
        assert (state[b"state"], state[b"ended_by"]) == (b"ended", b"abandoned")
        assert (await stats(arena))["queues"]["results"] == {"ready": 0, "taken": 0, "dead": 0}
        assert_every_key_expires(
            ttls_of_match(redis_client, match_id, ids), within_s=ENDED_FEED_TTL_S
        )
        assert not listed(redis_client, match_id)
        samples = await scrape(arena)
        assert samples["arena_matches_abandoned_total", ()] == 1
    finally:
        for client in [*kept, *clients, watcher]:
            await client.close()


async def test_a_listed_match_that_ended_without_being_unlisted_is_tidied_by_the_upkeep(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(**FAST_ABANDON)
    match_id, clients, _ = await start_match([arena], 2)
    try:
        # As if a node ended it and died before taking it off the index (another slot).
        redis_client.hset(f"arena:{{match:{match_id}}}:state", "state", "ended")

        async def unlisted() -> bool:
            return not listed(redis_client, match_id)

        await eventually(unlisted, within_s=5)
        assert (await clients[0].request("match.list"))["matches"] == []
        assert (await stats(arena))["abandoned"] == 0  # its players are online: not that
    finally:
        for client in clients:
            await client.close()


async def test_members_on_two_nodes_hear_each_other_go_and_come_back_and_a_dead_nodes_players_go(
    spawn_node: SpawnNode,
) -> None:
    a, b = spawn_node(**FAST_ABANDON_ENV), spawn_node(**FAST_ABANDON_ENV)
    match_id, clients, players = await start_match([a.url, b.url], 2)
    on_a, on_b = clients
    gone_player = players[0].player_id
    back: ArenaClient | None = None
    watcher = await spectate(b.url)
    try:
        await on_a.close()
        offline = await presence_of(on_b, gone_player)
        assert (offline["match_id"], offline["player_id"], offline["online"]) == (
            match_id,
            gone_player,
            False,
        )
        back = await ArenaClient.connect(a.url, players[0].token, reconnect=False)
        online = await presence_of(on_b, gone_player)
        assert (online["player_id"], online["online"]) == (gone_player, True)
        assert online["id"] > offline["id"]  # in the feed, in order

        # Node a dies without closing anything: its player lapses, and node b says so.
        a.kill()
        lapsed = await presence_of(on_b, gone_player, timeout=20)
        assert (lapsed["player_id"], lapsed["online"]) == (gone_player, False)
        assert (await stats(b.url))["matches_running"] == 1  # b's player is still there

        # The last player goes: the match ends abandoned.
        await on_b.close()
        await match_watched_ending(watcher, match_id)
        now = await stats(b.url)
        assert (now["abandoned"], now["matches_running"]) == (1, 0)
    finally:
        for client in [*clients, watcher, *([back] if back else [])]:
            await client.close()


def commands_run(r: redis_sync.Redis) -> int:
    """Commands Redis has run so far, scripts' own calls included, INFO itself not."""
    stats = r.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


async def test_match_list_costs_the_same_few_commands_for_5_or_50_running_matches(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    # Nothing in the background while counting: no heartbeat, no session refresh.
    arena = await start_arena(
        presence_interval_s=60.0, presence_ttl_s=120.0, session_touch_interval_s=3600.0
    )
    viewer = await spectate(arena)
    sockets: list[ArenaClient] = []

    async def start(count: int) -> None:
        for _ in range(count):
            sockets.extend((await start_match([arena], 2))[1])

    async def cost_of_list(expected: int) -> int:
        costs = []
        for _ in range(3):  # the least of three: anything else running only adds
            before = commands_run(redis_client)
            matches = (await viewer.request("match.list", limit=100))["matches"]
            costs.append(commands_run(redis_client) - before)
            assert len(matches) == expected
            assert all(m["playing"] == 2 and m["state"] == "running" for m in matches)
        return min(costs)

    try:
        await start(5)
        few = await cost_of_list(5)
        await start(45)
        many = await cost_of_list(50)
        assert many == few
        assert few <= 5  # one script: its page read, its summary read, its tidying
    finally:
        for client in [*sockets, viewer]:
            await client.close()


async def test_a_match_a_game_server_ends_keeps_no_reports_and_its_players_go_with_the_feed(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    server_key = "match-life-server-key-0123456789abcdef"
    arena = await start_arena(server_key=server_key)
    match_id, clients, players = await start_match([arena], 2)
    ids = [p.player_id for p in players]
    try:
        # One player reports (consensus waits for the other); the game server decides.
        await clients[0].request("match.result", match_id=match_id, scores={ids[0]: 3})
        assert redis_client.exists(f"arena:{{match:{match_id}}}:reports")
        url = f"{arena}/v1/matches/{match_id}/result"
        status, _ = await http_json(
            "POST", url, token=server_key, json={"scores": {ids[0]: 1, ids[1]: 2}}
        )
        assert status == 200
        ended = ttls_of_match(redis_client, match_id, ids)
        assert f"arena:{{match:{match_id}}}:reports" not in ended
        assert 0 < ended.pop(f"arena:{{match:{match_id}}}:state") <= ENDED_STATE_TTL_S * 1000
        assert f"arena:{{match:{match_id}}}:players" in ended
        assert_every_key_expires(ended, within_s=ENDED_FEED_TTL_S)
    finally:
        for client in clients:
            await client.close()
