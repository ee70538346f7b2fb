"""Who is in which party, read only: what the matchmaker asks of parties (a party's
ticket holds its whole roster, and only its leader queues it). Apart from PartyService,
which tells the matchmaker of every change: neither needs the other to be built."""

from __future__ import annotations

import time

from server.errors import NotPartyLeader
from server.storage.parties import PartyStore


class PartyRoster:
    def __init__(self, store: PartyStore) -> None:
        self._store = store

    async def members_led_by(self, player_id: str) -> tuple[str | None, list[str]]:
        """(the player's party, its members oldest first) when they lead one; (None,
        [the player]) when they are in none; NotPartyLeader when they follow."""
        party_id = await self._store.party_of(player_id)
        party = None if party_id is None else await self._store.read(party_id, _now_ms())
        if party is None or not party.has(player_id):
            return None, [player_id]
        if party.leader != player_id:
            raise NotPartyLeader("only your party's leader queues it, for the whole party")
        return party.party_id, party.member_ids


def _now_ms() -> int:
    return int(time.time() * 1000)
