"""Bad input as a client sends it: feed ids at the edges, values Redis refuses, odd texts.

Each gets a clear error (or a plain answer), never INTERNAL, and the server logs no
traceback for it.
"""

from __future__ import annotations

import logging

import pytest

from client_sim.client import ArenaClient, ArenaError
from server.embedded_redis import RedisProcess
from server.errors import BadRequest
from server.protocol import FEED_ID_MAX, Format, next_feed_id
from server.storage.connection import translate_redis_errors
from server.storage.feeds import Feeds
from server.storage.mux import CommandError, RedisMux
from server.storage.scripts import Scripts
from tests.conftest import StartArena
from tests.helpers import connect, start_match

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


async def test_an_error_reply_that_input_causes_becomes_bad_request_and_a_warning(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """The general rule under every store: Redis refusing a value is BAD_REQUEST (logged at
    warning with the command), while any other error reply stays a loud bug."""
    mux = RedisMux(redis_server.url)
    try:
        feeds = Feeds(mux, Scripts.load(mux))
        await mux.execute("DEL", "fuzz:feed", "fuzz:string")
        await mux.execute("XADD", "fuzz:feed", "*", "p", b"\x80")
        with pytest.raises(BadRequest, match="not a valid feed id"):
            await feeds.after("fuzz:feed", "not-an-id", 10)  # inside a script
        await mux.execute("SET", "fuzz:string", "1")
        with pytest.raises(BadRequest, match="another kind"):
            await feeds.latest("fuzz:string", 10)  # WRONGTYPE
        with pytest.raises(BadRequest, match="out of range"):
            await feeds.oldest("fuzz:feed", -(2**70))  # COUNT past a 64-bit integer
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("script feed_read" in w and "Feeds.after" in w for w in warnings)
        assert any("XREVRANGE" in w for w in warnings)
        assert any("XRANGE" in w and "Feeds.oldest" in w for w in warnings)

        @translate_redis_errors
        async def buggy() -> None:
            await mux.execute("NO-SUCH-COMMAND")

        with pytest.raises(CommandError):  # a bug stays a bug
            await buggy()
    finally:
        await mux.aclose()
