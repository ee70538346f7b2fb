"""A mode's ``push_window_ms``: match events wait up to that long on a socket so that
several leave in one write; replies and other pushes still leave at the turn's end and
take what waits with them, in order."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import web

from server.connection import Connection, FloodGate, Flusher
from server.identity import Identity
from server.protocol import Frame, push
from server.setting_errors import SettingError
from server.settings import Settings
from tests.conftest import StartArena
from tests.helpers import start_match


def test_a_mode_takes_a_push_window_of_0_to_50_ms() -> None:
    raw = json.dumps({"fast": {"push_window_ms": 10}, "slow": {"push_window_ms": 50}})
    book = Settings.from_env({"ARENA_MODES": raw}).mode_book()
    assert book.spec_for("fast").push_window_ms == 10
    assert book.spec_for("slow").push_window_ms == 50
    assert book.spec_for("other").push_window_ms == 0  # the default: every turn
    for bad in (-1, 51, 2.5, True, "10"):
        with pytest.raises(SettingError, match="mode 'fast': push_window_ms must be an integer"):
            Settings.from_env({"ARENA_MODES": json.dumps({"fast": {"push_window_ms": bad}})})


async def _socket_pair() -> tuple[Connection, socket.socket, Flusher]:
    """A Connection on one end of a real socket pair; the other end, to read what it wrote."""
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=ours)
    flusher = Flusher()
    conn = Connection(
        web.WebSocketResponse(),  # never used here: nothing closes the socket
        transport,
        identity=Identity("p1", "p1"),
        session_hash="s",
        outbox_bytes=1 << 20,
        flood_gate=FloodGate(10, 10.0),
        flusher=flusher,
    )
    return conn, theirs, flusher


def _read_now(peer: socket.socket) -> bytes:
    try:
        return peer.recv(1 << 16)
    except BlockingIOError:
        return b""


async def _turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_pushes_with_a_window_wait_for_it_and_a_turns_write_takes_them_along() -> None:
    conn, peer, _ = await _socket_pair()
    frames = [Frame(push("match.event", n=n)) for n in range(4)]
    for frame in frames[:3]:
        conn.push(frame, within_s=30.0)  # a window far longer than this test
    await _turns(5)
    assert _read_now(peer) == b""  # still waiting: not written at the turn's end
    conn.push(frames[3])  # a push of the turn (or a reply) writes everything queued
    await _turns(5)
    expected = b"".join(frame.wire(conn.push_format) for frame in frames)
    assert _read_now(peer) == expected  # in order, in one write
    peer.close()


async def test_pushes_with_a_window_are_written_when_it_closes() -> None:
    conn, peer, flusher = await _socket_pair()
    frames = [Frame(push("match.event", n=n)) for n in range(3)]
    for frame in frames:
        conn.push(frame, within_s=0.01)
    loop = asyncio.get_running_loop()
    got = b""
    expected = b"".join(frame.wire(conn.push_format) for frame in frames)
    while len(got) < len(expected):
        got += await loop.sock_recv(peer, 1 << 16)
    assert got == expected
    assert not flusher._waiting  # the window's timer is spent; the next push starts one
    peer.close()


async def test_a_match_in_a_windowed_mode_delivers_every_event_once_in_order(
    start_arena: StartArena,
) -> None:
    url = await start_arena(modes=json.dumps({"windowed": {"push_window_ms": 20}}))
    match_id, clients, _ = await start_match([url], 2, mode="windowed")
    sender, other = clients
    try:
        for seq in range(30):
            await sender.send("match.send", match_id=match_id, type="move", data=seq)
        for client in clients:  # the sender gets its own events too
            got = [(await client.next_push("match.event"))["data"] for _ in range(30)]
            assert got == list(range(30))
        reply = await other.request("match.send", match_id=match_id, type="move", data=30)
        assert (await sender.next_push("match.event"))["id"] == reply["id"]
    finally:
        for client in clients:
            await client.close()
