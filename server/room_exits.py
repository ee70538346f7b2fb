"""Which chat rooms a push takes its recipients out of.

A lobby's room is for those seated in the open lobby, a match's room for the
players still in the match. A push that ends a seat on another node's say-so
ends the socket's place in the room too: ``lobby.closed`` and ``match.started``
(which closes the lobby) end the lobby's room, ``match.left`` the match's (the
hub applies that one to the leaver's sockets only), and a ``party.updated`` whose
``party`` is null (sent only to those it took out of the party) the party's.
The hub reads this of every push it delivers, so the bytes are scanned before
anything is decoded: most pushes end no seat.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgpack

from server.protocol import Push

ENDS_A_SEAT = re.compile(rb"lobby\.closed|match\.started|match\.left|party\.updated")


class RoomExits:
    def __init__(
        self,
        lobby_room: Callable[[str], str],
        match_room: Callable[[str], str],
        party_room: Callable[[str], str],
    ) -> None:
        self._lobby_room = lobby_room  # lobby id -> its room's channel
        self._match_room = match_room  # match id -> its room's channel
        self._party_room = party_room  # party id -> its room's channel

    def after(self, payload: bytes) -> list[str]:
        """The room channels the push (msgpack) takes its recipients out of."""
        if ENDS_A_SEAT.search(payload) is None:
            return []
        try:
            message = msgpack.unpackb(payload)
        except Exception:
            return []
        if not isinstance(message, dict):
            return []
        event = message.get("ev")
        match_id, lobby_id = message.get("match_id"), message.get("lobby_id")
        if event == Push.MATCH_LEFT and isinstance(match_id, str):
            return [self._match_room(match_id)]
        if event in (Push.LOBBY_CLOSED, Push.MATCH_STARTED) and isinstance(lobby_id, str):
            return [self._lobby_room(lobby_id)]
        party_id = message.get("party_id")
        if event == Push.PARTY_UPDATED and message.get("party", 0) is None:
            return [self._party_room(party_id)] if isinstance(party_id, str) else []
        return []
