"""The hub reads a match push's event and feed id from its bytes, not by decoding it: the
reading must agree with a full decode for every push a script can publish, and give way
to the decode (None) for any push it cannot read."""

from __future__ import annotations

import msgpack
import pytest

from server.protocol import Preencoded, Push, packed_head, with_id
from server.push_bytes import event_of, trailing_id

IDS = ["0-1", "1733198400000-0", "1733198400000-18446744073709551615", "9" * 20 + "-" + "9" * 10]
DATA = [
    None,
    {"id": "x", "to": ["a"]},
    "\xa2id",  # the id field's key, inside a value
    {"\xa2id\xaf": "1-1"},
    ["id", "1733198400000-0", b"\xa2id\xa31-1".decode("latin-1")],
    "x" * 300,
]


@pytest.mark.parametrize("entry_id", IDS)
@pytest.mark.parametrize("data", DATA)
def test_the_id_and_event_read_from_the_bytes_agree_with_a_full_decode(
    entry_id: str, data: object
) -> None:
    fields: dict[str, object] = {"match_id": "0123456789abcdef", "from": "p", "type": "move"}
    fields["data"] = Preencoded(msgpack.packb(data))
    payload = with_id(packed_head(Push.MATCH_EVENT, fields), entry_id)
    decoded = msgpack.unpackb(payload)
    assert decoded["id"] == entry_id
    assert trailing_id(payload) == entry_id
    assert event_of(payload) == decoded["ev"] == "match.event"


def test_pushes_not_laid_out_as_the_scripts_lay_them_out_are_decoded_instead() -> None:
    no_id = packed_head(Push.MATCH_EVENT, {"data": 1})
    assert trailing_id(no_id) is None
    too_far = with_id(no_id, "1-1") + b"\xc0"  # something after the id
    assert trailing_id(too_far) is None
    id_first = msgpack.packb({"id": "1-1", "ev": "match.event"})
    assert trailing_id(id_first) is None
    assert event_of(id_first) is None
    assert event_of(b"") is None
    assert trailing_id(b"") is None
