"""Who may write scores and results besides consensus: boards only the server writes, modes
whose results only the server reports (its key route), and modes that take any player's
first report."""

from __future__ import annotations

from server.boards import SCORE_MAX
from tests.conftest import StartArena
from tests.helpers import connect, http_json, start_match
from tests.integrity_helpers import BOARDS, SERVER_KEY, close_all, modes, refused


async def test_a_player_cannot_submit_to_a_server_board_but_the_server_key_route_can(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(boards=BOARDS, server_key=SERVER_KEY)
    alice, client = await connect(arena, "alice")
    async with client:
        boards = {b["id"]: b["writers"] for b in (await client.request("lb.boards"))["boards"]}
        assert boards == {
            "global": "server",
            "daily": "server",
            "casual": "players",
            # The default modes' rating boards: ratings come from results only.
            "ratings:tictactoe": "server",
            "ratings:dots": "server",
        }
        # The outside review's attack: 2^53-1 to rank 1.
        code = await refused(client, "lb.submit", board="global", score=SCORE_MAX)
        assert code == "FORBIDDEN"
        assert (await client.request("lb.top", board="global"))["entries"] == []
        assert await refused(client, "lb.rank", board="global") == "NOT_RANKED"
        # A players' board still takes a player's score (the quick start's way).
        assert (await client.request("lb.submit", board="casual", score=5))["rank"] == 1

        url = f"{arena}/v1/leaderboards/global/scores"
        body = {"player_id": alice.player_id, "score": 1200}
        assert (await http_json("POST", url, token=SERVER_KEY, json=body))[0] == 200
        assert await client.request("lb.rank", board="global") == {"rank": 1, "score": 1200}
        # Not even the server key writes a rating board: ratings move with results only.
        url = f"{arena}/v1/leaderboards/ratings:tictactoe/scores"
        status, refusal = await http_json("POST", url, token=SERVER_KEY, json=body)
        assert (status, refusal["error"]["code"]) == (403, "FORBIDDEN")


async def test_a_server_mode_refuses_players_results_and_takes_the_servers(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(server_key=SERVER_KEY, modes=modes(ranked={"results": "server"}))
    match_id, clients, players = await start_match([arena], 2, mode="ranked")
    scores = {players[0].player_id: 4, players[1].player_id: 2}
    try:
        for client in clients:
            code = await refused(client, "match.result", match_id=match_id, scores=scores)
            assert code == "FORBIDDEN"
        url = f"{arena}/v1/matches/{match_id}/result"
        status, body = await http_json("POST", url, token=SERVER_KEY, json={"scores": scores})
        assert (status, body) == (200, {"match_id": match_id, "state": "ended"})
        ended = await clients[1].next_push("match.ended")
        assert (ended["scores"], ended["by"]) == (scores, "server")
    finally:
        await close_all(clients)


async def test_the_server_key_route_ends_a_consensus_match_whatever_was_reported(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(server_key=SERVER_KEY)
    match_id, clients, players = await start_match([arena], 2)
    scores = {players[0].player_id: 8, players[1].player_id: 6}
    try:
        lie = {players[1].player_id: 1000}
        await clients[1].request("match.result", match_id=match_id, scores=lie)
        url = f"{arena}/v1/matches/{match_id}/result"
        assert (await http_json("POST", url, token=SERVER_KEY, json={"scores": scores}))[0] == 200
        ended = await clients[0].next_push("match.ended")
        assert (ended["scores"], ended["by"]) == (scores, "server")
    finally:
        await close_all(clients)


async def test_an_any_mode_takes_the_first_report(start_arena: StartArena) -> None:
    arena = await start_arena(modes=modes(casual={"results": "any"}))
    match_id, clients, players = await start_match([arena], 2, mode="casual")
    first = {players[0].player_id: 1, players[1].player_id: 0}
    try:
        reply = await clients[1].request("match.result", match_id=match_id, scores=first)
        assert reply == {"match_id": match_id, "state": "ended", "reported": True}
        ended = await clients[0].next_push("match.ended")
        assert (ended["scores"], ended["by"]) == (first, players[1].player_id)
        other = {players[0].player_id: 50}
        code = await refused(clients[0], "match.result", match_id=match_id, scores=other)
        assert code == "MATCH_ENDED"
    finally:
        await close_all(clients)
