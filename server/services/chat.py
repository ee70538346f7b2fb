"""Chat rooms: public rooms named by settings, and a room per lobby, per match and per
party that only its members may join, read or write.

Room names: a public room's own name, ``lobby:<lobby_id>``, ``match:<match_id>`` or
``party:<party_id>``. Messages go to a capped feed per room and, in the same script, to
the room's channel; ``chat.message`` reaches every socket that joined the room, on any
node.

A lobby's room is for those seated in the open lobby; a match's room for the players
who have not left the match; a party's room for its members. Who stops being a member
stops hearing the room too: ``lobby.leave``, ``match.leave``, ``party.leave`` and
``party.close`` take the socket out of the room, and so does a push that ends the seat
on another node's say-so (``lobby.closed``; ``match.started``, which closes the lobby;
a ``party.updated`` telling a player they are out of the party): the hub takes the
socket out of the rooms such a push ends (server/room_exits.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from server.errors import BadRequest, NotInRoom
from server.protocol import FeedEntry, Push, Tell
from server.services.lobbies import LobbyService
from server.services.matches import MatchService
from server.services.parties import PartyService
from server.services.ratelimits import RateLimiter
from server.storage.feeds import ChatStore
from server.text import clean_text

ROOM = re.compile(
    r"^(?:lobby:[0-9a-f]{12}|match:[0-9a-f]{16}|party:[0-9a-f]{12}|[a-z0-9][a-z0-9_-]{0,31})$"
)
ROOM_RULE = "room: a public room's name, lobby:<lobby_id>, match:<match_id> or party:<party_id>"
TEXT_MAX = 500
HISTORY_MAX = 100
# The text as typed may be longer than TEXT_MAX until it is normalised (NFC composes).
TEXT_RAW_MAX = 4 * TEXT_MAX


class ChatService:
    def __init__(
        self,
        store: ChatStore,
        rate_limiter: RateLimiter,
        lobbies: LobbyService,
        matches: MatchService,
        parties: PartyService,
        *,
        public_rooms: frozenset[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._rate_limiter = rate_limiter
        self._lobbies = lobbies
        self._matches = matches
        self._parties = parties
        self._public = public_rooms
        self._clock = clock

    async def _check_member(self, player_id: str, room: str) -> None:
        if not ROOM.match(room):
            raise BadRequest(ROOM_RULE)
        kind, _, ident = room.partition(":")
        if kind == "lobby" and ident:
            allowed = await self._lobbies.is_member(ident, player_id)
        elif kind == "match" and ident:
            allowed = await self._matches.in_match(ident, player_id)
        elif kind == "party" and ident:
            allowed = await self._parties.is_member(ident, player_id)
        else:
            allowed = room in self._public
        if not allowed:
            raise NotInRoom(f"no room {room!r} for you: not a member, or no such room")

    async def join(self, player_id: str, room: str) -> str:
        """Check the player may be in the room; the channel its messages travel on."""
        await self._rate_limiter.check("chat.join", player_id)
        await self._check_member(player_id, room)
        return self._store.channel(room)

    def channel(self, room: str) -> str:
        return self._store.channel(room)

    def lobby_room_channel(self, lobby_id: str) -> str:
        return self._store.channel(f"lobby:{lobby_id}")

    def match_room_channel(self, match_id: str) -> str:
        return self._store.channel(f"match:{match_id}")

    def party_room_channel(self, party_id: str) -> str:
        return self._store.channel(f"party:{party_id}")

    async def send(self, player_id: str, name: str, room: str, text: str) -> str:
        await self._rate_limiter.check("chat.send", player_id)
        # Control characters could forge lines in a client's chat log; newlines and tabs
        # are fine (server.text says what else is refused, and why).
        if not text.strip():
            raise BadRequest("text: must not be blank")
        text = clean_text(text, field="text", max_len=TEXT_MAX, multiline=True)
        await self._check_member(player_id, room)
        push = Tell(
            Push.CHAT_MESSAGE,
            {
                "room": room,
                "from": player_id,
                "name": name,
                "text": text,
                "ts": int(self._clock() * 1000),
            },
        )
        return await self._store.post(room, push)

    async def history(self, player_id: str, room: str, limit: int) -> list[FeedEntry]:
        """The room's latest messages, oldest first."""
        await self._check_member(player_id, room)
        return await self._store.history(room, min(limit, HISTORY_MAX))
