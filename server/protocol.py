"""Arena's wire format, and nothing else: no aiohttp, no Redis.

A binary WebSocket frame carries a msgpack map, a text frame a JSON object with
the same schema. ``client_sim`` and ``loadtest`` import this module so that the
server and its clients share one set of names and codes (docs/protocol.md is
the same contract, written for people).

Envelopes::

    request  {"op": str, "rid": int, ...fields}      rid optional (fire-and-forget)
    success  {"rid": int, "ok": true, ...result}
    failure  {"rid": int, "ok": false, "error": {"code", "message", "retry_after_ms"?}}
    push     {"ev": str, ...fields}
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

import msgpack

from server.json_limits import (
    SURROGATE_ESCAPE,
    has_lone_surrogate,
)

Message = dict[str, Any]


class Format(StrEnum):
    """How a frame is encoded; a client picks it per request by the frame type it sends."""

    MSGPACK = "msgpack"  # binary frames
    JSON = "json"  # text frames


class Op(StrEnum):
    """Every request a client may send."""

    PING = "ping"
    SESSION_GET = "session.get"
    PRESENCE_GET = "presence.get"
    LB_SUBMIT = "lb.submit"
    LB_TOP = "lb.top"
    LB_RANK = "lb.rank"
    LB_AROUND = "lb.around"
    LOBBY_CREATE = "lobby.create"
    LOBBY_LIST = "lobby.list"
    LOBBY_GET = "lobby.get"
    LOBBY_JOIN = "lobby.join"
    LOBBY_LEAVE = "lobby.leave"
    LOBBY_READY = "lobby.ready"
    LOBBY_QUICKJOIN = "lobby.quickjoin"
    MATCH_SEND = "match.send"
    MATCH_FEED = "match.feed"
    MATCH_LEAVE = "match.leave"
    MATCH_RESULT = "match.result"
    MATCH_INPUT = "match.input"
    MATCH_CREATE = "match.create"
    MATCH_JOIN = "match.join"
    MATCH_SYNC = "match.sync"
    FEED_GLOBAL = "feed.global"
    CHAT_JOIN = "chat.join"
    CHAT_LEAVE = "chat.leave"
    CHAT_SEND = "chat.send"
    CHAT_HISTORY = "chat.history"
    NOTIFY_LIST = "notify.list"
    NOTIFY_ACK = "notify.ack"
    STATS_GET = "stats.get"
    LB_BOARDS = "lb.boards"
    MATCH_LIST = "match.list"
    MATCH_CURRENT = "match.current"
    WATCH = "watch"
    MM_ENQUEUE = "mm.enqueue"
    MM_CANCEL = "mm.cancel"
    MM_ACCEPT = "mm.accept"
    RATING_GET = "rating.get"
    PARTY_CREATE = "party.create"
    PARTY_INVITE = "party.invite"
    PARTY_JOIN = "party.join"
    PARTY_LEAVE = "party.leave"
    PARTY_KICK = "party.kick"
    PARTY_PROMOTE = "party.promote"
    PARTY_CLOSE = "party.close"


class Push(StrEnum):
    """Every event the server sends unasked."""

    SESSION_REPLACED = "session.replaced"
    SERVER_SHUTDOWN = "server.shutdown"
    LOBBY_UPDATED = "lobby.updated"
    MATCH_STARTED = "match.started"
    MATCH_EVENT = "match.event"
    MATCH_LEFT = "match.left"
    MATCH_ENDED = "match.ended"
    MATCH_PRESENCE = "match.presence"
    MATCH_RESYNC = "match.resync"
    MATCH_REFUSED = "match.refused"
    MATCH_STATE = "match.state"
    CHAT_MESSAGE = "chat.message"
    NOTIFY = "notify"
    LOBBY_CLOSED = "lobby.closed"
    SESSION_KICKED = "session.kicked"
    SESSION_BANNED = "session.banned"
    WATCH_LOBBY = "watch.lobby"
    WATCH_MATCH = "watch.match"
    WATCH_SCORE = "watch.score"
    WATCH_ACTIVITY = "watch.activity"
    MM_STATUS = "mm.status"
    MM_MATCHED = "mm.matched"
    PARTY_UPDATED = "party.updated"
    PARTY_INVITED = "party.invited"


class ErrorCode(StrEnum):
    """Stable codes in ``error.code``; clients branch on these, never on messages."""

    BAD_FRAME = "BAD_FRAME"
    BAD_REQUEST = "BAD_REQUEST"
    UNKNOWN_OP = "UNKNOWN_OP"
    UNAUTHORIZED = "UNAUTHORIZED"
    BAD_CREDENTIALS = "BAD_CREDENTIALS"
    BANNED = "BANNED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    UNKNOWN_BOARD = "UNKNOWN_BOARD"
    NOT_RANKED = "NOT_RANKED"
    RATE_LIMITED = "RATE_LIMITED"
    TOO_MANY_SOCKETS = "TOO_MANY_SOCKETS"
    LOCK_TIMEOUT = "LOCK_TIMEOUT"
    LOBBY_NOT_FOUND = "LOBBY_NOT_FOUND"
    LOBBY_FULL = "LOBBY_FULL"
    ALREADY_IN_LOBBY = "ALREADY_IN_LOBBY"
    NOT_IN_LOBBY = "NOT_IN_LOBBY"
    NOT_IN_MATCH = "NOT_IN_MATCH"
    MATCH_ENDED = "MATCH_ENDED"
    MATCH_FULL = "MATCH_FULL"
    ALREADY_QUEUED = "ALREADY_QUEUED"
    QUEUE_FULL = "QUEUE_FULL"
    FEED_TRIMMED = "FEED_TRIMMED"
    NOT_IN_ROOM = "NOT_IN_ROOM"
    READ_ONLY = "READ_ONLY"
    ALREADY_IN_PARTY = "ALREADY_IN_PARTY"
    NOT_IN_PARTY = "NOT_IN_PARTY"
    NOT_PARTY_LEADER = "NOT_PARTY_LEADER"
    PARTY_FULL = "PARTY_FULL"
    TOO_MANY_INVITES = "TOO_MANY_INVITES"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


class CloseCode(IntEnum):
    """WebSocket close codes the server uses."""

    NORMAL = 1000
    GOING_AWAY = 1001  # server shutting down
    MESSAGE_TOO_BIG = 1009  # frame over the size limit
    INTERNAL_ERROR = 1011
    SESSION_REPLACED = 4001  # the same player opened another socket
    SESSION_REVOKED = 4002  # DELETE /v1/session
    SESSION_EXPIRED = 4003  # the session key is gone (expired or revoked elsewhere)
    KICKED = 4004  # an operator kicked the player (POST /v1/admin/players/{id}/kick)
    BANNED = 4005  # an operator banned the player (POST /v1/admin/players/{id}/ban)
    SLOW_CONSUMER = 4008  # the socket's outbox overflowed


# Close codes after which a client must not reconnect on its own with the same session:
# another socket took over, the session is gone, a person decided (kick, ban), or the
# client itself sent what the server refuses. Every other code (1001 shutting down, 1011,
# 4008 slow consumer, a dropped link) means: reconnect with backoff, then catch up.
FINAL_CLOSE_CODES = frozenset(
    {
        CloseCode.MESSAGE_TOO_BIG,
        CloseCode.SESSION_REPLACED,
        CloseCode.SESSION_REVOKED,
        CloseCode.SESSION_EXPIRED,
        CloseCode.KICKED,
        CloseCode.BANNED,
    }
)

# Most events one match.feed reply carries (its ``limit``'s top). Server and clients page
# by it: a client that asked for more and stopped at a short page would stop too early.
FEED_PAGE_MAX = 500


class FrameError(ValueError):
    """A frame that cannot be decoded into a message map."""


def decode(data: bytes | str, fmt: Format) -> Message:
    """Decode one frame into a message map, or raise FrameError."""
    try:
        if fmt is Format.MSGPACK:
            if not isinstance(data, bytes | bytearray):
                raise FrameError("binary frame expected")
            # msgpack caps container sizes by the buffer's length, so a small frame
            # cannot declare a huge map.
            obj = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
        else:
            obj = json.loads(data)
            # JSON can spell a lone surrogate (\ud800), which no UTF-8 or msgpack can carry.
            escapes = not isinstance(data, str) or SURROGATE_ESCAPE.search(data)
            if escapes and has_lone_surrogate(obj):
                raise FrameError("a JSON frame with a lone surrogate (\\ud800..\\udfff) escape")
    except FrameError:
        raise
    except Exception as exc:  # msgpack and json raise a zoo of types (RecursionError too)
        raise FrameError(f"undecodable {fmt} frame: {type(exc).__name__}") from None
    if not isinstance(obj, dict):
        raise FrameError(f"a frame must be a map, got {type(obj).__name__}")
    return obj


class Preencoded:
    """A value already encoded in one format (a cached page), placed into a message as is."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data  # msgpack bytes, or UTF-8 JSON text


