"""Bad input as a client sends it: feed ids at the edges, values Redis refuses, odd texts.

Each gets a clear error (or a plain answer), never INTERNAL, and the server logs no
traceback for it.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest

from client_sim.client import ArenaClient, ArenaError
from server.embedded_redis import RedisProcess
from server.errors import BadRequest
from server.feed_ids import FEED_ID_MAX, is_feed_id, next_feed_id
from server.protocol import Format
from server.storage.connection import translate_redis_errors
from server.storage.feeds import Feeds
from server.storage.mux import CommandError, RedisMux
from server.storage.scripts import Scripts
from server.text import clean_text
from tests.conftest import StartArena
from tests.helpers import connect, http_json, login, new_device, start_match

LARGEST_ID = f"{FEED_ID_MAX}-{FEED_ID_MAX}"


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def close_all(clients: list[ArenaClient]) -> None:
    for client in clients:
        await client.close()


def test_the_id_after_each_feed_id() -> None:
    assert next_feed_id("5-5") == "5-6"
    assert next_feed_id(f"5-{FEED_ID_MAX}") == "6-0"
    assert next_feed_id(LARGEST_ID) is None
    assert next_feed_id("0" + LARGEST_ID) is None  # leading zeros: the same id to Redis
    assert is_feed_id(LARGEST_ID)
    assert is_feed_id("00" + LARGEST_ID)
    assert not is_feed_id(f"{FEED_ID_MAX + 1}-0")
    assert not is_feed_id("1" * 5000 + "-0")  # refused, not a ValueError from int()
    assert not is_feed_id("1-" + "9" * 5000)
    assert not is_feed_id("\u0661-0")  # a non-ASCII digit


async def test_the_feed_after_the_largest_id_is_empty_not_internal(
    start_arena: StartArena, caplog: pytest.LogCaptureFixture
) -> None:
    # A small cap, so the feed has trimmed some (the path that compares ids in Lua too).
    arena = await start_arena(match_feed_max=2)
    match_id, clients, players = await start_match([arena], 2)
    player = clients[0]
    try:
        for i in range(4):
            await player.request("match.send", match_id=match_id, type="m", data=i)
        for after in (LARGEST_ID, f"{FEED_ID_MAX}-0", f"{FEED_ID_MAX}-1"):
            reply = await player.request("match.feed", match_id=match_id, after=after)
            assert reply["events"] == []
        # One past the largest in either part is not a feed id: BAD_REQUEST names the field.
        for after in (f"{FEED_ID_MAX + 1}-0", f"0-{FEED_ID_MAX + 1}", "1-2-3", "-1-0", "1e3-0"):
            with pytest.raises(ArenaError) as bad:
                await player.request("match.feed", match_id=match_id, after=after)
            assert bad.value.code == "BAD_REQUEST"
            assert bad.value.message.startswith("after:")
        # The same over JSON frames.
        json_client = await ArenaClient.connect(arena, players[1].token, fmt=Format.JSON)
        async with json_client:
            reply = await json_client.request("match.feed", match_id=match_id, after=LARGEST_ID)
            assert reply["events"] == []
        assert "server_time_ms" in await player.request("ping")
    finally:
        await close_all(clients)
    assert tracebacks(caplog) == []


async def test_acknowledging_the_largest_id_clears_every_note(
    arena: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, client = await connect(arena)
    async with client:
        await client.request("notify.ack", id=LARGEST_ID)
        await client.request("notify.ack", id="0-0")
        with pytest.raises(ArenaError) as bad:
            await client.request("notify.ack", id=f"{FEED_ID_MAX + 1}-0")
        assert bad.value.code == "BAD_REQUEST"
        assert bad.value.message.startswith("id:")
    assert tracebacks(caplog) == []


async def test_an_error_reply_a_client_value_causes_becomes_bad_request_and_a_warning(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """On a store method that takes a client's value (``client_values``), Redis refusing
    that value is BAD_REQUEST, logged at warning with the command and a short stack (to
    find the missing check); WRONGTYPE is never the client's doing and stays loud."""
    mux = RedisMux(redis_server.url)
    try:
        feeds = Feeds(mux, Scripts.load(mux))
        await mux.execute("DEL", "fuzz:feed", "fuzz:string")
        await mux.execute("XADD", "fuzz:feed", "*", "p", b"\x80")
        with pytest.raises(BadRequest, match="not a valid feed id"):
            await feeds.after("fuzz:feed", "not-an-id", 10)  # inside a script
        with pytest.raises(BadRequest, match="out of range"):
            await feeds.oldest("fuzz:feed", -(2**70))  # COUNT past a 64-bit integer
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("script feed_read" in w and "Feeds.after" in w for w in warnings)
        assert any("XRANGE" in w and "Feeds.oldest" in w for w in warnings)
        # Each names where it came from: this test's frame is in the stack.
        assert all("test_bad_input.py" in w for w in warnings), warnings
        await mux.execute("SET", "fuzz:string", "1")
        with pytest.raises(CommandError, match="WRONGTYPE"):  # a key of the server's making
            await feeds.latest("fuzz:string", 10)
    finally:
        await mux.aclose()


