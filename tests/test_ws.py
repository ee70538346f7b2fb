"""The socket as a game client sees it: auth, envelopes, both encodings, errors, limits."""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp
import msgpack
import pytest
import redis as redis_sync
from aiohttp import web

from client_sim.client import ArenaClient, ArenaError, ConnectionClosed
from server.app import create_app
from server.embedded_redis import RedisProcess
from server.protocol import Format
from server.storage import keys
from tests.conftest import StartArena, settings_for_test
from tests.helpers import connect, eventually, login


async def raw_socket(
    http: aiohttp.ClientSession, base_url: str, token: str
) -> aiohttp.ClientWebSocketResponse:
    return await http.ws_connect(base_url + "/v1/ws", headers={"Authorization": f"Bearer {token}"})


async def test_missing_unknown_or_revoked_tokens_get_401_before_the_upgrade(arena: str) -> None:
    async with aiohttp.ClientSession() as http:
        for query in ("", "?token=", "?token=nope"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(arena + "/v1/ws" + query)
            assert refused.value.status == 401


async def test_token_in_the_query_string_opens_the_socket(arena: str) -> None:
    player = await login(arena)
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{arena}/v1/ws?token={player.token}") as ws,
    ):
        await ws.send_str(json.dumps({"op": "ping", "rid": 7}))
        reply = json.loads(await ws.receive_str(timeout=5))
        assert reply["rid"] == 7
        assert reply["ok"] is True
        assert isinstance(reply["server_time_ms"], int)


async def test_each_reply_uses_the_frame_type_of_its_request(arena: str) -> None:
    player = await login(arena)
    async with aiohttp.ClientSession() as http, await raw_socket(http, arena, player.token) as ws:
        await ws.send_bytes(msgpack.packb({"op": "ping", "rid": 1}))
        binary = await ws.receive(timeout=5)
        assert binary.type is aiohttp.WSMsgType.BINARY
        assert msgpack.unpackb(binary.data)["rid"] == 1
        await ws.send_str(json.dumps({"op": "ping", "rid": 2}))
        text = await ws.receive(timeout=5)
        assert text.type is aiohttp.WSMsgType.TEXT
        assert json.loads(text.data)["rid"] == 2


@pytest.mark.parametrize("fmt", [Format.MSGPACK, Format.JSON])
async def test_session_get_describes_the_player(arena: str, fmt: Format) -> None:
    player, client = await connect(arena, "dana", fmt=fmt)
    async with client:
        session = await client.request("session.get")
        assert session["player_id"] == player.player_id
        assert session["name"] == "dana"
        assert 0 < session["expires_in"] <= 3600


@pytest.mark.parametrize("fmt", [Format.MSGPACK, Format.JSON])
async def test_unknown_op_and_bad_fields_get_stable_codes(arena: str, fmt: Format) -> None:
    _, client = await connect(arena, fmt=fmt)
    async with client:
        with pytest.raises(ArenaError) as unknown:
            await client.request("teleport")
        assert unknown.value.code == "UNKNOWN_OP"
        with pytest.raises(ArenaError) as bad:
            await client.request("presence.get", player_ids="not-a-list")
        assert bad.value.code == "BAD_REQUEST"
        assert "player_ids" in bad.value.message
        with pytest.raises(ArenaError) as missing:
            await client.request("presence.get")
        assert missing.value.code == "BAD_REQUEST"
        assert "player_ids" in missing.value.message
        # The socket is still fine after every refusal.
        assert "server_time_ms" in await client.request("ping")


async def test_envelope_errors_name_the_field(arena: str) -> None:
    player = await login(arena)
    async with aiohttp.ClientSession() as http, await raw_socket(http, arena, player.token) as ws:
        await ws.send_str(json.dumps({"rid": 1}))
        reply = json.loads(await ws.receive_str(timeout=5))
        assert reply == {
            "rid": 1,
            "ok": False,
            "error": {"code": "BAD_REQUEST", "message": "op: required, a string"},
        }
        await ws.send_str(json.dumps({"op": "ping", "rid": "one"}))
        reply = json.loads(await ws.receive_str(timeout=5))
        assert reply["rid"] == "one"  # echoed as given, so the client can still match it
        assert reply["error"]["code"] == "BAD_REQUEST"
        assert "rid" in reply["error"]["message"]