def encode_value(value: Any, fmt: Format) -> bytes | str:
    if fmt is Format.MSGPACK:
        return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def encode(message: Message, fmt: Format) -> bytes | str:
    """Encode a message; msgpack gives bytes (binary frame), JSON gives str (text frame)."""
    if not any(type(v) is Preencoded for v in message.values()):
        return encode_value(message, fmt)
    # Splice pre-encoded values in without decoding them: top-level values only.
    if fmt is Format.MSGPACK:
        parts = [_MAP_HEADER.pack_map_header(len(message))]
        for key, value in message.items():
            parts.append(msgpack.packb(key))
            parts.append(value.data if type(value) is Preencoded else msgpack.packb(value))
        return b"".join(parts)
    fields = []
    for key, value in message.items():
        if type(value) is Preencoded:
            raw = value.data.decode()
        else:
            raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        fields.append(f"{json.dumps(key)}:{raw}")
    return "{" + ",".join(fields) + "}"


# One packer for every small value: msgpack.packb makes a Packer per call, which costs more
# than packing a short string. Packing runs in C under the GIL, so the one is safe to share.
_MAP_HEADER = _PACKER = msgpack.Packer(use_bin_type=True)


def ws_frame(payload: bytes | str) -> bytes:
    """A whole WebSocket frame as a server sends it (unmasked, unfragmented, uncompressed):
    text for str (JSON), binary for bytes (msgpack)."""
    if isinstance(payload, str):
        first, data = 0x81, payload.encode()
    else:
        first, data = 0x82, payload
    size = len(data)
    if size < 126:
        return bytes((first, size)) + data
    if size < 65536:
        return struct.pack("!BBH", first, 126, size) + data
    return struct.pack("!BBQ", first, 127, size) + data


