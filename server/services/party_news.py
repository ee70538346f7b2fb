"""What follows a party's change: its tickets hear of it, and its members (and whoever it
took out) get ``party.updated`` on whichever node holds their socket."""

from __future__ import annotations

import logging
from collections.abc import Collection
from enum import StrEnum
from typing import Any

from server.errors import ArenaError
from server.protocol import Push, Tell
from server.services.ports import PartyTickets, Pushes
from server.storage.parties import Party

log = logging.getLogger(__name__)


class PartyChange(StrEnum):
    """What changed, as ``party.updated``'s ``change.what`` and ``party_changed``'s reason."""

    JOINED = "joined"
    LEFT = "left"  # party.leave
    KICKED = "kicked"  # party.kick
    DROPPED = "dropped"  # their socket dropped and the reconnect grace ran out
    PROMOTED = "promoted"  # party.promote (a leader who leaves hands the lead on: LEFT)
    INVITED = "invited"  # party.invite (no membership change: tickets stand)
    CLOSED = "closed"  # party.close: everyone is out


def party_wire(party: Party) -> dict[str, Any]:
    """A party as clients see it: members oldest first (the first leads if the leader
    goes), live invites, and ``rev``, which grows with every change."""
    return {
        "party_id": party.party_id,
        "leader": party.leader,
        "open": party.open,
        "max_size": party.max_size,
        "members": [{"player_id": m.player_id, "name": m.name} for m in party.members],
        "invited": list(party.invited),
        "rev": party.rev,
    }


def updated(party_id: str, party: Party | None, change: dict[str, Any] | None) -> Tell:
    """``party.updated``: ``party`` None for a recipient no longer in it (they left, were
    kicked or dropped, or it closed); ``change`` None when it re-tells the state."""
    wire = None if party is None else party_wire(party)
    return Tell(Push.PARTY_UPDATED, {"party_id": party_id, "party": wire, "change": change})


class PartyNews:
    def __init__(self, pushes: Pushes, tickets: PartyTickets) -> None:
        self._pushes = pushes
        self._tickets = tickets

    async def after_change(
        self,
        party_id: str,
        party: Party | None,
        what: PartyChange,
        player_id: str,
        *,
        by: str | None = None,
        removed: Collection[str] = (),
    ) -> None:
        """Cancel the party's tickets (a membership or leader change), then tell the
        members as it now is, and those it took out (``removed``) that they are out."""
        if what is not PartyChange.INVITED:
            try:
                await self._tickets.party_changed(party_id, str(what))
            except ArenaError as exc:
                # The change stands; the matchmaker checks the party again when it matches.
                log.warning("tickets of party %s not told (%s): %s", party_id, what, exc.code)
        change: dict[str, Any] = {"what": str(what), "player_id": player_id}
        if by is not None:
            change["by"] = by
        if party is not None:
            await self._pushes.to_players(party.member_ids, updated(party_id, party, change))
        if removed:
            await self._pushes.to_players(list(removed), updated(party_id, None, change))

    async def invited(self, party: Party, player_id: str, by: str, by_name: str) -> None:
        """Tell the members, and the player invited (``party.invited``)."""
        await self.after_change(party.party_id, party, PartyChange.INVITED, player_id, by=by)
        tell = Tell(
            Push.PARTY_INVITED,
            {
                "party_id": party.party_id,
                "party": party_wire(party),
                "from": {"player_id": by, "name": by_name},
            },
        )
        await self._pushes.to_players([player_id], tell)
