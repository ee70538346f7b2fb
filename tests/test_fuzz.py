"""Every op's every field, sent hostile values over both encodings.

The table below is checked against HANDLERS (and each handler's source): a new op, or
a new field of an op, without a fuzz entry fails ``test_the_table_covers_every_op_and_field``.

For each field: missing, null, each wrong type, boundary numbers (0, -1, 2^53, 2^63,
2^64, -2^63, NaN, infinities), odd strings (empty, too long, NUL, bidi, feed ids at and
past the largest), binary and extension values, invalid UTF-8, huge and deep
containers. Every reply must be a success or a well-formed error with a stable code
(never INTERNAL), a wrongly typed or missing field must be BAD_REQUEST, the socket
must stay open, and the server must log no traceback, and no Redis refusal (input
that reached Redis unchecked).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import msgpack
import pytest

from server.handlers import HANDLERS
from server.protocol import FEED_ID_MAX, ErrorCode, Format
from server.settings import DEFAULT_RATE_LIMITS
from tests.conftest import StartArena
from tests.helpers import new_device, start_match

MATCH = "<match>"  # replaced by the id of the match the fuzzing player is in
ME = "<me>"  # replaced by the fuzzing player's id
OTHER = "<other>"  # replaced by the other player's id

Kind = str  # "str" | "int" | "bool" | "str_list" | "map" | "any"


@dataclass(frozen=True)
class Field:
    kind: Kind
    valid: Any  # what the field holds while another field is fuzzed
    required: bool = True


# op -> its fields. An op without fields gets one unknown field, which it must ignore.
TABLE: dict[str, dict[str, Field]] = {
    "ping": {},
    "session.get": {},
    "presence.get": {"player_ids": Field("str_list", [OTHER])},
    "stats.get": {},
    "watch": {},
    "lb.boards": {},
    "lb.submit": {"board": Field("str", "global"), "score": Field("int", 1)},
    "lb.top": {
        "board": Field("str", "daily"),
        "limit": Field("int", 10, required=False),
        "offset": Field("int", 0, required=False),
        "period": Field("str", "previous", required=False),
    },
    "lb.rank": {
        "board": Field("str", "daily"),
        "player_id": Field("str", ME, required=False),
        "period": Field("str", "previous", required=False),
    },
    "lb.around": {
        "board": Field("str", "daily"),
        "player_id": Field("str", OTHER, required=False),
        "radius": Field("int", 2, required=False),
        "period": Field("str", "current", required=False),
    },
    "lobby.create": {
        "mode": Field("str", "duel"),
        "capacity": Field("int", 2, required=False),
        "name": Field("str", "fuzz", required=False),
        "private": Field("bool", True, required=False),
    },
    "lobby.list": {
        "mode": Field("str", "duel", required=False),
        "limit": Field("int", 5, required=False),
    },
    "lobby.get": {"lobby_id": Field("str", "0123456789ab")},
    "lobby.join": {"lobby_id": Field("str", "0123456789ab")},
    "lobby.leave": {},
    "lobby.ready": {"ready": Field("bool", False)},
    "lobby.quickjoin": {"mode": Field("str", "fuzz")},
    "match.list": {"limit": Field("int", 5, required=False)},
    "match.current": {},
    "match.send": {
        "match_id": Field("str", MATCH),
        "type": Field("str", "move"),
        "data": Field("any", {"x": 1}, required=False),
    },
    "match.feed": {
        "match_id": Field("str", MATCH),
        "after": Field("str", "0-0", required=False),
        "limit": Field("int", 5, required=False),
    },
    "feed.global": {"limit": Field("int", 5, required=False)},
    "chat.join": {"room": Field("str", "general")},
    "chat.leave": {"room": Field("str", "general")},
    "chat.send": {"room": Field("str", "general"), "text": Field("str", "hi")},
    "chat.history": {
        "room": Field("str", "general"),
        "limit": Field("int", 5, required=False),
    },
    "notify.list": {"limit": Field("int", 5, required=False)},
    "notify.ack": {"id": Field("str", "0-0")},
    # Last: they take the player out of the match, or end it.
    "match.result": {"match_id": Field("str", MATCH), "scores": Field("map", {ME: 1, OTHER: 2})},
    "match.leave": {"match_id": Field("str", MATCH)},
}

MISSING: Any = object()
BAD_UTF8 = "\x00bad-utf8\x00"  # packed as str, then its bytes swapped for invalid UTF-8
BOTH = frozenset(Format)
MSGPACK_ONLY = frozenset({Format.MSGPACK})
JSON_ONLY = frozenset({Format.JSON})


def deep_list(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def deep_map(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


@dataclass(frozen=True)
class Value:
    label: str
    value: Any
    formats: frozenset[Format] = BOTH
    frame_error: bool = False  # the whole frame is refused (BAD_FRAME, no rid)


VALUES = [
    Value("missing", MISSING),
    Value("null", None),
    Value("true", True),
    Value("false", False),
    Value("0", 0),
    Value("-1", -1),
    Value("1", 1),
    Value("2^31", 2**31),
    Value("2^53-1", 2**53 - 1),
    Value("2^53", 2**53),
    Value("2^63-1", 2**63 - 1),
    Value("2^63", 2**63),
    Value("2^64-1", 2**64 - 1),
    Value("-2^63", -(2**63)),
    Value("-2^63-1", -(2**63) - 1, JSON_ONLY),
    Value("2^64", 2**64, JSON_ONLY),
    Value("10^40", 10**40, JSON_ONLY),
    Value("0.0", 0.0),
    Value("-0.0", -0.0),
    Value("0.5", 0.5),
    Value("1e308", 1e308),
    Value("-1e308", -1e308),
    Value("NaN", math.nan),  # JSON: the NaN token Python (and so the server) accepts
    Value("inf", math.inf),
    Value("-inf", -math.inf),
    Value("empty", ""),
    Value("space", " "),
    Value("x", "x"),
    Value("40 chars", "a" * 40),
    Value("5000 chars", "a" * 5000),
    Value("NUL", "\x00"),
    Value("NUL inside", "a\x00b"),
    Value("bidi", "\u202eabc"),
    Value("zero width", "\u200b"),
    Value("emoji", "\U0001f4a5" * 60),
    Value("C1", "\x85\x9b"),
    Value("newline", "a\nb"),
    Value("largest feed id", f"{FEED_ID_MAX}-{FEED_ID_MAX}"),
    Value("past the largest feed id", f"{FEED_ID_MAX + 1}-0"),
    Value("negative feed id", "-1-0"),
    Value("stream special id", "+"),
    Value("exclusive id", "(0-0"),
    Value("numeric text", "-1"),
    Value("float text", "1e309"),
    Value("nan text", "NaN"),
    Value("week far past", "0001-W01"),
    Value("day far past", "0001-01-01"),
    Value("day at the epoch", "1970-01-01"),
    Value("month far past", "0001-01"),
    Value("period far future", "9999-12-31"),
    Value("period odd", "2024-W53"),
    Value("glob", "*"),
    Value("proto", "__proto__"),
    Value("room-ish", "lobby:"),
    Value("key-ish", "arena:{x}:y"),
    Value("format string", "%s%n%x{}"),
    Value("lone surrogate", "\ud800", JSON_ONLY, frame_error=True),
    Value("invalid utf-8", BAD_UTF8, MSGPACK_ONLY, frame_error=True),
    Value("bin", b"\xff\xfe\x00", MSGPACK_ONLY),
    Value("empty bin", b"", MSGPACK_ONLY),
    Value("ext", msgpack.ExtType(5, b"xyz"), MSGPACK_ONLY),
    Value("timestamp", msgpack.Timestamp(0, 0), MSGPACK_ONLY),
    Value("empty list", []),
    Value("list of one", ["x"]),
    Value("list of odd", [None, 1, 2**63, "\u202e", [], {}]),
    Value("huge list", ["x"] * 5000),
    Value("huge int list", [2**62] * 2000),
    Value("deep list", deep_list(200)),
    Value("empty map", {}),
    Value("map", {"a": 1}),
    Value("map of odd", {"": None, "\u202e": 2**63, "x": math.nan}),
    Value("huge map", {str(i): i for i in range(2000)}),
    Value("deep map", deep_map(200)),
    Value("int-keyed map", {1: 2}, MSGPACK_ONLY, frame_error=True),
]


def wrong_type(kind: Kind, value: Any) -> bool:
    """Whether the Request accessor for ``kind`` must refuse ``value`` for its type."""
    if kind == "str":
        return not isinstance(value, str)
    if kind == "int":
        return not isinstance(value, int) or isinstance(value, bool)
    if kind == "bool":
        return not isinstance(value, bool)
    if kind == "str_list":
        return not isinstance(value, list)
    return False  # map, any: checked by the service, after who may ask


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


def frames_for(op: str, fields: dict[str, Field], ids: dict[str, str]) -> list[Case]:
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
            else:
                fields_now[name] = value.value
            for fmt in sorted(value.formats):
                refused_type = (value.value is MISSING and field.required) or (
                    value.value is not MISSING
                    and not (value.value is None and not field.required)
                    and wrong_type(field.kind, value.value)
                )
                cases.append(
                    Case(op, name, value, fmt, fields_now, refused_type and not value.frame_error)
                )
    return cases


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


UPPER_SNAKE = re.compile(r"^[A-Z][A-Z_]*[A-Z]$")
CODES = {str(code) for code in ErrorCode} - {ErrorCode.INTERNAL}


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


async def start_unlimited(start_arena: StartArena) -> str:
    """An in-process server whose rate limits a fuzzing socket never reaches: every
    request gets as far into the op as its values let it."""
    unlimited = ",".join(f"{action}=1000000/1000000" for action in DEFAULT_RATE_LIMITS)
    return await start_arena(
        msg_rate_burst=1_000_000, msg_rate_per_s=1_000_000.0, rate_limits=unlimited
    )


async def test_every_field_of_every_op_survives_hostile_values(
    start_arena: StartArena, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    arena = await start_unlimited(start_arena)
    match_id, clients, players = await start_match([arena], 2)
    for client in clients:
        await client.close()
    me, other = players
    ids = {MATCH: match_id, ME: me.player_id, OTHER: other.player_id}
    problems: list[str] = []
    total = 0
    async with aiohttp.ClientSession() as http:
        for op, fields in TABLE.items():  # one socket per op, its requests pipelined
            cases = frames_for(op, fields, ids)
            total += len(cases)
            async with http.ws_connect(
                f"{arena}/v1/ws", headers={"Authorization": f"Bearer {me.token}"}
            ) as ws:
                replies = await exchange(ws, [c.frame(rid) for rid, c in enumerate(cases)])
                problems += [
                    f"{case}: {problem}"
                    for rid, (case, reply) in enumerate(zip(cases, replies, strict=True))
                    if (problem := check_reply(case, rid, reply)) is not None
                ]
                # Still open and answering.
                assert (await exchange(ws, [json.dumps({"op": "ping", "rid": -1})]))[0]["ok"]
    assert total > 3000
    assert not problems, f"{len(problems)} of {total} cases:\n" + "\n".join(problems)
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
        for value in [*VALUES, *deep]:
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


def encode_frame(message: dict[str, Any], fmt: Format) -> bytes | str:
    """A frame as a hostile client may build it (invalid UTF-8 spliced in for BAD_UTF8)."""
    if fmt is Format.JSON:
        return json.dumps(message)
    packed: bytes = msgpack.packb(message, use_bin_type=True)
    return packed.replace(msgpack.packb(BAD_UTF8), b"\xa3\xff\xfe\xc0")


# --- HTTP: the same values in query strings, path segments and JSON bodies --------------

SERVER_KEY = "fuzz-server-key-" + "k" * 32  # long enough for any key-length rule


def as_text(value: Value) -> str | None:
    """The value as a query or path text (None: it has no text form)."""
    given = value.value
    if given is MISSING or isinstance(given, bytes | msgpack.ExtType | msgpack.Timestamp):
        return None
    if isinstance(given, str):
        text = given if "\ud800" not in given and given != BAD_UTF8 else None
    else:
        text = json.dumps(given)
    # aiohttp refuses a request line past 8,190 bytes itself (a plain-text 400).
    return text if text is not None and len(quote(text)) < 4000 else None


async def test_http_routes_survive_hostile_values(
    start_arena: StartArena, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    unlimited = ",".join(f"{action}=1000000/1000000" for action in DEFAULT_RATE_LIMITS)
    arena = await start_arena(server_key=SERVER_KEY, rate_limits=unlimited)
    match_id, clients, players = await start_match([arena], 2)
    for client in clients:
        await client.close()
    headers = {"Authorization": f"Bearer {SERVER_KEY}", "Content-Type": "application/json"}
    me = players[0].player_id
    requests: list[tuple[str, str, dict[str, str], Any]] = []  # method, path, query, body
    for value in VALUES:
        text = as_text(value)
        if text is not None:
            segment = quote(text, safe="") or "%20"
            for name in ("limit", "offset", "period"):
                requests.append(("GET", "/v1/leaderboards/daily/top", {name: text}, None))
            requests.append(("GET", f"/v1/leaderboards/{segment}/top", {}, None))
            requests.append(("GET", f"/v1/leaderboards/daily/players/{segment}", {}, None))
            requests.append(("GET", f"/v1/leaderboards/daily/players/{me}", {"period": text}, None))
            requests.append(("POST", f"/v1/matches/{segment}/result", {}, {"scores": {me: 1}}))
        if value.value is MISSING or value.formats == MSGPACK_ONLY:
            continue
        given = value.value
        requests += [
            ("POST", "/v1/auth/guest", {}, {"device_id": new_device(), "name": given}),
            ("POST", "/v1/auth/guest", {}, {"device_id": given, "name": "fuzz"}),
            ("POST", "/v1/auth/guest", {}, given),
            ("POST", "/v1/leaderboards/global/scores", {}, {"player_id": me, "score": given}),
            ("POST", "/v1/leaderboards/global/scores", {}, {"player_id": given, "score": 1}),
            ("POST", f"/v1/matches/{match_id}/result", {}, {"scores": given}),
        ]
    problems = []
    answered: set[tuple[str, int]] = set()
    async with aiohttp.ClientSession() as http:

        async def send(method: str, path: str, query: dict[str, str], body: Any) -> None:
            data = None if body is None else json.dumps(body)
            async with http.request(
                method, arena + path, params=query, data=data, headers=headers
            ) as resp:
                text = await resp.text()
            answered.add((path, resp.status))
            label = f"{method} {path[:60]} {query!r:.60} {data!r:.80}"
            if resp.status >= 500:
                problems.append(f"{label}: {resp.status} {text[:200]}")
            elif resp.status >= 400:
                code = json.loads(text).get("error", {}).get("code")
                if code not in CODES:
                    problems.append(f"{label}: {resp.status} {text[:200]}")

        for start in range(0, len(requests), 50):  # 50 at a time
            await asyncio.gather(*(send(*r) for r in requests[start : start + 50]))
    assert len(requests) > 500
    assert not problems, "\n".join(problems)
    # The values got past the door: some were accepted, so the refusals were the values'.
    for path in ("/v1/auth/guest", "/v1/leaderboards/daily/top"):
        assert {(path, 200), (path, 400)} <= answered, path
    logged = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.exc_info or r.levelno >= logging.ERROR or r.name == "server.storage.connection"
    ]
    assert not logged, "\n".join(logged)