class Frame:
    """One outgoing message, framed at most once per format however many sockets get it.

    Server frames carry no mask, so the very same bytes go to every recipient. A frame
    that arrives already msgpack-encoded (from another node) is decoded only if some
    recipient wants JSON.
    """

    __slots__ = ("_message", "_msgpack", "_wire")

    def __init__(self, message: Message | None = None, *, packed: bytes | None = None) -> None:
        # Both may be given when the caller already decoded the bytes (the same message).
        if message is None and packed is None:
            raise ValueError("a Frame needs a message or its msgpack bytes")
        self._message = message
        self._msgpack = packed
        self._wire: dict[Format, bytes] = {}

    @property
    def message(self) -> Message:
        if self._message is None:
            assert self._msgpack is not None
            self._message = decode(self._msgpack, Format.MSGPACK)
        return self._message

    def wire(self, fmt: Format) -> bytes:
        data = self._wire.get(fmt)
        if data is None:
            if fmt is Format.MSGPACK and self._msgpack is not None:
                payload: bytes | str = self._msgpack
            else:
                payload = encode(self.message, fmt)
            data = self._wire[fmt] = ws_frame(payload)
        return data


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry of a feed (a match's events, a room's messages, a player's notes)."""

    id: str
    push: bytes  # the whole push in msgpack, id included: the very bytes that were pushed


def packed_head(event: Push, fields: Message) -> bytes:
    """A push in msgpack, all but its trailing ``id`` field: what a feed stores.

    A ``Preencoded`` value (msgpack bytes) is placed as it is.

    The feed id is known only once Redis appends the entry, so the script that
    appends it finishes the map (``with_id``, or the same bytes built in Lua).
    """
    pack = _PACKER.pack
    parts = [_PACKER.pack_map_header(len(fields) + 2), b"\xa2ev", pack(str(event))]
    for key, value in fields.items():
        parts.append(pack(key))
        parts.append(value.data if type(value) is Preencoded else pack(value))
    return b"".join(parts)


def with_id(head: bytes, entry_id: str) -> bytes:
    """The whole push: ``head`` and its ``id`` (as the Lua scripts append it)."""
    return head + b"\xa2id" + _pack(entry_id)


def _pack(value: Any) -> bytes:
    return _PACKER.pack(value)  # type: ignore[no-any-return]


def packed(value: Any) -> bytes:
    """A value in msgpack (binary as bin, strings as str), as every push carries it."""
    return _PACKER.pack(value)  # type: ignore[no-any-return]


def ok(rid: int | None, result: Message | None = None) -> Message:
    reply: Message = {"rid": rid, "ok": True}
    if result:
        reply.update(result)
    return reply


def failure(
    rid: int | None, code: ErrorCode, message: str, retry_after_ms: int | None = None
) -> Message:
    error: Message = {"code": str(code), "message": message}
    if retry_after_ms is not None:
        error["retry_after_ms"] = retry_after_ms
    reply: Message = {"ok": False, "error": error}
    if rid is not None:
        reply = {"rid": rid, **reply}
    return reply


@dataclass(frozen=True, slots=True)
class Tell:
    """One push, as the game says it: its event and its fields (encoded once, where it
    is sent or stored)."""

    event: Push
    fields: dict[str, Any] = field(default_factory=dict)

    def message(self) -> Message:
        return push(self.event, **self.fields)


def push(event: Push | str, **fields: Any) -> Message:
    return {"ev": str(event), **fields}
