"""The ports services reach players through, in the game's words.

A service says who hears (players, or the game's watchers), which event, and
which fields; it never sees a channel name or an encoded byte. The hub's sending
half (``server.hub_out.HubPushes``) implements ``Pushes``: it encodes a push once
and publishes it where every node holding a recipient's socket hears it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from server.protocol import Tell

__all__ = ["PartyTickets", "Pushes", "Tell"]


class Pushes(Protocol):
    """Where a service's pushes go. Delivery is at most once, like pub/sub: what a player
    must not miss is also kept (``keep``) or can be read back as state."""

    async def to_players(
        self, player_ids: Collection[str], tell: Tell, *, keep: bool = False
    ) -> None:
        """Push to each player's live socket, on whichever node holds it. ``keep``: also
        kept beside each player for a minute, so a node whose pub/sub missed it tells
        them again (``kept``)."""

    async def to_watchers(self, tell: Tell) -> None:
        """Push to every watching socket (dashboards), on every node."""

    async def kept(self, player_id: str) -> list[Tell]:
        """The pushes kept for the player in the last minute, oldest first."""


class PartyTickets(Protocol):
    """The matchmaker's side of parties: only the leader queues a party, and any change of
    who is in it (or who leads it) voids what was queued."""

    async def party_changed(self, party_id: str, change: str) -> None:
        """Called after every membership change of a party (``change``: ``joined``, ``left``,
        ``kicked``, ``dropped`` when a member's reconnect grace ran out, ``promoted``,
        ``closed``): cancel the party's tickets and tell its players so."""
