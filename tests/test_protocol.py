"""The wire format on its own: decoding, encoding once, the envelope builders."""

from __future__ import annotations

import json

import msgpack
import pytest

from server.protocol import (
    Format,
    Frame,
    FrameError,
    Preencoded,
    Push,
    decode,
    failure,
    ok,
    packed_head,
    push,
    with_id,
    ws_frame,
)


def test_both_encodings_decode_to_the_same_message() -> None:
    message = {"op": "ping", "rid": 3, "name": "zoë"}
    assert decode(msgpack.packb(message), Format.MSGPACK) == message
    assert decode(json.dumps(message), Format.JSON) == message


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"\xc1", Format.MSGPACK),
        (msgpack.packb([1, 2]), Format.MSGPACK),
        (msgpack.packb({1: "int key"}), Format.MSGPACK),
        ("[1, 2]", Format.JSON),
        ("{bad", Format.JSON),
        ("text", Format.MSGPACK),
    ],
)
def test_undecodable_or_non_map_frames_raise_frame_error(data: bytes | str, fmt: Format) -> None:
    with pytest.raises(FrameError):
        decode(data, fmt)


def test_a_frame_is_framed_once_per_format() -> None:
    frame = Frame(push("chat.message", text="hi"))
    first = frame.wire(Format.MSGPACK)
    assert frame.wire(Format.MSGPACK) is first
    assert first[0] == 0x82  # FIN + binary
    assert msgpack.unpackb(first[2:]) == {"ev": "chat.message", "text": "hi"}
    text = frame.wire(Format.JSON)
    assert text[0] == 0x81  # FIN + text
    assert json.loads(text[2:]) == {"ev": "chat.message", "text": "hi"}


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_ws_frames_use_the_right_length_encoding(size: int) -> None:
    frame = ws_frame(b"x" * size)
    if size < 126:
        header = frame[1]
    elif size < 65536:
        assert frame[1] == 126
        header = int.from_bytes(frame[2:4])
    else:
        assert frame[1] == 127
        header = int.from_bytes(frame[2:10])
    assert header == size
    assert frame.endswith(b"x" * size)


def test_envelopes() -> None:
    assert ok(4, {"x": 1}) == {"rid": 4, "ok": True, "x": 1}
    assert failure(None, "BAD_FRAME", "nope") == {  # type: ignore[arg-type]
        "ok": False,
        "error": {"code": "BAD_FRAME", "message": "nope"},
    }
    assert failure(5, "RATE_LIMITED", "slow", retry_after_ms=20)["error"]["retry_after_ms"] == 20  # type: ignore[arg-type]


def test_a_feed_entry_is_a_push_finished_by_its_id() -> None:
    head = packed_head(Push.MATCH_EVENT, {"from": "p1", "data": Preencoded(msgpack.packb([1, 2]))})
    whole = with_id(head, "1795705963132-7")
    assert msgpack.unpackb(whole) == {
        "ev": "match.event",
        "from": "p1",
        "data": [1, 2],
        "id": "1795705963132-7",
    }
