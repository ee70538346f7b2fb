"""Which chat rooms a push takes its recipients out of (the hub asks of every push)."""

from __future__ import annotations

import msgpack

from server.protocol import Push, Tell
from server.room_exits import RoomExits

exits = RoomExits(
    lambda lobby_id: f"room:lobby:{lobby_id}",
    lambda m: f"room:match:{m}",
    lambda p: f"room:party:{p}",
)


def packed(event: Push, **fields: object) -> bytes:
    return msgpack.packb(Tell(event, dict(fields)).message())  # type: ignore[no-any-return]


def test_a_lobby_closing_or_starting_its_match_ends_its_room() -> None:
    assert exits.after(packed(Push.LOBBY_CLOSED, lobby_id="l1", reason="admin")) == [
        "room:lobby:l1"
    ]
    started = packed(Push.MATCH_STARTED, match_id="m1", lobby_id="l1", mode="duel", players=[])
    assert exits.after(started) == ["room:lobby:l1"]


def test_leaving_a_match_ends_its_room() -> None:
    assert exits.after(packed(Push.MATCH_LEFT, match_id="m1", player_id="p1")) == ["room:match:m1"]


def test_other_pushes_and_garbage_end_no_room() -> None:
    assert exits.after(packed(Push.LOBBY_UPDATED, lobby={"lobby_id": "l1"})) == []
    # The words appear, but not as the event: a chat line quoting them.
    quoted = packed(Push.CHAT_MESSAGE, room="general", text="lobby.closed match.left")
    assert exits.after(quoted) == []
    assert exits.after(b"\xc1 lobby.closed") == []  # not msgpack
    assert exits.after(msgpack.packb(["match.left"])) == []  # not a map
    assert exits.after(packed(Push.LOBBY_CLOSED, lobby_id=7)) == []  # no lobby id to name


def test_being_taken_out_of_a_party_ends_its_room_and_nothing_else_does() -> None:
    change = {"what": "kicked", "player_id": "p1", "by": "p0"}
    out = packed(Push.PARTY_UPDATED, party_id="a1", party=None, change=change)
    assert exits.after(out) == ["room:party:a1"]
    still_in = packed(Push.PARTY_UPDATED, party_id="a1", party={"party_id": "a1"}, change=change)
    assert exits.after(still_in) == []
    assert exits.after(packed(Push.PARTY_UPDATED, party_id=7, party=None, change=None)) == []
