"""What a client remembers of its session, and so which pushes are news.

- ``lobby``: the lobby as last told (a reply or ``lobby.updated``). A
  ``lobby.updated`` of the same lobby with a lower ``rev`` (an older copy re-sent
  after a server node's pub/sub gap, overtaken by a live change) is not news.
- ``rooms``: the chat rooms joined, to join again after a reconnect.
- ``following``: the matches followed and the last feed id handed on for each
  (``following.py``); a match push seen already, or one held while its match is
  caught up, is not news now.
"""

from __future__ import annotations

from client_sim.following import MatchFollowing
from server.protocol import Message

# Pushes kept in a match's feed (each with its feed id): deduplicated against catch-up.
MATCH_PUSHES = frozenset(
    {"match.event", "match.left", "match.presence", "match.ended", "match.resync"}
)


class SessionMemory:
    """The lobby, chat rooms and matches a client is in, as its replies and pushes told."""

    def __init__(self) -> None:
        # The lobby as last told, newest rev (None: in no lobby as far as we know).
        self.lobby: Message | None = None
        self.rooms: set[str] = set()
        # Matches followed: match id -> the last feed id handed on (None: none yet).
        self.following = MatchFollowing()
        # Matches whose match.started was handed on (a server-run game's first events
        # may come through another node's channel before it).
        self.started: set[str] = set()

    def replied(self, op: str, fields: Message, result: Message) -> None:
        """A request ``op`` with ``fields`` succeeded with ``result``."""
        self._remember(op, fields)
        if op.startswith("lobby."):
            self._hold_lobby(op, result.get("lobby"))

    def is_news(self, push: Message) -> bool:
        """Whether ``push`` is to be handed on (remembering what it tells if so)."""
        event = push.get("ev")
        if event == "lobby.updated":
            if not self._hold_lobby(event, push.get("lobby")):
                return False  # an older copy (re-sent after a pub/sub gap): the newer one stands
        elif event == "lobby.closed":
            if self.lobby is not None and self.lobby.get("lobby_id") == push.get("lobby_id"):
                self.lobby = None
        elif event == "match.started":
            match_id = str(push.get("match_id"))
            if match_id in self.started:
                return False  # told again after a node's pub/sub gap: not a new match
            self.started.add(match_id)
            self.following.start(match_id)
        elif event in MATCH_PUSHES:
            match_id = str(push.get("match_id"))
            if self.following.held(match_id, push):
                return False
            if not self.following.is_new(match_id, push):
                return False  # seen already: the feed and the socket overlapped
        return True

    def handed_on(self, push: Message) -> None:
        """``push`` was handed on: a match that ended is followed no more."""
        if push.get("ev") == "match.ended":
            self.following.finish(str(push.get("match_id")))

    def _remember(self, op: str, fields: Message) -> None:
        """What a reconnect must restore: rooms joined, matches left."""
        if op == "chat.join":
            self.rooms.add(str(fields.get("room")))
        elif op == "chat.leave":
            self.rooms.discard(str(fields.get("room")))
        elif op == "match.leave":
            self.following.finish(str(fields.get("match_id")))

    def _hold_lobby(self, op: str, lobby: object) -> bool:
        """Hold ``lobby`` unless it is an older copy of the one held; whether it was new."""
        if op == "lobby.leave":
            self.lobby = None
            return True
        if not isinstance(lobby, dict) or op == "lobby.get":
            return True  # not about our seat
        held = self.lobby
        if (
            held is not None
            and held.get("lobby_id") == lobby.get("lobby_id")
            and int(lobby.get("rev", 0)) < int(held.get("rev", 0))
        ):
            return False
        self.lobby = lobby
        return True
