"""A running match's life beside its game: who of its players is online, and its end
when they have all gone, or when it has run as long as a match may.

- ``match.presence {match_id, player_id, online}``: when a player of a running match
  closes their live socket (online false), when a socket of theirs opens again
  (online true), when their node died or stalled and their presence lapsed (online
  false, sent by whichever node's upkeep takes the lapsed player), and when a stalled
  node's heartbeat brings such a player back (online true). It goes through the
  match's feed like any event: in order with the game's events, caught up by
  ``match.feed`` after a drop, and carried by the hub's match taps (which expect a feed
  id on everything a match channel brings).
- Lapses are leased, told, then dropped: a taker that fails (or dies) between leaves
  them to be taken again when the lease ends, so the offline push is never lost (it may
  come twice). A node takes lapses and judges abandonment only once its own heartbeat
  has run unbroken for a presence TTL (``PresenceService.steady``).
- Abandoned matches: a departure (a socket closing, a lapse told) marks the match seen
  then, so its last-seen time is never earlier than its last player's departure. Every
  node's upkeep checks the running matches not seen with a player online for a
  presence interval, the stalest first, batch after batch until none is left (at most
  ``check_rounds`` batches a tick). A match with a player online is marked seen; one
  whose players are all gone, last seen more than ``abandon_s`` plus a check interval
  ago, ends ``abandoned``: no result, nothing reaches the boards, its followers get
  ``match.ended {scores: {}, by: "abandoned"}``, watchers ``watch.match``, and it
  leaves the running index. The end script refuses a second end, so two nodes checking
  at once end it once, and it is counted once.
- Expired matches: a match that has run nearly as long as its keys live (``MATCH_TTL_S``
  less two check intervals) ends the same way with ``by: "expired"``, so its players
  hear it rather than finding its keys gone. Not counted (the log says so).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable

from server.errors import ArenaError
from server.protocol import Push, Tell
from server.services.match_shapes import match_wire
from server.services.presence import PresenceService, Standing
from server.services.watch import WatchFeed
from server.storage.matches import MATCH_TTL_S, MatchStore

log = logging.getLogger(__name__)

CHECK_BATCH = 200  # running matches one abandonment check reads at once
CHECK_ROUNDS = 50  # batches one node's upkeep checks per tick, at most
LAPSED_BATCH = 1000  # lapsed players one node's upkeep takes per tick, at most
TIDY_STEP = 100  # index entries one tick's tidying step scans


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
        check_batch: int = CHECK_BATCH,
        check_rounds: int = CHECK_ROUNDS,
    ) -> None:
        self._store = store
        self._presence = presence
        self._watch = watch
        self._abandon_ms = int(abandon_s * 1000)
        self._check_every_ms = int(check_every_s * 1000)
        self._clock = clock
        self._check_batch = check_batch
        self._check_rounds = check_rounds
        # A lapse's teller has this long to tell it before another node may.
        self._lapse_lease_s = max(5.0, 4 * check_every_s)
        self._tidy_cursors = ("0", "0")

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # --- presence -----------------------------------------------------------------

    async def player_back(self, player_id: str, match_id: str, moment: str) -> None:
        """A player of ``match_id`` opened a socket after being gone (at ``moment``, from
        their claim): the match hears it."""
        await self._announce(player_id, match_id, moment, online=True)

    async def players_back(self, moments: dict[str, str]) -> dict[str, str]:
        """This node's heartbeat brought these players back (player -> moment) after their
        lapse had been told (their node stalled): their matches hear they are back. The
        players whose match could not be told (player -> moment): the caller tries them
        again (the heartbeat does not name them twice)."""
        players = list(moments)
        found = await asyncio.gather(
            *(self._store.current_of(p) for p in players), return_exceptions=True
        )
        failed: dict[str, str] = {}
        telling: list[tuple[str, str]] = []
        for player_id, match_id in zip(players, found, strict=True):
            if isinstance(match_id, BaseException):
                log.warning(
                    "could not find %s's match to say they are back: %r", player_id, match_id
                )
                failed[player_id] = moments[player_id]
            elif match_id is not None:
                telling.append((player_id, match_id))
        outcomes = await asyncio.gather(
            *(self._announce(p, m, moments[p], online=True) for p, m in telling),
            return_exceptions=True,
        )
        for (player_id, match_id), outcome in zip(telling, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.warning("could not tell match %s %s is back: %r", match_id, player_id, outcome)
                failed[player_id] = moments[player_id]
        return failed

    async def sockets_closed(self, closed: list[tuple[str, str]]) -> None:
        """Players' sockets closed on this node (player, socket id), released together
        (a mass drop is thousands at once). Their matches are seen first, before they
        count as gone, so no check can take them for long gone meanwhile; then those
        whose live socket it was are gone, and their matches hear it. Only a failed
        release is raised (to every socket of the batch); the rest is logged."""
        players = [player_id for player_id, _ in closed]
        matches: dict[str, str | None] | None = None
        try:
            found = await self._store.current_of_many(players)
            matches = dict(zip(players, found, strict=True))
            leaving = sorted({match_id for match_id in found if match_id is not None})
            if leaving:
                await self._store.index.seen(leaving, self._now_ms())
        except ArenaError as exc:  # a departure not marked is allowed for (see ``_check``)
            log.warning("could not mark %d departures' matches seen: %s", len(closed), exc.message)
        gone = await self._presence.sockets_closed(closed)
        if gone:
            await self._players_gone(gone, matches)

    async def _players_gone(
        self, moments: dict[str, str], matches: dict[str, str | None] | None
    ) -> None:
        """``player_gone`` for many (player -> moment), their matches read already unless
        ``matches`` is None. Never raised: they are released, so a lapse will not tell
        their matches either; a failure is logged, player by player."""
        try:
            if matches is None:
                found = await self._store.current_of_many(list(moments))
                matches = dict(zip(moments, found, strict=True))
            telling = [(p, m) for p in moments if (m := matches.get(p)) is not None]
            if not telling:
                return
            outcomes = await asyncio.gather(
                *(self._announce(p, m, moments[p], online=False) for p, m in telling),
                return_exceptions=True,
            )
            for (player_id, match_id), outcome in zip(telling, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    log.warning("could not tell match %s %s went: %r", match_id, player_id, outcome)
            await self._store.index.seen(sorted({m for _, m in telling}), self._now_ms())
        except ArenaError as exc:
            log.warning(
                "could not tell %d departed players' matches: %s", len(moments), exc.message
            )

    async def player_gone(self, player_id: str, moment: str) -> None:
        """A player's live socket closed (or their node died) at ``moment`` (from the
        release or the lapse's lease): their running match, if any, hears it, and is
        seen now (its abandonment delay runs from this departure)."""
        match_id = await self._store.current_of(player_id)
        if match_id is not None:
            await self._announce(player_id, match_id, moment, online=False)
            await self._store.index.seen([match_id], self._now_ms())

    async def _announce(self, player_id: str, match_id: str, moment: str, *, online: bool) -> None:
        push = Tell(
            Push.MATCH_PRESENCE,
            {"match_id": match_id, "player_id": player_id, "online": online, "ts": self._now_ms()},
        )
        # None: the match is not running, the player left it, or a later change of theirs
        # (announced by another node meanwhile) was told already: nobody needs telling.
        await self._store.presence_changed(match_id, player_id, push, moment)

    # --- the upkeep ---------------------------------------------------------------

    async def tick(self) -> None:
        """One node's share, every presence interval: tell the matches of players whose
        node died, end the matches everyone has abandoned (both only once this node's
        heartbeat is steady), end those that ran as long as a match may, and tidy the
        running index a step."""
        if self._presence.steady():
            await self.tell_lapsed()
            await self.end_abandoned()
        await self.end_expiring()
        self._tidy_cursors, _ = await self._store.index.tidy(self._tidy_cursors, TIDY_STEP)

    async def tell_lapsed(self) -> list[str]:
        """Lease lapsed players, tell their matches, drop those told; the players told.
        A failed telling is logged and left to the lease's end (then told again)."""
        lapsed, lease, moment = await self._presence.lease_lapsed(LAPSED_BATCH, self._lapse_lease_s)
        outcomes = await asyncio.gather(
            *(self.player_gone(p, moment) for p in lapsed), return_exceptions=True
        )
        told = []
        for player_id, outcome in zip(lapsed, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.warning("could not tell %s's match they lapsed: %r", player_id, outcome)
            else:
                told.append(player_id)
        await self._presence.drop_lapsed(told, lease)
        return told

    async def end_abandoned(self) -> list[str]:
        """Check the running matches not seen lately, batch after batch (at most
        ``check_rounds``); the ids this call ended as abandoned."""
        now = self._now_ms()
        ended: list[str] = []
        skip = 0  # candidates left in place (not yet old enough, or failed): read past them
        for _ in range(self._check_rounds):
            candidates = await self._store.index.stalest(
                now - self._check_every_ms, self._check_batch, skip=skip
            )
            if not candidates:
                break
            done, left = await self._check(candidates, now)
            ended += done
            skip += left
            if len(candidates) < self._check_batch:
                break
        return ended

    async def _check(self, candidates: list[tuple[str, int]], now: int) -> tuple[list[str], int]:
        """(The ids ended as abandoned, how many candidates stay listed as they were)."""
        players = await self._store.players_of_running([m for m, _ in candidates])
        standing = await self._presence.standing_of(sorted({p for ps in players if ps for p in ps}))
        # Seen at seen_ms, the last player may have gone up to a check later (if marking
        # their departure failed): only then does the delay surely cover their absence.
        gone_before = now - self._abandon_ms - self._check_every_ms
        alive, maybe_gone, stale, left = [], [], [], 0
        for (match_id, seen_ms), playing in zip(candidates, players, strict=True):
            states = {standing[p] for p in playing or ()}
            if playing is None:
                stale.append(match_id)  # ended (or expired) and its node died before unlisting
            elif Standing.ONLINE in states:
                alive.append(match_id)
            elif Standing.LAPSING not in states and seen_ms <= gone_before:
                maybe_gone.append(match_id)
            else:
                left += 1  # not gone long enough, or a lapse not yet told
        await self._store.index.seen(alive, now)
        await self._store.index.remove(*stale)
        # Read again: a departure marked since the candidates were read counts.
        seen_now = await self._store.index.seen_of(maybe_gone)
        gone = [m for m, s in zip(maybe_gone, seen_now, strict=True) if s and s <= gone_before]
        outcomes = await asyncio.gather(
            *(self._end_without_result(m, now, "abandoned") for m in gone), return_exceptions=True
        )
        ended = []
        for match_id, outcome in zip(gone, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.warning("could not end abandoned match %s: %r", match_id, outcome)
                left += 1
            elif outcome:
                ended.append(match_id)
        return ended, left

    async def end_expiring(self) -> list[str]:
        """End the running matches whose keys are about to expire (``by: "expired"``);
        the ids this call ended."""
        now = self._now_ms()
        due = await self._store.index.started_before(
            now - (MATCH_TTL_S * 1000 - 2 * self._check_every_ms), self._check_batch
        )
        outcomes = await asyncio.gather(
            *(self._end_without_result(m, now, "expired") for m in due), return_exceptions=True
        )
        ended = []
        for match_id, outcome in zip(due, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.warning("could not end expiring match %s: %r", match_id, outcome)
            elif outcome:
                ended.append(match_id)
        return ended

    async def _end_without_result(self, match_id: str, now: int, by: str) -> bool:
        push = Tell(Push.MATCH_ENDED, {"match_id": match_id, "scores": {}, "by": by, "ts": now})
        roster = await self._store.abandon(match_id, push, now, by=by)
        if roster is None:  # it ended meanwhile (a result, an operator, another node)
            await self._store.unindex_running(match_id)
            return False
        if by == "abandoned":
            log.info("match %s abandoned: no player online", match_id)
        else:
            log.info("match %s ended: it ran as long as a match may", match_id)
        await asyncio.gather(
            *([self._store.index.count_abandoned()] if by == "abandoned" else []),
            self._store.forget_current(roster, match_id),
            self._store.unindex_running(match_id),
            self._store.close_room(match_id),
        )
        match = await self._store.read(match_id)
        if match is not None:
            await self._watch.match(match_wire(dataclasses.replace(match, state="ended"), 0))
        return True
