"""``python -m client_sim.transcript [--out docs/clients.md]``: a real session, recorded.

Starts a private Arena (its own redis-server and ``python -m server`` on free ports,
with a relayed two-player mode whose results the players agree on), then plays one
end-to-end session with two players over raw aiohttp sockets: guest login, socket
ticket, socket, quick-join, ready, match events, results, the end and what follows.
It runs twice, once with JSON text frames and once with msgpack binary frames, and
records every frame both ways: text as it went on the wire, binary as hex beside its
JSON reading. The records replace the transcript sections of docs/clients.md (between
``<!-- transcript:json -->`` and ``<!-- /transcript:json -->``, msgpack likewise); the
prose around them stays. Tokens, ids and times are whatever the run produced.

The raw sockets here are on purpose: ``ArenaClient`` would hide the frames a client
in another language has to produce and read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgpack

from client_sim.demo import start_server, stop_server, wait_ready
from server.embedded_redis import RedisProcess, free_port
from server.protocol import Format, Message, decode

DOC = Path(__file__).resolve().parent.parent / "docs" / "clients.md"
MODE = "duel"
# Relayed (no game), two seats, started by both pressing Ready, ended by consensus.
MODES = {MODE: {"capacity": 2, "results": "consensus", "result_wait_s": 15}}
WAIT_S = 10.0  # the longest any expected frame may take
SETTLE_S = 0.3  # after a step's expected frames: room for stray ones to land in it
HEX_PER_LINE = 24
SHOWN_HEADERS = ("Content-Type",)


@dataclass(slots=True)
class Record:
    """One thing on the wire: ``who`` sent (``→``) or received (``←``) it."""

    who: str
    arrow: str
    head: str  # "text", "binary", "POST /v1/auth/guest", "200 OK", "close 1000", ...
    body: str | bytes | None = None
    lines: list[str] = field(default_factory=list)  # headers shown below the head


@dataclass(slots=True)
class Step:
    caption: str
    records: list[Record] = field(default_factory=list)


class Recorder:
    """Steps in the order they were played, each with the frames seen during it."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def step(self, caption: str) -> None:
        self.steps.append(Step(caption))

    def add(self, record: Record) -> None:
        self.steps[-1].records.append(record)


