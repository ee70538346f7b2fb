"""A spectator session (what the dashboard uses): reads and watches, never changes a thing."""

from __future__ import annotations

from typing import Any

import pytest

from client_sim.client import ArenaClient, ArenaError
from tests.conftest import StartArena
from tests.helpers import ANY_RESULTS, connect, http_json, start_match


async def spectate(base_url: str) -> ArenaClient:
    status, body = await http_json("POST", base_url + "/v1/auth/spectator", json={})
    assert status == 200
    assert body["role"] == "spectator"
    return await ArenaClient.connect(base_url, body["token"])


async def test_a_spectator_reads_but_every_change_is_refused(arena: str) -> None:
    async with await spectate(arena) as watcher:
        assert (await watcher.request("session.get"))["role"] == "spectator"
        boards = {b["id"]: b for b in (await watcher.request("lb.boards"))["boards"]}
        # The configured boards, and the rating boards of the modes ARENA_MODES names.
        assert set(boards) == {"global", "daily", "ratings:tictactoe", "ratings:dots"}
        assert boards["global"]["current"] == "all"
        assert len(boards["daily"]["current"]) == len("2026-11-26")
        assert (await watcher.request("lb.top", board="global", limit=10))["entries"] == []
        assert (await watcher.request("lobby.list"))["lobbies"] == []
        assert (await watcher.request("match.list"))["matches"] == []
        assert (await watcher.request("feed.global", limit=5))["entries"] == []
        stats = await watcher.request("stats.get")
        assert stats["online"] == 0  # a spectator is nobody's presence
        writes: list[tuple[str, dict[str, Any]]] = [
            ("lb.submit", {"board": "global", "score": 1}),
            ("lobby.create", {"mode": "duel", "capacity": 2}),
            ("lobby.quickjoin", {"mode": "duel"}),
            ("chat.send", {"room": "general", "text": "hi"}),
            ("match.send", {"match_id": "0" * 16, "type": "move", "data": 1}),
        ]
        for op, fields in writes:
            with pytest.raises(ArenaError) as refused:
                await watcher.request(op, **fields)
            assert refused.value.code == "READ_ONLY"


async def test_watch_pushes_lobbies_matches_top_scores_and_activity(
    start_arena: StartArena,
) -> None:
    # A result worker, for the activity entry; one report ends a match.
    arena = await start_arena(workers=1, modes=ANY_RESULTS)
    async with await spectate(arena) as watcher:
        assert await watcher.request("watch") == {}
        _, alice = await connect(arena, "alice")
        async with alice:
            lobby = (await alice.request("lobby.create", mode="duel", capacity=2))["lobby"]
            seen = (await watcher.next_push("watch.lobby"))["lobby"]
            assert (seen["lobby_id"], seen["status"]) == (lobby["lobby_id"], "open")

            await alice.request("lobby.leave")
            seen = (await watcher.next_push("watch.lobby"))["lobby"]
            assert seen["status"] == "closed"

            # A private lobby's id is its invitation: no watcher learns it.
            await alice.request("lobby.create", mode="duel", capacity=2, private=True)
            await alice.request("lobby.leave")
            await alice.request("lobby.create", mode="duel", capacity=2)
            seen = (await watcher.next_push("watch.lobby"))["lobby"]
            assert (seen["private"], seen["status"]) == (False, "open")
            await alice.request("lobby.leave")
            await watcher.next_push("watch.lobby")

            await alice.request("lb.submit", board="global", score=700)
            score = await watcher.next_push("watch.score")
            assert {k: score[k] for k in ("board", "name", "score", "rank")} == {
                "board": "global",
                "name": "alice",
                "score": 700,
                "rank": 1,
            }

        match_id, clients, players = await start_match([arena], 2)
        try:
            started = (await watcher.next_push("watch.match"))["match"]
            assert started == {**started, "match_id": match_id, "state": "running", "players": 2}
            listed = (await watcher.request("match.list"))["matches"]
            assert [m["match_id"] for m in listed] == [match_id]
            assert (await watcher.request("stats.get"))["matches_running"] == 1

            scores = {players[0].player_id: 3, players[1].player_id: 1}
            await clients[0].request("match.result", match_id=match_id, scores=scores)
            ended = (await watcher.next_push("watch.match"))["match"]
            assert (ended["match_id"], ended["state"]) == (match_id, "ended")
            entry = (await watcher.next_push("watch.activity", timeout=10))["entry"]
            assert entry["kind"] == "match.result"
            assert (await watcher.request("match.list"))["matches"] == []
        finally:
            for client in clients:
                await client.close()