async def test_a_refused_value_stays_loud_where_no_client_value_goes(
    redis_server: RedisProcess,
) -> None:
    """Upkeep and worker paths pass only the server's own values: a refusal there is a bug
    (INTERNAL with its traceback), not a client's BAD_REQUEST."""
    mux = RedisMux(redis_server.url)
    try:

        @translate_redis_errors
        async def bad_count() -> None:
            await mux.execute("XRANGE", "fuzz:feed", "-", "+", "COUNT", "many")

        @translate_redis_errors
        async def buggy() -> None:
            await mux.execute("NO-SUCH-COMMAND")

        with pytest.raises(CommandError, match="not an integer"):
            await bad_count()
        with pytest.raises(CommandError):  # a bug stays a bug
            await buggy()
    finally:
        await mux.aclose()


# --- names and texts ------------------------------------------------------------------

NFD_NAME = "Zoe\u0301"  # "Zoé" typed as e + combining acute
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji, joined by ZWJ
REFUSED_IN_ANY_TEXT = {
    "bidi override": "abc\u202edcba",
    "bidi isolate": "abc\u2066x\u2069",
    "zero-width space": "ab\u200bcd",
    "byte order mark": "\ufeffab",
    "NUL": "ab\x00cd",
    "escape": "ab\x1b[31mcd",
    "carriage return": "ab\rcd",
    "C1 next line": "ab\x85cd",
    "C1 CSI": "ab\x9bcd",
    "line separator": "ab\u2028cd",
    "paragraph separator": "ab\u2029cd",
    "joiner at the end": "ab\u200d",
    "joiner beside a space": "ab \u200dcd",
    "private use": "ab\ue000",
}


@pytest.mark.parametrize("text", REFUSED_IN_ANY_TEXT.values(), ids=REFUSED_IN_ANY_TEXT.keys())
def test_the_validator_refuses_invisible_and_reordering_characters(text: str) -> None:
    for multiline in (False, True):
        with pytest.raises(BadRequest) as refused:
            clean_text(text, field="text", max_len=50, multiline=multiline)
        assert refused.value.message.startswith("text: ")
        assert "U+" in refused.value.message  # names the code point


def test_the_validator_normalises_trims_and_counts_after_normalising() -> None:
    assert clean_text(f"  {NFD_NAME}\t", field="name", max_len=4) == "Zo\u00e9"
    assert clean_text(FAMILY, field="name", max_len=5) == FAMILY  # ZWJ between emoji
    assert clean_text("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", field="name",
                      max_len=24) == "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # fmt: skip
    assert clean_text(NFD_NAME, field="name", max_len=3) == "Zo\u00e9"  # 4 code points typed
    with pytest.raises(BadRequest, match="must be 1 to 2 characters after trimming"):
        clean_text(NFD_NAME, field="name", max_len=2)
    with pytest.raises(BadRequest, match="name: must be 1 to 24"):
        clean_text(" \t ", field="name", max_len=24)
    with pytest.raises(BadRequest, match="name: must be a string"):
        clean_text(7, field="name", max_len=24)
    # Names take only the plain space; chat takes others, and line feeds and tabs inside.
    with pytest.raises(BadRequest, match="plain space"):
        clean_text("a\u00a0b", field="name", max_len=24)
    assert clean_text("a\u00a0b\nc\td", field="text", max_len=24, multiline=True) == (
        "a\u00a0b\nc\td"
    )
    with pytest.raises(BadRequest, match="control characters"):
        clean_text("a\nb", field="name", max_len=24)


