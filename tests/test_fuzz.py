"""Every op's every field, sent hostile values over both encodings.

The tables (tests/fuzz_values.py) are checked against HANDLERS (and each handler's
source): a new op, or a new field of an op, without a fuzz entry fails
``test_the_table_covers_every_op_and_field``.

For each field: its valid value, missing, null, each wrong type, boundary numbers (0,
-1, 2, 64, 2^53, 2^63, 2^64, -2^63, NaN, infinities), odd strings (empty, too long, NUL,
bidi, NFD, feed ids at and past the largest), binary and extension values, invalid
UTF-8, huge and deep containers. Every reply must be a success or a well-formed error
with a stable code (never INTERNAL), a wrongly typed or missing field must be
BAD_REQUEST, the socket must stay open, and the server must log no traceback, and no
Redis refusal (input that reached Redis unchecked). Every field gets at least one
success, so the valid path is exercised too: an op that changes the player's lobby
state runs each case from the same state (seated or not), and texts that pass come
back NFC-normalised where they are read back.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgpack
import pytest

from client_sim.client import ArenaClient
from server.handlers import HANDLERS
from server.protocol import Format
from server.settings import DEFAULT_RATE_LIMITS
from tests.conftest import StartArena
from tests.fuzz_values import (
    CODES,
    FUZZ_MODES,
    HOSTED,
    HOSTILE,
    LEAVE,
    LOBBY,
    MATCH,
    ME,
    MISSING,
    OTHER,
    PARTY,
    PROPOSED,
    STAGED,
    TABLE,
    TICKET,
    VALID,
    VALUES,
    Field,
    Value,
    deep_list,
    deep_map,
    encode_frame,
    nfc,
    proposed_to,
    ticket_of,
    wrong_type,
)
from tests.helpers import connect, eventually, start_match
from tests.party_helpers import seat_other_in_my_party

ACCESSOR = re.compile(
    r"req\.(?:string|optional_string|integer|flag|string_list)\(\s*\"(\w+)\""
    r"|req\.fields\.get\(\s*\"(\w+)\""
)


def handler_fields(handler: Callable[..., Any]) -> set[str]:
    """The fields a handler reads: from its source and that of helpers it passes ``req`` to."""
    module = inspect.getmodule(handler)
    source = inspect.getsource(handler)
    for helper in re.findall(r"(\w+)\(req\)", source):
        source += inspect.getsource(getattr(module, helper))
    return {a or b for a, b in ACCESSOR.findall(source)}


def test_the_table_covers_every_op_and_field() -> None:
    assert set(TABLE) == set(HANDLERS), "every op needs a fuzz entry, and only those"
    for op, handler in HANDLERS.items():
        assert set(TABLE[op]) == handler_fields(handler), op


@dataclass
class Case:
    op: str
    field: str
    value: Value
    fmt: Format
    fields: dict[str, Any]
    must_be_bad_request: bool

    def frame(self, rid: int) -> bytes | str:
        return encode_frame({"op": self.op, "rid": rid, **self.fields}, self.fmt)

    def __str__(self) -> str:
        return f"{self.op}.{self.field} = {self.value.label} ({self.fmt})"


def cases_for(op: str, fields: dict[str, Field], ids: dict[str, str]) -> list[Case]:
    """Every case of one op: each field in turn takes each value, the others stay valid."""

    def real(value: Any) -> Any:
        if isinstance(value, str):
            return ids.get(value, value)
        if isinstance(value, list):
            return [real(v) for v in value]
        if isinstance(value, dict):
            return {real(k): real(v) for k, v in value.items()}
        return value

    base = {name: real(field.valid) for name, field in fields.items()}
    fuzzed = fields or {"unknown_field": Field("any", None, required=False)}
    cases = []
    for name, field in fuzzed.items():
        for value in VALUES:
            fields_now = {**base}
            if value.value is MISSING:
                fields_now.pop(name, None)
            elif value.value is not VALID:
                fields_now[name] = value.value
            given = fields_now.get(name, MISSING)
            refused_type = (given is MISSING and field.required) or (
                given is not MISSING
                and not (given is None and not field.required)
                and wrong_type(field.kind, given)
            )
            for fmt in sorted(value.formats):
                cases.append(
                    Case(op, name, value, fmt, fields_now, refused_type and not value.frame_error)
                )
    return cases


UPPER_SNAKE = re.compile(r"^[A-Z][A-Z_]*[A-Z]$")


def check_reply(case: Case, rid: int, reply: dict[str, Any]) -> str | None:
    """What is wrong with ``reply`` to ``case``; None when it is fine."""
    if case.value.frame_error:
        error = reply.get("error", {})
        return None if error.get("code") == "BAD_FRAME" and "rid" not in reply else f"{reply}"
    if reply.get("rid") != rid:
        return f"reply out of step: {reply}"
    if reply.get("ok") is True:
        return "accepted a wrongly typed or missing field" if case.must_be_bad_request else None
    error = reply.get("error")
    if reply.get("ok") is not False or not isinstance(error, dict):
        return f"not an envelope: {reply}"
    code, message = error.get("code"), error.get("message")
    if not (isinstance(code, str) and UPPER_SNAKE.match(code) and code in CODES):
        return f"bad code: {error}"
    if not isinstance(message, str) or not message:
        return f"no message: {error}"
    if set(error) - {"code", "message", "retry_after_ms"}:
        return f"odd error fields: {error}"
    if code == "RATE_LIMITED":
        return "rate-limited: the fuzz must reach the op (raise the limit in start_unlimited)"
    if case.must_be_bad_request and code != "BAD_REQUEST":
        return f"expected BAD_REQUEST, got {code}: {message}"
    return None


async def exchange(ws: aiohttp.ClientWebSocketResponse, frames: list[bytes | str]) -> list[Any]:
    """Send every frame without waiting, read every reply (pushes skipped), in order."""

    async def read() -> list[Any]:
        replies: list[Any] = []
        while len(replies) < len(frames):
            msg = await ws.receive(timeout=15)
            if msg.type is aiohttp.WSMsgType.BINARY:
                reply = msgpack.unpackb(msg.data, raw=False, strict_map_key=False)
            elif msg.type is aiohttp.WSMsgType.TEXT:
                reply = json.loads(msg.data)
            else:
                raise AssertionError(f"socket closed after {len(replies)} replies: {msg}")
            if "ev" not in reply:
                replies.append(reply)
        return replies

    reader = asyncio.create_task(read())
    for frame in frames:
        if isinstance(frame, str):
            await ws.send_str(frame)
        else:
            await ws.send_bytes(frame)
    return await reader


async def run_cases(ws: aiohttp.ClientWebSocketResponse, cases: list[Case]) -> list[Any]:
    """Each case's reply, with a staged op's set-up and clean-up frames around each case
    (their rids negative); a set-up that fails is a problem of its own."""
    frames: list[bytes | str] = []
    mine: list[int] = []  # the index, among all replies, of each case's
    setups: list[int] = []
    for rid, case in enumerate(cases):
        before, after = STAGED.get(case.op, ([], []))
        for message in before:
            setups.append(len(frames))
            frames.append(json.dumps({**message, "rid": -1 - len(frames)}))
        mine.append(len(frames))
        frames.append(case.frame(rid))
        frames += [json.dumps({**m, "rid": -1 - len(frames) - i}) for i, m in enumerate(after)]
    replies = await exchange(ws, frames)
    failed = [replies[i] for i in setups if replies[i].get("ok") is not True]
    assert not failed, f"a set-up failed, so the cases after it meet the wrong state: {failed}"
    return [replies[i] for i in mine]


async def start_unlimited(start_arena: StartArena, **settings: Any) -> str:
    """An in-process server whose rate limits a fuzzing socket never reaches: every
    request gets as far into the op as its values let it."""
    unlimited = ",".join(f"{action}=1000000/1000000" for action in DEFAULT_RATE_LIMITS)
    return await start_arena(
        msg_rate_burst=1_000_000,
        msg_rate_per_s=1_000_000.0,
        rate_limits=unlimited,
        modes=FUZZ_MODES,
        **settings,
    )


async def read_back(ws: aiohttp.ClientWebSocketResponse, op: str, texts: set[str]) -> list[str]:
    """Send each text ``op`` accepted once more and read it back (a lobby name by
    lobby.get, a chat text by chat.history): it must come back NFC-normalised, trimmed."""
    problems = []
    for given in sorted(texts):
        if op == "lobby.create":
            create = {"op": op, "rid": 1, "mode": "ffa", "name": given}
            (created,) = await exchange(ws, [json.dumps(create)])
            get = {"op": "lobby.get", "rid": 2, "lobby_id": created["lobby"]["lobby_id"]}
            got, _ = await exchange(ws, [json.dumps(get), json.dumps({**LEAVE, "rid": 3})])
            stored = got["lobby"]["name"]
        else:
            send = {"op": op, "rid": 1, "room": "general", "text": given}
            history = {"op": "chat.history", "rid": 2, "room": "general", "limit": 1}
            _, got = await exchange(ws, [json.dumps(send), json.dumps(history)])
            stored = got["messages"][-1]["text"]
        if stored != nfc(given):
            problems.append(f"{op}: {given!r} came back as {stored!r}")
    return problems


async def in_match(arena: str, token: str, match_id: str) -> bool:
    client = await ArenaClient.connect(arena, token)
    try:
        current = (await client.request("match.current"))["match"]
    finally:
        await client.close()
    return current is not None and current["match_id"] == match_id


async def test_every_field_of_every_op_survives_hostile_values(
    start_arena: StartArena, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    arena = await start_unlimited(start_arena)
    match_id, clients, players = await start_match([arena], 2)
    for client in clients:
        await client.close()
    me, other = players
    # Both ranked on the boards the lb ops read; the other player holds an open lobby.
    me_client, other_client = [await ArenaClient.connect(arena, p.token) for p in players]
    for client in (me_client, other_client):
        for board in ("global", "daily"):
            await client.request("lb.submit", board=board, score=5)
    await me_client.close()
    lobby = (await other_client.request("lobby.create", mode="ffa", name="open"))["lobby"]
    party = (await other_client.request("party.create", open=True))["party"]
    # A third player's server-run match (the other player stays in the relayed one).
    _, host_client = await connect(arena, "carol")
    hosted = (await host_client.request("match.create", mode="duel"))["match"]["match_id"]
    ids = {TICKET: await ticket_of(arena, me.token), PROPOSED: ""}
    ids[PROPOSED] = await proposed_to(arena, me.token, other_client)
    ids |= {
        MATCH: match_id,
        ME: me.player_id,
        OTHER: other.player_id,
        LOBBY: lobby["lobby_id"],
        HOSTED: hosted,
        PARTY: party["party_id"],
    }
    problems: list[str] = []
    succeeded: set[str] = set()  # op.field, and op.field=value label
    accepted: dict[str, set[str]] = {"lobby.create": set(), "chat.send": set()}  # texts
    total = 0
    async with aiohttp.ClientSession() as http:
        for op, fields in TABLE.items():  # one socket per op, its requests pipelined
            if op == "match.input":  # once the game took the player (match.join's cases)
                await eventually(lambda: in_match(arena, me.token, hosted), within_s=10)
            if op in ("party.kick", "party.promote"):
                await seat_other_in_my_party(arena, me.token, other_client)
            cases = cases_for(op, fields, ids)
            total += len(cases)
            async with http.ws_connect(
                f"{arena}/v1/ws", headers={"Authorization": f"Bearer {me.token}"}
            ) as ws:
                replies = await run_cases(ws, cases)
                for rid, (case, reply) in enumerate(zip(cases, replies, strict=True)):
                    if (problem := check_reply(case, rid, reply)) is not None:
                        problems.append(f"{case}: {problem}")
                    if reply.get("ok") is True:
                        where = f"{case.op}.{case.field}"
                        succeeded |= {where, f"{where} = {case.value.label}"}
                        text = case.fields.get(case.field)
                        if case.field in ("name", "text") and isinstance(text, str):
                            accepted[case.op].add(text)
                if op in accepted:
                    problems += await read_back(ws, op, accepted[op])
                # Still open and answering.
                assert (await exchange(ws, [json.dumps({"op": "ping", "rid": -1})]))[0]["ok"]
    await other_client.close()
    await host_client.close()
    assert total > 3000
    assert not problems, f"{len(problems)} of {total} cases:\n" + "\n".join(problems)
    every_field = {f"{op}.{name}" for op, fields in TABLE.items() for name in fields}
    every_field |= {f"{op}.unknown_field" for op, fields in TABLE.items() if not fields}
    assert every_field - succeeded == set(), "fields that never got an OK reply"
    # Seats from 2 to the mode's capacity, not one past it; ready either way, seated.
    capacities = {f"lobby.create.capacity = {n}" for n in ("2", "8", "64", "65")}
    assert capacities & succeeded == capacities - {"lobby.create.capacity = 65"}
    assert {"lobby.ready.ready = true", "lobby.ready.ready = false"} <= succeeded
    # The NFD values were among those accepted, so the read-back compared something.
    assert "Zoe\u0301" in accepted["lobby.create"]
    assert "Zoe\u0301" in accepted["chat.send"]
    logged = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.exc_info or r.levelno >= logging.ERROR or r.name == "server.storage.connection"
    ]
    assert not logged, "\n".join(logged)


async def test_the_envelope_survives_hostile_rids_and_ops(
    start_arena: StartArena, caplog: pytest.LogCaptureFixture
) -> None:
    """``rid`` and ``op`` themselves. A bad rid is BAD_REQUEST, echoed as given (so the
    client can still match it); a bad op is BAD_REQUEST, an unknown one UNKNOWN_OP. The
    rid cases name no op that exists, so every frame gets a reply, even without a rid."""
    caplog.set_level(logging.WARNING)
    arena = await start_unlimited(start_arena)
    me, _ = (await start_match([arena], 2))[2]
    deep = [Value("very deep list", deep_list(600)), Value("very deep map", deep_map(600))]
    cases: list[tuple[str, Value, Format]] = []
    frames: list[bytes | str] = []
    for name in ("rid", "op"):
        for value in [*HOSTILE, *deep]:
            for fmt in sorted(value.formats):
                message: dict[str, Any] = {"op": "no.such.op", "rid": 1}
                if value.value is MISSING:
                    message.pop(name)
                else:
                    message[name] = value.value
                cases.append((name, value, fmt))
                frames.append(encode_frame(message, fmt))
    auth = {"Authorization": f"Bearer {me.token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{arena}/v1/ws", headers=auth) as ws,
    ):
        replies = await exchange(ws, frames)
        assert (await exchange(ws, [json.dumps({"op": "ping", "rid": -1})]))[0]["ok"]
    problems = []
    for (name, value, fmt), reply in zip(cases, replies, strict=True):
        given = value.value
        code = (reply.get("error") or {}).get("code")
        if value.frame_error:
            allowed = {"BAD_FRAME"}
        elif value in deep:
            allowed = {"BAD_FRAME", "BAD_REQUEST", "UNKNOWN_OP"}  # msgpack may refuse the nesting
        elif name == "op":
            allowed = {"UNKNOWN_OP"} if isinstance(given, str) else {"BAD_REQUEST"}
        elif given is MISSING or given is None:
            allowed = {"UNKNOWN_OP"} if "rid" not in reply else set()
        else:
            is_int = isinstance(given, int) and not isinstance(given, bool)
            allowed = {"UNKNOWN_OP" if is_int else "BAD_REQUEST"}
            if isinstance(given, int | str) and reply.get("rid") != given:
                allowed = set()  # not echoed as given
        if code not in allowed:
            problems.append(f"{name} = {value.label} ({fmt}): {str(reply)[:200]}")
    assert not problems, "\n".join(problems)
    logged = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info]
    assert not logged, "\n".join(logged)
