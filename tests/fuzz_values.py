"""The fuzz tests' tables: every op's fields (with a value each can succeed with), and
the hostile values each field is sent in turn (tests/test_fuzz.py)."""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass
from typing import Any

import msgpack

from client_sim.client import ArenaClient
from server.feed_ids import FEED_ID_MAX
from server.protocol import ErrorCode, Format

MATCH = "<match>"  # replaced by the id of the match the fuzzing player is in
ME = "<me>"  # replaced by the fuzzing player's id
OTHER = "<other>"  # replaced by the other player's id
LOBBY = "<lobby>"  # replaced by the id of an open lobby of the other player's
HOSTED = "<hosted>"  # replaced by the id of a server-run match a third player created
TICKET = "<ticket>"  # replaced by the fuzzing player's waiting ticket (mode duel)
PROPOSED = "<proposed>"  # replaced by its ticket proposed a match of mode pair
PARTY = "<party>"  # replaced by the id of an open party the other player leads

# The fuzz server's modes: lobby.create's capacity takes 2..64 in "ffa".
FUZZ_MODES = json.dumps(
    {
        "ffa": {"capacity": 64},
        "duel": {"game": "server.games.tictactoe:TicTacToe", "capacity": 2, "create": True},
        # Matched pairs must accept (in two minutes): the fuzzing player's proposal waits.
        "pair": {"capacity": 2, "matchmaker": {"min": 2, "max": 2, "accept_s": 120}},
    }
)

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
        "period": Field("str", "current", required=False),
    },
    "lb.around": {
        "board": Field("str", "daily"),
        "player_id": Field("str", OTHER, required=False),
        "radius": Field("int", 2, required=False),
        "period": Field("str", "current", required=False),
    },
    "lobby.create": {
        "mode": Field("str", "ffa"),
        "capacity": Field("int", 2, required=False),
        "name": Field("str", "fuzz", required=False),
        "private": Field("bool", True, required=False),
    },
    "lobby.list": {
        "mode": Field("str", "ffa", required=False),
        "limit": Field("int", 5, required=False),
    },
    "lobby.get": {"lobby_id": Field("str", LOBBY)},
    "lobby.join": {"lobby_id": Field("str", LOBBY)},
    "lobby.leave": {},
    "lobby.ready": {"ready": Field("bool", False)},
    "lobby.quickjoin": {"mode": Field("str", "fuzz")},
    # Before the party ops: the fuzzing player leads no party and follows none here.
    "mm.enqueue": {
        "mode": Field("str", "duel"),
        "properties": Field("map", {"region": "eu"}, required=False),
    },
    "mm.accept": {"ticket_id": Field("str", PROPOSED)},
    "mm.cancel": {"ticket_id": Field("str", TICKET)},
    "party.create": {
        "open": Field("bool", True, required=False),
        "max_size": Field("int", 4, required=False),
    },
    "party.join": {"party_id": Field("str", PARTY)},
    "party.invite": {"player_id": Field("str", OTHER)},
    "party.leave": {},
    "party.close": {},
    # The other player is seated in a party the fuzzing player leads before each of these
    # (test_fuzz.py): the first case kicks them or hands them the lead, the rest are refused.
    "party.kick": {"player_id": Field("str", OTHER)},
    "party.promote": {"player_id": Field("str", OTHER)},
    "match.list": {
        "limit": Field("int", 5, required=False),
        "mode": Field("str", "ffa", required=False),
        "label": Field("map", {"open": {"min": 1}}, required=False),
        "open": Field("bool", False, required=False),
    },
    "match.current": {},
    "rating.get": {"mode": Field("str", "duel")},
    "match.send": {
        "match_id": Field("str", MATCH),
        "type": Field("str", "move"),
        "data": Field("any", {"x": 1}, required=False),
    },
    "match.feed": {
        "match_id": Field("str", MATCH),
        "after": Field("str", "0-0", required=False),
        "keyframe": Field("bool", False, required=False),
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
    # Then the server-run match: asked to join (the game takes them), played, and last a
    # match of their own (each leaves the one before).
    "match.join": {"match_id": Field("str", HOSTED), "meta": Field("map", {}, required=False)},
    "match.input": {
        "match_id": Field("str", HOSTED),
        "type": Field("str", "move"),
        "data": Field("any", {"cell": 4}, required=False),
    },
    "match.sync": {"match_id": Field("str", HOSTED)},
    "match.create": {"mode": Field("str", "duel"), "params": Field("map", {}, required=False)},
}

