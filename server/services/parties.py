"""Parties: players who queue together. create, invite, join, leave, kick, promote, close.

- A party lives in Redis under one hash tag, changed only by Lua scripts: two nodes
  racing on one party stay consistent, and a party outlives its creator's node.
- A player is in one party at most: a pointer per player names their party, and their
  creates and joins run one at a time under a per-player lock; a pointer whose party
  does not hold them (a node died half-way) is stale and given up.
- The leader invites, kicks, promotes and closes; a leader who goes hands the lead to
  the oldest member; the last member out ends the party. Anyone may join an open
  party; a closed one only with a live invite (``INVITE_TTL_S``, ``INVITES_MAX``).
- A member's seat is a lease their node renews while they are connected: a socket
  that dropped keeps the seat for the reconnect grace (``ARENA_PARTY_GRACE``), then
  any node's upkeep takes them out (``dropped``), unless they came back in time.
- Every change pushes ``party.updated`` to the members on any node (and to whoever
  it took out), and every change of who is in the party, or leads it, calls
  ``PartyTickets.party_changed`` (the matchmaker cancels the party's tickets).
- Every key expires: a change renews a party's keys, and so does the heartbeat of a
  node with members connected; a party nobody is connected to ends by itself.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable

from server.errors import (
    AlreadyInParty,
    ArenaError,
    BadRequest,
    Forbidden,
    NotFound,
    NotInParty,
    NotPartyLeader,
    PartyFull,
    TooManyInvites,
    Unavailable,
)
from server.protocol import Tell
from server.services.party_news import PartyChange, PartyNews, updated
from server.services.ports import PartyTickets, Pushes
from server.services.presence import PresenceService
from server.services.profiles import ProfileService
from server.services.ratelimits import RateLimiter
from server.storage.parties import Outcome, Party, PartyMember, PartyStore

__all__ = ["Party", "PartyMember", "PartyService"]

log = logging.getLogger(__name__)

PARTY_ID = re.compile(r"^[0-9a-f]{12}$")
MAX_SIZE_MIN, MAX_SIZE_MAX = 1, 8
INVITES_MAX = 16  # live invites per party
INVITE_TTL_S = 300
# A party's keys and a member's pointer outlive the seat lease by this much: a party
# whose members all dropped is ended by their lapses first, and by the TTL if not.
KEY_MARGIN_MS = 3_600_000
LOCK_WAIT_S = 3.0
# Freeing lapsed seats: a claimed seat that could not be freed is retried this much later,
# and one upkeep round spends at most this long on them.
UPKEEP_RETRY_MS = 5000
UPKEEP_BUDGET_S = 1.0


def now_ms() -> int:
    return int(time.time() * 1000)


class PartyService:
    def __init__(
        self,
        store: PartyStore,
        rate_limiter: RateLimiter,
        presence: PresenceService,
        profiles: ProfileService,
        pushes: Pushes,
        tickets: PartyTickets,
        *,
        grace_s: float,
        renew_interval_s: float,
    ) -> None:
        self._store = store
        self._rate_limiter = rate_limiter
        self._presence = presence
        self._profiles = profiles
        self._news = PartyNews(pushes, tickets)
        # A lease outlives one missed renewal, so a connected member never loses a seat.
        self._lease_ms = int((grace_s + renew_interval_s) * 1000)
        self._ttl_ms = self._lease_ms + KEY_MARGIN_MS

    @property
    def lease_ms(self) -> int:
        """How long a member's place outlives their node's last renewal."""
        return self._lease_ms

    # --- reads (the matchmaker's too) --------------------------------------------------

    async def get(self, party_id: str) -> Party | None:
        """The party as it is now (leader, members oldest first), or None."""
        if not PARTY_ID.match(party_id):
            return None
        return await self._store.read(party_id, now_ms())

    async def party_of(self, player_id: str) -> str | None:
        """The party the player is in, or None."""
        party_id = await self._store.party_of(player_id)
        if party_id is None:
            return None
        party = await self._store.read(party_id, now_ms())
        return party_id if party is not None and party.has(player_id) else None

    async def is_member(self, party_id: str, player_id: str) -> bool:
        party = await self.get(party_id)
        return party is not None and party.has(player_id)

    async def party_news(self, player_id: str) -> Tell | None:
        """``party.updated`` with the player's party as it is now (``change`` None), for a
        socket opening or a node whose pub/sub came back; None when in no party."""
        party_id = await self.party_of(player_id)
        party = None if party_id is None else await self.get(party_id)
        return None if party is None else updated(party.party_id, party, None)

    # --- changes -------------------------------------------------------------------------

    async def create(self, player_id: str, name: str, *, is_open: bool, max_size: int) -> Party:
        await self._rate_limiter.check("party.create", player_id)
        if not MAX_SIZE_MIN <= max_size <= MAX_SIZE_MAX:
            raise BadRequest(f"max_size: must be between {MAX_SIZE_MIN} and {MAX_SIZE_MAX}")
        party_id = secrets.token_hex(6)
        async with self._store.holding_player(player_id, wait_s=LOCK_WAIT_S):
            await self._refuse_if_elsewhere(player_id, party_id)
            outcome = await self._seated(
                player_id,
                party_id,
                lambda: self._store.create(
                    party_id,
                    player_id,
                    name,
                    is_open=is_open,
                    max_size=max_size,
                    now_ms=now_ms(),
                    ttl_ms=self._ttl_ms,
                ),
            )
        if outcome.party is None:  # 'exists': a 48-bit id drawn twice
            raise Unavailable("could not make a party id; try again", retry_after_ms=0)
        return outcome.party

    async def join(self, player_id: str, name: str, party_id: str) -> Party:
        # Counted before any lookup: probing for party ids costs the same as joining.
        await self._rate_limiter.check("party.join", player_id)
        if not PARTY_ID.match(party_id):
            raise NotFound("no such party")
        async with self._store.holding_player(player_id, wait_s=LOCK_WAIT_S):
            await self._refuse_if_elsewhere(player_id, party_id)
            outcome = await self._seated(
                player_id,
                party_id,
                lambda: self._store.join(party_id, player_id, name, now_ms(), self._ttl_ms),
            )
        if outcome.status == "gone":
            raise NotFound("no such party")
        if outcome.status == "closed":
            raise Forbidden("the party is invite-only: its leader must party.invite you")
        if outcome.status == "full":
            raise PartyFull("the party is full")
        assert outcome.party is not None
        if outcome.status == "ok":
            await self._news.after_change(party_id, outcome.party, PartyChange.JOINED, player_id)
        return outcome.party  # 'member': already in it (a retry), nothing changed

    async def leave(self, player_id: str) -> str:
        """Leave the player's party; the party they left."""
        await self._rate_limiter.check("party.leave", player_id)
        party_id = await self._mine(player_id)
        await self._take_out(party_id, player_id, "", PartyChange.LEFT)
        return party_id

    async def kick(self, leader: str, player_id: str) -> Party | None:
        """The leader takes a member out; the party after."""
        await self._rate_limiter.check("party.kick", leader)
        if player_id == leader:
            raise BadRequest("player_id: not yourself (party.leave leaves)")
        party_id = await self._mine(leader)
        return await self._take_out(party_id, player_id, leader, PartyChange.KICKED)

    async def promote(self, leader: str, player_id: str) -> Party:
        """The leader hands the lead to another member."""
        await self._rate_limiter.check("party.promote", leader)
        party_id = await self._mine(leader)
        if player_id == leader:
            party = await self._store.read(party_id, now_ms())
            if party is not None and party.leader == leader:
                return party  # leads already: nothing changes
        outcome = await self._store.promote(party_id, leader, player_id, now_ms(), self._ttl_ms)
        if outcome.status == "not_member":
            raise NotFound("player_id: not a member of your party")
        party = await self._unless_refused(outcome, party_id, leader)
        await self._news.after_change(party_id, party, PartyChange.PROMOTED, player_id, by=leader)
        return party

    async def invite(self, leader: str, leader_name: str, player_id: str) -> Party:
        """Let a player join the leader's party (open or not) for ``INVITE_TTL_S``."""
        await self._rate_limiter.check("party.invite", leader)
        if player_id == leader:
            raise BadRequest("player_id: not yourself")
        await self._profiles.get(player_id)  # NOT_FOUND for nobody
        party_id = await self._mine(leader)
        now = now_ms()
        outcome = await self._store.invite(
            party_id,
            leader,
            player_id,
            now_ms=now,
            expires_ms=now + INVITE_TTL_S * 1000,
            most=INVITES_MAX,
            ttl_ms=self._ttl_ms,
        )
        if outcome.status == "already_member":
            raise BadRequest("player_id: already a member of your party")
        if outcome.status == "too_many":
            raise TooManyInvites(
                f"at most {INVITES_MAX} live invites per party",
                retry_after_ms=max(outcome.until_ms - now, 0),
            )
        party = await self._unless_refused(outcome, party_id, leader)
        await self._news.invited(party, player_id, leader, leader_name)
        return party

    async def close(self, leader: str) -> str:
        """The leader ends the party: everyone is out. The party closed."""
        await self._rate_limiter.check("party.close", leader)
        party_id = await self._mine(leader)
        status, members = await self._store.close(party_id, leader)
        await self._refuse(status, party_id, leader)
        await self._store.unpoint(party_id, members)
        await self._news.after_change(
            party_id, None, PartyChange.CLOSED, leader, by=leader, removed=members
        )
        return party_id

    # --- seat leases -------------------------------------------------------------------

    async def renew_seats(self, player_ids: list[str]) -> None:
        """A node's heartbeat: its connected players keep their party seats (and their
        parties' keys live on)."""
        await self._store.renew(player_ids, now_ms() + self._lease_ms, self._ttl_ms)

    async def free_lapsed_seats(self) -> None:
        """Take out the members whose lease ran out (their socket dropped, or their node
        died, a grace ago). Any node may run this; each seat is claimed by one, retried if
        that fails. Only once this node's heartbeat is steady (see
        ``LobbyService.free_lapsed_seats``: after a Redis outage, live nodes' players
        are stamped online again before anyone is taken for gone)."""
        if not self._presence.steady():
            return
        now = now_ms()
        stop_at = time.monotonic() + UPKEEP_BUDGET_S
        for player_id in await self._store.lapsed(now):
            if time.monotonic() > stop_at:
                break  # the rest wait for the next round (their leases stay lapsed)
            if not await self._store.claim_lapsed(player_id, now, now + UPKEEP_RETRY_MS):
                continue
            try:
                await self._free_lapsed(player_id, now)
            except ArenaError as exc:
                log.info("party seat of %s not freed yet (%s)", player_id, exc.code)

    async def _free_lapsed(self, player_id: str, now: int) -> None:
        _, online = await self._presence.lookup([player_id])
        if online[player_id]:
            await self._store.lease(player_id, now + self._lease_ms)
            return  # back on some node just now: its heartbeat takes over
        party_id = await self._store.party_of(player_id)
        if party_id is None:
            await self._store.drop_leases([player_id])
            return
        with contextlib.suppress(NotInParty):  # a stale pointer: it is gone now
            await self._take_out(party_id, player_id, "", PartyChange.DROPPED)

    # --- the steps changes share -----------------------------------------------------

    async def _mine(self, player_id: str) -> str:
        """The party the player's pointer names, or NOT_IN_PARTY (the scripts check that
        the party still holds them)."""
        party_id = await self._store.party_of(player_id)
        if party_id is None:
            raise NotInParty("not in a party")
        return party_id

    async def _refuse_if_elsewhere(self, player_id: str, party_id: str) -> None:
        """ALREADY_IN_PARTY when the player is in another party; a stale pointer (its
        party does not hold them) is given up. Under the player's lock."""
        held = await self._store.party_of(player_id)
        if held is None or held == party_id:
            return
        party = await self._store.read(held, now_ms())
        if party is not None and party.has(player_id):
            raise AlreadyInParty(f"already in party {held}: party.leave first")
        await self._store.unpoint(held, [player_id])

    async def _seated(
        self, player_id: str, party_id: str, change: Callable[[], Awaitable[Outcome]]
    ) -> Outcome:
        """Point the player at the party, then run the create or join (``change``); the
        pointer is given back if they did not end up in it."""
        await self._store.point(player_id, party_id, self._ttl_ms)
        try:
            outcome = await change()
        except BaseException:
            await self._store.unpoint(party_id, [player_id])
            raise
        if outcome.status in ("ok", "member"):
            await self._store.lease(player_id, now_ms() + self._lease_ms)
        else:
            await self._store.unpoint(party_id, [player_id])
        return outcome

    async def _take_out(
        self, party_id: str, player_id: str, by: str, what: PartyChange
    ) -> Party | None:
        """Take the player out (``by`` '' themselves or the server, else the kicker); the
        party after (None when it ended)."""
        outcome = await self._store.leave(party_id, player_id, by, now_ms(), self._ttl_ms)
        if outcome.status == "not_member":
            if by:
                raise NotFound("player_id: not a member of your party")
            await self._store.unpoint(party_id, [player_id])  # a stale pointer
            raise NotInParty("not in a party")
        if outcome.status != "ended":
            await self._refuse(outcome.status, party_id, by)
        await self._store.unpoint(party_id, [player_id])
        await self._news.after_change(
            party_id, outcome.party, what, player_id, by=by or None, removed=[player_id]
        )
        return outcome.party

    async def _unless_refused(self, outcome: Outcome, party_id: str, asker: str) -> Party:
        """The party a script changed, or the error its refusal means for the asker."""
        await self._refuse(outcome.status, party_id, asker)
        if outcome.party is None:
            raise ArenaError(f"party script answered {outcome.status!r} without the party")
        return outcome.party

    async def _refuse(self, status: str, party_id: str, asker: str) -> None:
        """Nothing for 'ok'; else the error a leader's script refusal means for the asker."""
        if status == "ok":
            return
        if status == "member":
            raise NotPartyLeader("only the party's leader may do that")
        if status in ("gone", "outsider"):
            await self._store.unpoint(party_id, [asker])  # a stale pointer
            raise NotInParty("not in a party")
        raise ArenaError(f"party script answered {status!r}")
