"""A running match's life beside its game: who of its players is online, and its end
when they have all gone.

- ``match.presence {match_id, player_id, online}``: when a player of a running match
  closes their live socket (online false), when a socket of theirs opens again
  (online true), and when their node died and their presence lapsed (online false,
  sent by whichever node's upkeep takes the lapsed player, once). It goes through the
  match's feed like any event: in order with the game's events, caught up by
  ``match.feed`` after a drop, and carried by the hub's match taps (which expect a feed
  id on everything a match channel brings).
- Abandoned matches: every node's upkeep checks a bounded batch of running matches,
  those not seen with a player online for a presence interval, the stalest first. A
  match with a player online is marked seen; one with none, last seen more than
  ``abandon_s`` plus a check interval ago, ends ``abandoned``: no result, nothing
  reaches the boards, its followers get ``match.ended {scores: {}, by: "abandoned"}``,
  watchers ``watch.match``, and it leaves the running index. The end script refuses a
  second end, so two nodes checking at once end it once, and it is counted once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable

from server.protocol import Push, packed_head
from server.services.matches import match_wire
from server.services.presence import PresenceService
from server.services.watch import WatchFeed
from server.storage.matches import MatchStore

log = logging.getLogger(__name__)

CHECK_BATCH = 200  # running matches one node's upkeep checks per tick, at most
LAPSED_BATCH = 1000  # lapsed players one node's upkeep takes per tick, at most


class MatchLifeService:
    def __init__(
        self,
        store: MatchStore,
        presence: PresenceService,
        watch: WatchFeed,
        *,
        abandon_s: float,
        check_every_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._presence = presence
        self._watch = watch
        self._abandon_ms = int(abandon_s * 1000)
        self._check_every_ms = int(check_every_s * 1000)
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # --- presence -----------------------------------------------------------------

    async def player_back(self, player_id: str, match_id: str) -> None:
        """A player of ``match_id`` opened a socket after being gone: the match hears it."""
        await self._announce(player_id, match_id, online=True)

    async def player_gone(self, player_id: str) -> None:
        """A player's live socket closed (or their node died): their running match, if
        any, hears it."""
        match_id = await self._store.current_of(player_id)
        if match_id is not None:
            await self._announce(player_id, match_id, online=False)

    async def _announce(self, player_id: str, match_id: str, *, online: bool) -> None:
        head = packed_head(
            Push.MATCH_PRESENCE,
            {"match_id": match_id, "player_id": player_id, "online": online, "ts": self._now_ms()},
        )
        # None: the match is not running or the player left it; nobody needs telling.
        await self._store.presence_changed(match_id, player_id, head)

    # --- the upkeep ---------------------------------------------------------------

    async def tick(self) -> None:
        """One node's share, every presence interval: tell the matches of players whose
        node died, then end the matches everyone has abandoned."""
        lapsed = await self._presence.take_lapsed(LAPSED_BATCH)
        await asyncio.gather(*(self.player_gone(p) for p in lapsed))
        await self.end_abandoned()

    async def end_abandoned(self) -> list[str]:
        """Check a batch of running matches; the ids this call ended as abandoned."""
        now = self._now_ms()
        candidates = await self._store.index.stalest(now - self._check_every_ms, CHECK_BATCH)
        if not candidates:
            return []
        players = await self._store.players_of_running([m for m, _ in candidates])
        online = await self._presence.online_of(sorted({p for ps in players if ps for p in ps}))
        # Seen at seen_ms, the last player may have gone up to a check later: only then
        # does the abandonment delay surely cover their absence.
        gone_before = now - self._abandon_ms - self._check_every_ms
        alive, gone, stale = [], [], []
        for (match_id, seen_ms), playing in zip(candidates, players, strict=True):
            if playing is None:
                stale.append(match_id)  # ended (or expired) and its node died before unlisting
            elif any(online[p] for p in playing):
                alive.append(match_id)
            elif seen_ms <= gone_before:
                gone.append(match_id)
        await self._store.index.seen(alive, now)
        await self._store.index.remove(*stale)
        ended = await asyncio.gather(*(self._abandon(m, now) for m in gone))
        return [m for m, done in zip(gone, ended, strict=True) if done]

    async def _abandon(self, match_id: str, now: int) -> bool:
        head = packed_head(
            Push.MATCH_ENDED, {"match_id": match_id, "scores": {}, "by": "abandoned", "ts": now}
        )
        roster = await self._store.abandon(match_id, head, now)
        if roster is None:  # it ended meanwhile (a result, an operator, another node)
            await self._store.unindex_running(match_id)
            return False
        log.info("match %s abandoned: no player online", match_id)
        await asyncio.gather(
            self._store.index.count_abandoned(),
            self._store.forget_current(roster, match_id),
            self._store.unindex_running(match_id),
        )
        match = await self._store.read(match_id)
        if match is not None:
            await self._watch.match(match_wire(dataclasses.replace(match, state="ended"), 0))
        return True