# Ops that change the player's lobby or party state: each case is sent between frames that put
# the player where the op can succeed and take it back out, so no case meets the state
# an earlier one left (a lobby.create that succeeded would leave every later one
# ALREADY_IN_LOBBY). Requests on one socket are answered in order.
SEAT = {"op": "lobby.create", "mode": "ffa", "capacity": 2}
LEAVE = {"op": "lobby.leave"}
PARTY_UP = {"op": "party.create"}
PARTY_OFF = {"op": "party.leave"}
STAGED: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "party.create": ([], [PARTY_OFF]),
    "party.join": ([], [PARTY_OFF]),
    "party.invite": ([PARTY_UP], [PARTY_OFF]),
    "party.leave": ([PARTY_UP], [PARTY_OFF]),
    "party.close": ([PARTY_UP], [PARTY_OFF]),
    "lobby.create": ([], [LEAVE]),
    "lobby.join": ([], [LEAVE]),
    "lobby.quickjoin": ([], [LEAVE]),
    "lobby.ready": ([SEAT], [LEAVE]),
    "lobby.leave": ([SEAT], [LEAVE]),
}


MISSING: Any = object()
VALID: Any = object()  # the field's own valid value (from TABLE)
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
    Value("valid", VALID),  # first: each field gets a value it can succeed with
    Value("missing", MISSING),
    Value("null", None),
    Value("true", True),
    Value("false", False),
    Value("0", 0),
    Value("-1", -1),
    Value("1", 1),
    Value("2", 2),  # the fewest seats
    Value("8", 8),  # the default mode's capacity
    Value("64", 64),  # the most seats (ffa's capacity)
    Value("65", 65),
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
    Value("NFD", "Zoe\u0301"),  # "Zoé" as e + combining acute: stored as NFC
    Value("NFD Hangul", "\u1112\u1161\u11ab"),  # one syllable in three jamo
    Value("padded NFD", "  e\u0301  "),
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


def encode_frame(message: dict[str, Any], fmt: Format) -> bytes | str:
    """A frame as a hostile client may build it (invalid UTF-8 spliced in for BAD_UTF8)."""
    if fmt is Format.JSON:
        return json.dumps(message)
    packed: bytes = msgpack.packb(message, use_bin_type=True)
    return packed.replace(msgpack.packb(BAD_UTF8), b"\xa3\xff\xfe\xc0")


# The values without "valid", for places with no field of their own (rid, op, HTTP).
HOSTILE = [value for value in VALUES if value.value is not VALID]

# The codes a reply may carry: any of the protocol's but INTERNAL.
CODES = {str(code) for code in ErrorCode} - {ErrorCode.INTERNAL}


def nfc(text: str) -> str:
    """What the server should keep of a text it accepted (docs/protocol.md, names and texts)."""
    return unicodedata.normalize("NFC", text).strip()


async def ticket_of(arena: str, token: str) -> str:
    """A waiting ticket of the player's (mode duel)."""
    async with await ArenaClient.connect(arena, token) as client:
        return str((await client.request("mm.enqueue", mode="duel"))["ticket_id"])


async def proposed_to(arena: str, token: str, other: ArenaClient) -> str:
    """A ticket of the player's proposed a match with ``other`` (mode pair, to accept)."""
    async with await ArenaClient.connect(arena, token) as client:
        ticket = str((await client.request("mm.enqueue", mode="pair"))["ticket_id"])
        await other.request("mm.enqueue", mode="pair")
        assert (await client.next_push("mm.matched", timeout=10))["ticket_id"] == ticket
        return ticket