class Player:
    """One player on a raw socket: frames sent and received are recorded as they go."""

    def __init__(self, name: str, fmt: Format, tape: Recorder, http: aiohttp.ClientSession):
        self.name = name
        self.fmt = fmt
        self.tape = tape
        self.http = http
        self.token = ""
        self.player_id = ""
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.inbox: list[Message] = []
        self._arrived = asyncio.Event()
        self._rid = 0
        self._reader: asyncio.Task[None] | None = None
        self._closing = False

    async def http_call(
        self, method: str, base: str, path: str, body: Message | None, auth: bool
    ) -> Message:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        shown = [f"{k}: {v}" for k, v in headers.items()]
        self.tape.add(Record(self.name, "→", f"{method} {path}", data, shown))
        async with self.http.request(method, base + path, data=data, headers=headers) as resp:
            text = await resp.text()
            shown = [f"{k}: {resp.headers[k]}" for k in SHOWN_HEADERS if k in resp.headers]
            self.tape.add(Record(self.name, "←", f"{resp.status} {resp.reason}", text, shown))
            if resp.status != 200:
                raise RuntimeError(f"{method} {path}: {resp.status} {text}")
            reply: Message = json.loads(text)
            return reply

    async def log_in(self, base: str, device_id: str) -> None:
        body = {"device_id": device_id, "name": self.name}
        reply = await self.http_call("POST", base, "/v1/auth/guest", body, auth=False)
        self.token, self.player_id = reply["token"], reply["player_id"]

    async def open_socket(self, base: str) -> None:
        reply = await self.http_call("POST", base, "/v1/ws/ticket", None, auth=True)
        query = f"?ticket={reply['ticket']}"
        if self.fmt is Format.JSON:
            query += "&format=json"  # pushes before the first request come as text too
        self.tape.add(Record(self.name, "→", f"GET /v1/ws{query}"))
        ws_base = "ws" + base.removeprefix("http")
        self.ws = await self.http.ws_connect(ws_base + "/v1/ws" + query, max_msg_size=0)
        # ws_connect returns only once the server answered 101.
        self.tape.add(Record(self.name, "←", "101 Switching Protocols"))
        self._reader = asyncio.create_task(self._read(self.ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.tape.add(Record(self.name, "←", "text", msg.data))
                self.inbox.append(decode(msg.data, Format.JSON))
            elif msg.type is aiohttp.WSMsgType.BINARY:
                self.tape.add(Record(self.name, "←", "binary", msg.data))
                self.inbox.append(decode(msg.data, Format.MSGPACK))
            self._arrived.set()
        if not self._closing:  # the server closed it (our own close is recorded by close())
            self.tape.add(Record(self.name, "←", f"close {ws.close_code}"))

    async def send(self, op: str, rid: bool = True, **fields: Any) -> int | None:
        """Send one request; its rid (None: fire-and-forget)."""
        assert self.ws is not None
        message: Message = {"op": op}
        number = None
        if rid:
            self._rid += 1
            number = message["rid"] = self._rid
        message.update(fields)
        if self.fmt is Format.JSON:
            text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
            self.tape.add(Record(self.name, "→", "text", text))
            await self.ws.send_str(text)
        else:
            data: bytes = msgpack.packb(message, use_bin_type=True)
            self.tape.add(Record(self.name, "→", "binary", data))
            await self.ws.send_bytes(data)
        return number

    async def expect(self, wanted: Callable[[Message], bool], what: str) -> Message:
        """The first frame received (now or within WAIT_S) that ``wanted`` accepts."""
        try:
            async with asyncio.timeout(WAIT_S):
                while True:
                    for message in self.inbox:
                        if wanted(message):
                            self.inbox.remove(message)
                            return message
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            raise RuntimeError(f"{self.name}: no {what} within {WAIT_S:.0f} s") from None

    async def request(self, op: str, **fields: Any) -> Message:
        rid = await self.send(op, **fields)
        reply = await self.expect(lambda m: m.get("rid") == rid and "ok" in m, f"reply to {op}")
        if not reply["ok"]:
            raise RuntimeError(f"{self.name} {op}: {reply['error']}")
        return reply

    async def push(self, ev: str) -> Message:
        return await self.expect(lambda m: m.get("ev") == ev, ev)

    async def close(self) -> None:
        """Close the socket as a client should: a close frame with 1000, the server's echo."""
        assert self.ws is not None
        assert self._reader is not None
        self._closing = True
        self.tape.add(Record(self.name, "→", "close 1000"))
        await self.ws.close()
        await self._reader
        self.tape.add(Record(self.name, "←", f"close {self.ws.close_code}"))


async def settle() -> None:
    await asyncio.sleep(SETTLE_S)


async def play(base: str, fmt: Format) -> Recorder:
    """One whole session of two players, every frame recorded."""
    tape = Recorder()
    async with aiohttp.ClientSession() as http:
        alice, bob = (Player(name, fmt, tape, http) for name in ("alice", "bob"))
        for player in (alice, bob):
            tape.step(f"{player.name} logs in as a guest (HTTP)")
            await player.log_in(base, f"docs-{player.name}-{fmt}-device")
        for player in (alice, bob):
            tape.step(f"{player.name} gets a socket ticket (HTTP), then opens the socket")
            await player.open_socket(base)
            await settle()
        tape.step(f"alice quick-joins a lobby of the mode {MODE!r} (a new one: it was empty)")
        await alice.request("lobby.quickjoin", mode=MODE)
        await settle()
        tape.step("bob quick-joins: he gets the same lobby; alice hears of it")
        await bob.request("lobby.quickjoin", mode=MODE)
        await alice.push("lobby.updated")
        await settle()
        tape.step("alice is ready")
        await alice.request("lobby.ready", ready=True)
        await bob.push("lobby.updated")
        await settle()
        tape.step("bob is ready: everyone is, so the match starts (match.started to both)")
        await bob.request("lobby.ready", ready=True)
        started = await alice.push("match.started")
        await bob.push("match.started")
        match_id = started["match_id"]
        await settle()
        tape.step("alice sends a move without rid (fire-and-forget): the echo is her ack")
        data = {"x": 3, "y": -7, "speed": 1.5, "tags": ["dash"]}
        await alice.send("match.send", rid=False, match_id=match_id, type="move", data=data)
        first = await alice.push("match.event")
        await bob.push("match.event")
        await settle()
        tape.step("bob sends a move with a rid: the reply carries the event's feed id")
        await bob.request("match.send", match_id=match_id, type="move", data={"x": 4, "y": 7})
        await alice.push("match.event")
        await settle()
        scores = {alice.player_id: 3, bob.player_id: 1}
        tape.step("alice reports the result: taken, the match runs on until bob agrees")
        await alice.request("match.result", match_id=match_id, scores=scores)
        await settle()
        tape.step(
            "bob reports the same scores: consensus, the match ends (match.ended); then the "
            "results worker puts the result on the boards and notifies each player (notify)"
        )
        await bob.request("match.result", match_id=match_id, scores=scores)
        await alice.push("match.ended")
        await bob.push("match.ended")
        note = await alice.push("notify")
        await bob.push("notify")
        await settle()
        tape.step("catching up: alice reads the match's feed after the first event's id")
        await alice.request("match.feed", match_id=match_id, after=first["id"])
        tape.step("alice acknowledges her note, and both close their sockets")
        await alice.request("notify.ack", id=note["id"])
        for player in (alice, bob):
            await player.close()
    return tape


def hex_lines(data: bytes) -> list[str]:
    return [
        " ".join(f"{b:02x}" for b in data[i : i + HEX_PER_LINE])
        for i in range(0, len(data), HEX_PER_LINE)
    ]


def render_record(record: Record) -> list[str]:
    pad = " " * (len(record.who) + 3)
    if isinstance(record.body, bytes):
        reading = msgpack.unpackb(record.body, raw=False)
        out = [f"{record.who} {record.arrow} binary {len(record.body)} bytes"]
        out += [f"{pad}{line}" for line in hex_lines(record.body)]
        out.append(f"{pad}= {json.dumps(reading, separators=(',', ':'), ensure_ascii=False)}")
        return out
    if record.head == "text":
        return [f"{record.who} {record.arrow} text {record.body}"]
    out = [f"{record.who} {record.arrow} {record.head}"]
    out += [f"{pad}{line}" for line in record.lines]
    if record.body:
        out.append(f"{pad}{record.body}")
    return out


def render(tape: Recorder, fmt: Format) -> str:
    """The transcript as Markdown: one captioned code block per step."""
    kind = "JSON text frames" if fmt is Format.JSON else "msgpack binary frames"
    parts = [
        f"Recorded by `python -m client_sim.transcript` with {kind}; tokens, tickets, ids "
        "and times are the ones that run produced."
    ]
    for number, step in enumerate(tape.steps, 1):
        lines = [line for record in step.records for line in render_record(record)]
        parts.append(f"**{number}. {step.caption}**\n\n```text\n" + "\n".join(lines) + "\n```")
    return "\n\n".join(parts)


def rewrite(doc: str, fmt: Format, body: str) -> str:
    """``doc`` with the section between its ``fmt`` markers replaced by ``body``."""
    start, end = f"<!-- transcript:{fmt} -->", f"<!-- /transcript:{fmt} -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(doc):
        raise SystemExit(f"transcript: {start} ... {end} not found")
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", doc, count=1)


@contextlib.contextmanager
def private_arena(workdir: Path) -> Iterator[str]:
    """A redis-server and ``python -m server`` of our own, on free ports; their URL."""
    with RedisProcess(workdir / "redis", appendonly=False) as redis:
        port = free_port()
        env = {
            **os.environ,
            "REDIS_URL": redis.url,
            "ARENA_HOST": "127.0.0.1",
            "ARENA_PORT": str(port),
            "ARENA_DATA_DIR": str(workdir / "arena"),
            "ARENA_MODES": json.dumps(MODES),
            # What the session needs whatever the caller's environment says: the default
            # boards (the mode feeds them) and a results worker (it sends the notes).
            "ARENA_BOARDS": "",
            "ARENA_WORKERS": "1",
        }
        log_path = workdir / "arena.log"
        server = start_server(env, log_path)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, server, log_path)
            yield base
        finally:
            stop_server(server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m client_sim.transcript", description=__doc__)
    parser.add_argument("--out", type=Path, default=DOC, help="the document to rewrite")
    args = parser.parse_args(argv)
    doc = args.out.read_text("utf-8")
    with (
        tempfile.TemporaryDirectory(prefix="arena-transcript-") as tmp,
        private_arena(Path(tmp)) as base,
    ):
        for fmt in (Format.JSON, Format.MSGPACK):
            doc = rewrite(doc, fmt, render(asyncio.run(play(base, fmt)), fmt))
    args.out.write_text(doc, "utf-8")
    print(f"transcript: {args.out} rewritten (JSON and msgpack sessions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
