"""Modes shape lobbies (seats, starting when full) and say which boards a match's results
feed; ARENA_MODES and ARENA_BOARDS are checked at start, each fault refused in one line."""

from __future__ import annotations

import json

import pytest

from server.setting_errors import SettingError
from server.settings import Settings
from tests.conftest import StartArena
from tests.helpers import connect, start_match
from tests.integrity_helpers import BOARDS, close_all, modes, refused


async def test_a_duel_quick_join_makes_two_seats_and_starts_when_the_second_joins(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(modes=modes(duel={"capacity": 2, "start_when_full": True}))
    _, alice = await connect(arena, "alice")
    _, bob = await connect(arena, "bob")
    _, carol = await connect(arena, "carol")
    try:
        lobby = (await alice.request("lobby.quickjoin", mode="duel"))["lobby"]
        assert lobby["capacity"] == 2
        joined = (await bob.request("lobby.quickjoin", mode="duel"))["lobby"]
        assert joined["lobby_id"] == lobby["lobby_id"]
        # Nobody pressed ready: the full lobby started its match.
        started = [await c.next_push("match.started") for c in (alice, bob)]
        assert started[0]["match_id"] == started[1]["match_id"]
        assert started[0]["mode"] == "duel"
        # Unlisted modes keep the default 8 seats; a lobby asks for at most its mode's.
        ffa = (await carol.request("lobby.create", mode="ffa"))["lobby"]
        assert ffa["capacity"] == 8
        await carol.request("lobby.leave")
        code = await refused(carol, "lobby.create", mode="duel", capacity=3)
        assert code == "BAD_REQUEST"
        assert (await carol.request("lobby.create", mode="ffa", capacity=3))["lobby"][
            "capacity"
        ] == 3
    finally:
        await close_all([alice, bob, carol])


async def test_the_results_worker_writes_the_boards_of_the_matchs_mode(
    start_arena: StartArena,
) -> None:
    boards = json.dumps([{"id": "global"}, {"id": "daily", "period": "daily"}, {"id": "duels"}])
    arena = await start_arena(
        workers=1, boards=boards, modes=modes(duel={"capacity": 2, "boards": ["duels"]})
    )
    match_id, clients, players = await start_match([arena], 2, mode="duel")
    scores = {players[0].player_id: 12, players[1].player_id: 4}
    try:
        for client in clients:
            await client.request("match.result", match_id=match_id, scores=scores)
        note = await clients[0].next_push("notify", timeout=10)
        assert set(note["data"]["boards"]) == {"duels"}
        assert (await clients[0].request("lb.rank", board="duels"))["score"] == 12
        assert await refused(clients[0], "lb.rank", board="global") == "NOT_RANKED"
    finally:
        await close_all(clients)


# --- the setting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (
            '{"duel": {"results": "majority"}}',
            "mode 'duel': results must be consensus, server or any",
        ),
        ('{"duel": {"capacity": 1}}', "mode 'duel': capacity must be an integer 2..64"),
        ('{"duel": {"capacity": true}}', "mode 'duel': capacity"),
        ('{"duel": {"start_when_full": "yes"}}', "mode 'duel': start_when_full must be true"),
        ('{"duel": {"result_wait_s": 0}}', "mode 'duel': result_wait_s must be a number"),
        ('{"duel": {"result_wait_s": 4000}}', "mode 'duel': result_wait_s"),
        (
            '{"duel": {"boards": ["weekly"]}}',
            "mode 'duel': boards must be ids of boards",
        ),
        ('{"duel": {"seats": 2}}', "mode 'duel': fields must be boards, capacity"),
        ('{"Duel Mode": {}}', "mode names must be 1 to 32 of a-z, 0-9, _ and -"),
        ('{"duel": 2}', "mode 'duel' must be a JSON object, got 2"),
        ('["duel"]', "must be a JSON object of mode name"),
        ("{duel", "not valid JSON"),
        ("@/no/such/modes.json", "readable JSON file, got '@/no/such/modes.json'"),
    ],
)
def test_a_bad_arena_modes_is_refused_in_one_line(raw: str, says: str) -> None:
    with pytest.raises(SettingError, match=r"^ARENA_MODES[: ]") as error:
        Settings.from_env({"ARENA_MODES": raw})
    message = str(error.value)
    assert error.value.env == "ARENA_MODES"
    assert says in message
    assert "\n" not in message


def test_a_mode_taking_any_report_may_not_feed_a_board_only_the_server_writes() -> None:
    env = {"ARENA_BOARDS": BOARDS, "ARENA_MODES": modes(casual={"results": "any"})}
    # casual feeds the default global and daily, both server boards here.
    with pytest.raises(SettingError) as error:
        Settings.from_env(env)
    assert str(error.value) == (
        "ARENA_MODES: mode 'casual': results must be consensus or server while it feeds "
        "'global', a board whose writers is server (any would let every player write it), "
        "got 'any'"
    )
    star = {"ARENA_BOARDS": BOARDS, "ARENA_MODES": json.dumps({"*": {"results": "any"}})}
    with pytest.raises(SettingError, match=r"^ARENA_MODES: mode '\*': results"):
        Settings.from_env(star)
    # The same mode feeding only a players' board is allowed.
    allowed = modes(casual={"results": "any", "boards": ["casual"]})
    book = Settings.from_env({"ARENA_BOARDS": BOARDS, "ARENA_MODES": allowed}).mode_book()
    assert book.spec_for("casual").results == "any"


def test_arena_modes_reads_a_file_and_its_star_entry(tmp_path: object) -> None:
    path = f"{tmp_path}/modes.json"
    with open(path, "w") as file:
        json.dump({"*": {"capacity": 4, "results": "server"}, "duel": {"capacity": 2}}, file)
    book = Settings.from_env({"ARENA_MODES": "@" + path}).mode_book()
    assert (book.spec_for("ffa").capacity, book.spec_for("ffa").results) == (4, "server")
    duel = book.spec_for("duel")
    assert (duel.capacity, duel.results, duel.result_wait_s, duel.boards) == (
        2,
        "consensus",
        15.0,
        ("global", "daily"),
    )


def test_own_boards_without_global_need_a_star_entry_and_are_told_so() -> None:
    with pytest.raises(SettingError, match="ARENA_MODES") as error:
        Settings.from_env({"ARENA_BOARDS": '[{"id": "total"}]'})
    assert str(error.value) == (
        """ARENA_MODES must be a JSON object with a "*" entry naming the boards modes not """
        """listed feed, e.g. {"*": {"boards": ["total"]}} (by default they feed global, """
        "daily, and ARENA_BOARDS does not define 'global')"
    )
    book = Settings.from_env(
        {"ARENA_BOARDS": '[{"id": "total"}]', "ARENA_MODES": '{"*": {"boards": ["total"]}}'}
    ).mode_book()
    assert book.spec_for("any-mode").boards == ("total",)


def test_a_board_with_unknown_writers_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="writers") as error:
        Settings.from_env({"ARENA_BOARDS": '[{"id": "global", "writers": "admins"}]'})
    assert str(error.value) == (
        "ARENA_BOARDS: board 'global': writers must be players or server, got 'admins'"
    )