async def test_player_names_are_normalised_and_refused_over_http(arena: str) -> None:
    status, body = await http_json(
        "POST", arena + "/v1/auth/guest", json={"device_id": new_device(), "name": NFD_NAME}
    )
    assert status == 200
    assert body["name"] == "Zo\u00e9"
    for name in ("evil\u202egnp.exe", "a\x00b", "\u200b", "tab\tname", "a\x85b"):
        status, body = await http_json(
            "POST", arena + "/v1/auth/guest", json={"device_id": new_device(), "name": name}
        )
        assert status == 400, name
        assert body["error"]["code"] == "BAD_REQUEST"
        assert body["error"]["message"].startswith("name: ")
    # Names need not be unique: two players may both be "Zoé".
    _, again = await http_json(
        "POST", arena + "/v1/auth/guest", json={"device_id": new_device(), "name": "Zo\u00e9"}
    )
    assert again["name"] == "Zo\u00e9"
    assert again["player_id"] != body.get("player_id")


@pytest.mark.parametrize("fmt", [Format.MSGPACK, Format.JSON])
async def test_lobby_names_are_normalised_and_refused(start_arena: StartArena, fmt: Format) -> None:
    arena = await start_arena(rate_limits="lobby.create=100/100")
    _, client = await connect(arena, "alice", fmt=fmt)
    async with client:
        for name in ("\u202eyddub", "line\nbreak", "a\x9bb", "   ", "x" * 33):
            with pytest.raises(ArenaError) as refused:
                await client.request("lobby.create", mode="duel", capacity=2, name=name)
            assert refused.value.code == "BAD_REQUEST"
            assert refused.value.message.startswith("name: ")
        lobby = (
            await client.request("lobby.create", mode="duel", capacity=2, name=f" {NFD_NAME}'s ")
        )["lobby"]
        assert lobby["name"] == "Zo\u00e9's"
        assert (await client.request("lobby.get", lobby_id=lobby["lobby_id"]))["lobby"][
            "name"
        ] == "Zo\u00e9's"


@pytest.mark.parametrize("fmt", [Format.MSGPACK, Format.JSON])
async def test_chat_texts_are_normalised_and_refused(start_arena: StartArena, fmt: Format) -> None:
    arena = await start_arena(rate_limits="chat.send=100/100")
    _, client = await connect(arena, "alice", fmt=fmt)
    async with client:
        await client.request("chat.join", room="general")
        for text in REFUSED_IN_ANY_TEXT.values():
            with pytest.raises(ArenaError) as refused:
                await client.request("chat.send", room="general", text=text)
            assert refused.value.code == "BAD_REQUEST"
            assert refused.value.message.startswith("text: ")
        await client.request("chat.send", room="general", text=f"gg {NFD_NAME}\n{FAMILY}\tok")
        message = await client.next_push("chat.message")
        assert message["text"] == f"gg Zo\u00e9\n{FAMILY}\tok"
        history = (await client.request("chat.history", room="general"))["messages"]
        assert [m["text"] for m in history] == [message["text"]]


async def test_a_json_lone_surrogate_is_a_bad_frame_not_internal(
    arena: str, caplog: pytest.LogCaptureFixture
) -> None:
    player = await login(arena)
    auth = {"Authorization": "Bearer " + player.token}
    url = f"{arena}/v1/ws"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=auth) as ws:
        sends = [
            '{"op":"lobby.create","rid":1,"mode":"duel","capacity":2,"name":"a\\ud800"}',
            '{"op":"chat.send","rid":2,"room":"general","text":"\\udfff"}',
            '{"op":"match.send","rid":3,"match_id":"0","type":"t","data":{"\\ud800":1}}',
        ]
        for frame in sends:
            await ws.send_str(frame)
            reply = json.loads(await ws.receive_str(timeout=5))
            assert reply["ok"] is False
            assert reply["error"]["code"] == "BAD_FRAME"
        await ws.send_str('{"op":"ping","rid":4,"x":"\\ud83d\\ude00"}')  # a pair is fine
        assert json.loads(await ws.receive_str(timeout=5))["ok"] is True
    assert tracebacks(caplog) == []


async def test_a_request_aiohttp_cannot_parse_logs_one_line_not_a_traceback(
    arena: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    host, port = arena.removeprefix("http://").split(":")
    for request in (
        f"GET /v1/leaderboards/global/top?period={'x' * 9000} HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nBroken header line\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: \x00\x01\r\n\r\n",
    ):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request.encode("latin-1"))
        status_line = await reader.readline()
        writer.close()
        await writer.wait_closed()
        assert status_line.split()[1].startswith(b"4"), status_line
    assert tracebacks(caplog) == []
    refused = [r.getMessage() for r in caplog.records if r.name == "aiohttp.server"]
    assert len(refused) == 3
    assert all("Error handling request" in line and "400" in line for line in refused)
    assert not any("xxxx" in line for line in refused)  # the client's bytes stay out