async def test_garbage_bytes_get_bad_frame_and_the_socket_stays_open(arena: str) -> None:
    player = await login(arena)
    async with aiohttp.ClientSession() as http, await raw_socket(http, arena, player.token) as ws:
        for garbage in (b"\xc1\xff\x00garbage", msgpack.packb([1, 2, 3]), b""):
            await ws.send_bytes(garbage)
            reply = msgpack.unpackb((await ws.receive(timeout=5)).data)
            assert reply["ok"] is False
            assert reply["error"]["code"] == "BAD_FRAME"
            assert "rid" not in reply
        await ws.send_str("{this is not json")
        reply = json.loads(await ws.receive_str(timeout=5))
        assert reply["error"]["code"] == "BAD_FRAME"
        await ws.send_bytes(msgpack.packb({"op": "ping", "rid": 9}))
        assert msgpack.unpackb((await ws.receive(timeout=5)).data)["ok"] is True


async def test_fire_and_forget_gets_no_success_reply_but_does_get_failures(arena: str) -> None:
    _, client = await connect(arena)
    async with client:
        await client.send("ping")  # no rid: no reply on success
        await client.send("teleport")  # no rid: the failure still comes back
        await client.request("ping")  # replies keep order, so anything owed has arrived
        failure = client.errors.get_nowait()
        assert failure["error"]["code"] == "UNKNOWN_OP"
        assert "rid" not in failure
        assert client.errors.empty()


async def test_an_oversized_frame_closes_the_socket_with_1009(start_arena: StartArena) -> None:
    arena = await start_arena(max_frame_bytes=1024)
    _, client = await connect(arena)
    async with client:
        await client.request("ping", pad="x" * 900)  # under the limit
        await client.send("ping", pad="x" * 2000)
        assert await client.wait_closed() == 1009


async def test_a_flood_of_messages_is_rate_limited_with_a_true_retry_after(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(msg_rate_burst=5, msg_rate_per_s=2.0)
    _, client = await connect(arena)
    async with client:
        for _ in range(5):
            await client.request("ping")
        with pytest.raises(ArenaError) as limited:
            await client.request("ping")
        assert limited.value.code == "RATE_LIMITED"
        assert limited.value.retry_after_ms is not None
        assert 0 < limited.value.retry_after_ms <= 501
        # Waiting as told is what is tested: the limit runs on Redis's clock (TIME in
        # lua/lib/gcra.lua), which no test can move.
        await asyncio.sleep(limited.value.retry_after_ms / 1000)
        assert "server_time_ms" in await client.request("ping")


async def test_garbage_frames_count_against_the_message_rate(start_arena: StartArena) -> None:
    arena = await start_arena(msg_rate_burst=3, msg_rate_per_s=0.5)
    player = await login(arena)
    async with aiohttp.ClientSession() as http, await raw_socket(http, arena, player.token) as ws:
        codes = []
        for _ in range(5):
            await ws.send_bytes(b"\xc1garbage")
            codes.append(msgpack.unpackb((await ws.receive(timeout=5)).data)["error"]["code"])
        assert codes == ["BAD_FRAME"] * 3 + ["RATE_LIMITED"] * 2


async def assert_replaced(older: ArenaClient, newer: ArenaClient) -> None:
    """The older socket hears session.replaced and closes 4001; the newer one serves."""
    assert (await older.next_push("session.replaced"))["ev"] == "session.replaced"
    assert await older.wait_closed() == 4001
    assert "server_time_ms" in await newer.request("ping")


async def test_one_socket_per_player_the_newer_replaces_the_older(arena: str) -> None:
    player = await login(arena)
    first = await ArenaClient.connect(arena, player.token)
    await first.request("ping")
    async with await ArenaClient.connect(arena, player.token) as second:
        await assert_replaced(first, second)
    await first.close()


async def test_pushes_are_binary_before_any_request(arena: str) -> None:
    player = await login(arena)
    async with aiohttp.ClientSession() as http:
        first = await raw_socket(http, arena, player.token)
        second = await raw_socket(http, arena, player.token)
        push = await first.receive(timeout=5)
        assert push.type is aiohttp.WSMsgType.BINARY
        assert msgpack.unpackb(push.data) == {"ev": "session.replaced"}
        await second.close()
        await first.close()


async def test_a_socket_whose_session_is_gone_is_closed_4003(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(session_touch_interval_s=0.05)
    _, client = await connect(arena)
    async with client:
        await client.request("ping")
        for key in redis_client.keys("arena:session:*"):
            redis_client.delete(key)  # as if it expired

        async def closed_by_a_message() -> bool:
            # The first message past the touch interval refreshes the session, finds it
            # gone and closes the socket; one within the interval is served.
            with contextlib.suppress(ConnectionClosed):
                await client.request("ping")
            return client.close_code is not None

        await eventually(closed_by_a_message, within_s=5, every_s=0.01)
        assert await client.wait_closed() == 4003


async def test_a_socket_older_than_the_presence_ttl_is_still_the_players_one(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(presence_interval_s=0.1, presence_ttl_s=0.4)
    player = await login(arena)
    first = await ArenaClient.connect(arena, player.token)
    await first.request("ping")
    claim = keys.live_socket(player.player_id)
    lapses_ms = int(redis_client.pexpiretime(claim))
    assert lapses_ms > 0

    async def past_the_first_ttl() -> bool:
        # By Redis's clock, the claim as first made has lapsed: only the node's heartbeats
        # can have kept it.
        seconds, micros = redis_client.time()
        return bool(seconds * 1000 + micros // 1000 > lapses_ms)

    await eventually(past_the_first_ttl, within_s=5, every_s=0.02)
    async with await ArenaClient.connect(arena, player.token) as second:
        await assert_replaced(first, second)
    await first.close()


async def test_pushes_use_the_encoding_of_the_clients_last_request(arena: str) -> None:
    player = await login(arena)
    async with aiohttp.ClientSession() as http:
        first = await raw_socket(http, arena, player.token)
        await first.send_str(json.dumps({"op": "ping", "rid": 1}))
        await first.receive_str(timeout=5)
        second = await raw_socket(http, arena, player.token)
        push = await first.receive(timeout=5)
        assert push.type is aiohttp.WSMsgType.TEXT  # the last request was JSON
        assert json.loads(push.data) == {"ev": "session.replaced"}
        await second.close()
        await first.close()


async def test_server_shutdown_tells_every_socket_then_closes_1001(
    redis_server: RedisProcess, redis_client: object
) -> None:
    # A server of this test's own, so that the test can stop it.
    runner = web.AppRunner(
        create_app(settings_for_test(redis_url=redis_server.url)), shutdown_timeout=2
    )
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    clients = [(await connect(base, f"p{i}"))[1] for i in range(3)]
    for client in clients:
        await client.request("ping")
    await runner.cleanup()
    for client in clients:
        push = await client.next_push("server.shutdown")
        assert push["reconnect"] is True
        assert await client.wait_closed() == 1001
        await client.close()


async def test_a_peer_that_stops_answering_pings_is_dropped(start_arena: StartArena) -> None:
    arena = await start_arena(heartbeat_s=0.2)
    _, watcher = await connect(arena, "watcher")
    dead = await login(arena, "dead")
    async with watcher, aiohttp.ClientSession() as http:
        # autoping=False: this client never answers the server's pings, like a vanished phone.
        ws = await http.ws_connect(
            arena + "/v1/ws", headers={"Authorization": f"Bearer {dead.token}"}, autoping=False
        )
        await ws.send_bytes(msgpack.packb({"op": "ping", "rid": 1}))
        async with asyncio.timeout(5):
            while (await ws.receive()).type not in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
            ):
                pass  # the ping reply, then the server's pings, then the end

        async def only_watcher_online() -> bool:
            reply = await watcher.request("presence.get", player_ids=[dead.player_id])
            return bool(reply["players"][dead.player_id] is False and reply["online"] == 1)

        await eventually(only_watcher_online, within_s=2)
        await ws.close()


async def test_a_reader_that_stops_reading_is_cut_off_and_others_carry_on(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(
        outbox_bytes=64 * 1024, msg_rate_burst=100_000, msg_rate_per_s=100_000.0
    )
    stalled = await login(arena, "stalled")
    _, healthy = await connect(arena, "healthy")
    # Every reply lists 100 long ids: about 7 KB each.
    request = msgpack.packb(
        {"op": "presence.get", "rid": 1, "player_ids": [f"{i:064d}" for i in range(100)]}
    )
    async with healthy, aiohttp.ClientSession() as http:
        ws = await raw_socket(http, arena, stalled.token)
        # The client reads nothing while it asks for far more than the socket buffers hold
        # (3000 replies, about 20 MB). Once the server has cut it off it stops reading too,
        # and the client's sends stall: that is when this client starts reading.
        with contextlib.suppress(TimeoutError):
            for sent in range(3000):
                await asyncio.wait_for(ws.send_bytes(request), 2)
                if sent % 500 == 0:  # meanwhile, another player is served as usual
                    assert "server_time_ms" in await healthy.request("ping")
        async with asyncio.timeout(30):
            while (msg := await ws.receive()).type is aiohttp.WSMsgType.BINARY:
                pass
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4008
        assert "server_time_ms" in await healthy.request("ping")


async def test_a_peer_that_never_reads_again_is_dropped_within_the_grace(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(
        outbox_bytes=64 * 1024,
        msg_rate_burst=100_000,
        msg_rate_per_s=100_000.0,
        shutdown_grace_s=1.0,
    )
    stalled = await login(arena, "stalled")
    _, watcher = await connect(arena, "watcher")
    request = msgpack.packb(
        {"op": "presence.get", "rid": 1, "player_ids": [f"{i:064d}" for i in range(100)]}
    )
    async with watcher, aiohttp.ClientSession() as http:
        ws = await raw_socket(http, arena, stalled.token)
        # The sends stall once the server stops reading, or fail once it drops the peer.
        with contextlib.suppress(TimeoutError, ConnectionError):
            for _ in range(3000):
                await asyncio.wait_for(ws.send_bytes(request), 2)

        async def stalled_is_gone() -> bool:
            reply = await watcher.request("presence.get", player_ids=[stalled.player_id])
            return bool(reply["players"][stalled.player_id] is False)

        # It never reads its close frame either: the server drops it after the grace.
        await eventually(stalled_is_gone, within_s=1.0 + 2.0)
        await ws.close()


async def test_a_socket_opened_with_format_json_gets_its_first_pushes_as_text(
    arena: str,
) -> None:
    jo, first_socket = await connect(arena, "jo")
    lobby = (await first_socket.request("lobby.create", mode="duel", capacity=3))["lobby"]
    await first_socket.close()
    _, bo = await connect(arena, "bo")
    async with (
        bo,
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{arena}/v1/ws?format=json&token={jo.token}") as ws,
    ):
        await bo.request("lobby.join", lobby_id=lobby["lobby_id"])
        # jo's new socket has sent nothing yet: the push still comes as text.
        pushed = await ws.receive(timeout=5)
        assert pushed.type is aiohttp.WSMsgType.TEXT
        assert json.loads(pushed.data)["ev"] == "lobby.updated"
