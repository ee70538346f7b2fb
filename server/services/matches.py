"""Matches: started by a lobby, played through a feed of events, ended by one result.

- A match has an id, a mode, its roster, a state (running, ended) and a start time.
- ``send``: a player's event is checked (a player of a running match, within the
  rate), appended to the match's feed and published to the match's channel in one
  script, so every node's subscribers get events in feed order.
- ``feed``: what came after a feed id (or a keyframe), for a client catching up.
- ``report_result``: who may end a match with a result is the mode's policy
  (server/modes.py). ``consensus``: each player reports, and the match ends when
  every player still in it reported the same scores, or ``result_wait_s`` after the
  first report when a strict majority of the roster agree; otherwise it ends
  disputed, with no result. ``server``: only the server-key route. ``any``: the
  first report wins. An accepted result ends the match (``match.ended`` to
  everyone) and goes to the results queue, which applies it to the leaderboards.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from server.errors import (
    ArenaError,
    BadRequest,
    Forbidden,
    MatchEnded,
    NotFound,
    NotInMatch,
)
from server.feed_ids import is_feed_id
from server.modes import ModeBook, Results
from server.protocol import FEED_PAGE_MAX, FeedEntry, Preencoded, Push, Tell
from server.services.consensus import Consensus
from server.services.host_opener import HostOpener
from server.services.match_shapes import (
    MATCH_ID,
    is_keyframe_for,
    match_wire,
    may_see,
    packed_json,
    validate_match_id,
    validate_scores,
)
from server.services.presence import PresenceService
from server.services.ratelimits import RateLimiter
from server.services.watch import WatchFeed
from server.storage.consensus import ConsensusStore
from server.storage.match_record import MatchRecord
from server.storage.matches import MatchStore
from server.storage.queue import TaskQueue

log = logging.getLogger(__name__)

EVENT_TYPE = re.compile(r"^[A-Za-z0-9_.:-]{1,32}$")
DATA_MAX_BYTES = 4096
FEED_LIMIT_MAX = FEED_PAGE_MAX  # the protocol's, which clients page by
RESULT_JOB = "match.result"


class MatchService:
    def __init__(
        self,
        store: MatchStore,
        presence: PresenceService,
        rate_limiter: RateLimiter,
        results: TaskQueue,
        watch: WatchFeed,
        *,
        consensus: ConsensusStore,
        modes: ModeBook,
        hosting: HostOpener,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._hosting = hosting
        self._modes = modes
        self._presence = presence
        self._rate_limiter = rate_limiter
        self._results = results
        self._watch = watch
        self._clock = clock
        self._consensus = Consensus(
            store,
            consensus,
            modes,
            now_ms=self._now_ms,
            queue_result=self._queue_result,
            ended=self._ended,
        )

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def told_started(self, match_id: str, mode: str) -> None:
        """Its players were told (``match.started``): a server-run game may begin now."""
        if self.authoritative(mode):
            await self._hosting.ready(match_id)

    def authoritative(self, mode: str) -> bool:
        return self._modes.spec_for(mode).authoritative  # the server runs its game

    def channel(self, match_id: str) -> str:  # the one a match's events travel on
        return self._store.channel(match_id)

    # --- starting -----------------------------------------------------------------

    async def start(
        self,
        match_id: str,
        lobby_id: str,
        mode: str,
        players: list[str],
        params: Mapping[str, Any] | None = None,
        teams: list[list[str]] | None = None,
    ) -> None:
        """Store the match and have each player's socket follow it from its first event
        (idempotent: a lobby's retry sends the follow orders again, which a following
        socket ignores), before ``match.started``, so a socket follows before it sends.
        ``teams``: the matchmaker's (ratings then rate each team as one side). A player
        is in one running match at most: one still in another leaves it first. A mode
        with a game is opened for hosting (``params`` go to the game's ``init``)."""
        await self.leave_other_matches(players, match_id)
        spec = self._modes.spec_for(mode)
        match = MatchRecord(
            match_id=match_id,
            lobby_id=lobby_id,
            mode=mode,
            roster=list(players),
            state="running",
            started_ms=self._now_ms(),
            hosted=spec.authoritative,
            teams=teams,
        )
        await self._store.create(match)
        if spec.authoritative:
            await self._hosting.open(match_id, mode, spec, params or {})
        await self._presence.follow_match(players, match_id)
        await asyncio.gather(
            self._store.index_running(match),
            self._watch.match(match_wire(match, len(players))),
        )

    async def leave_other_matches(self, players: list[str], match_id: str) -> None:
        """Each player still in another running match leaves it, as by ``match.leave``
        (the others get ``match.left``; those left may now agree on a result), so the
        player's one ``current`` pointer names the new match, and one account cannot
        write into many match feeds at once."""
        currents = await asyncio.gather(*(self._store.current_of(p) for p in players))
        for player_id, old in zip(players, currents, strict=True):
            if old is None or old == match_id:  # none, or a retried start of this one
                continue
            with contextlib.suppress(NotInMatch, MatchEnded):  # left or ended meanwhile
                await self.leave(player_id, old)

    # --- playing ------------------------------------------------------------------

    async def send(self, player_id: str, match_id: str, event_type: str, data: Any) -> str:
        """A player's event to everyone in the match, the sender included; its feed id."""
        validate_match_id(match_id)
        if not EVENT_TYPE.match(event_type):
            raise BadRequest("type: 1 to 32 of A-Z, a-z, 0-9 and _ . : -")
        # Every player gets it, in msgpack or JSON: only what both can carry.
        encoded = packed_json(data, "data", DATA_MAX_BYTES)
        push = Tell(
            Push.MATCH_EVENT,
            {
                "match_id": match_id,
                "from": player_id,
                "type": event_type,
                "data": Preencoded(encoded),  # encoded once, for the size check and the push
                "ts": self._now_ms(),
            },
        )
        return await self._store.send(
            match_id, player_id, push, self._rate_limiter.limit("match.send")
        )

    async def feed(
        self,
        player_id: str,
        match_id: str,
        after: str | None,
        limit: int,
        *,
        keyframe: bool = False,
    ) -> list[FeedEntry]:
        """Events after ``after`` (None: the oldest kept), or from the last ``keyframe``."""
        validate_match_id(match_id)
        if after is not None and not is_feed_id(after):
            raise BadRequest("after: a feed id, like 1700000000000-0")
        if not await self._store.may_read(match_id, player_id):
            raise NotInMatch("not a player of this match")
        limit, starts = min(limit, FEED_LIMIT_MAX), partial(is_keyframe_for, player_id=player_id)
        entries = await self._store.feed_from_last(match_id, starts, limit) if keyframe else None
        if entries is None:
            entries = await self._store.feed_after(match_id, after, limit)
        return [e for e in entries if may_see(e.push, player_id)]

    async def leave(self, player_id: str, match_id: str, *, kicked: bool = False) -> None:
        """The player leaves the match (``kicked``: its server-run game removed them; the
        push says ``reason: "kicked"``)."""
        validate_match_id(match_id)
        fields = {"match_id": match_id, "player_id": player_id, "ts": self._now_ms()}
        if kicked:
            fields["reason"] = "kicked"
        push = Tell(Push.MATCH_LEFT, fields)
        left = await self._store.leave(
            match_id, player_id, push, reason="kicked" if kicked else "left"
        )
        if left is None:
            raise NotInMatch("not a player of this match")
        await self._store.forget_current([player_id], match_id)
        if left:  # '' when the match had ended: it is no longer listed
            await self._store.index.player_left(match_id)
            # Those still in it may all agree now.
            await self._consensus.after_leave(match_id)

    async def current_match(self, player_id: str) -> str | None:
        """The running match the player is in, if any (a new socket follows it)."""
        match_id = await self._store.current_of(player_id)
        if match_id is None:
            return None
        match = await self._store.read(match_id)
        # The pointer outlives the match when clearing it failed after the end.
        return match_id if match is not None and match.state == "running" else None

    async def running_match_of(self, player_id: str) -> MatchRecord | None:
        """The running match the player is in, with its roster, if any."""
        match_id = await self._store.current_of(player_id)
        match = None if match_id is None else await self._store.read(match_id)
        return match if match is not None and match.state == "running" else None

    # --- ending -------------------------------------------------------------------

    async def report_result(
        self, match_id: str, scores: object, *, reported_by: str | None
    ) -> MatchRecord:
        """A result for the match, from a player (``reported_by``) or, with None, from a
        trusted game server, which ends it whatever the mode's policy.

        A player's report follows the mode's ``results`` policy: ``server`` refuses it
        (Forbidden), ``any`` ends the match with it, ``consensus`` keeps it and ends the
        match once every player still in it reported the same scores (the returned
        match is then ended; else it is still running).
        """
        if reported_by is not None:
            await self._rate_limiter.check("match.result", reported_by)
        if not MATCH_ID.match(match_id):
            raise (
                NotFound("no such match")
                if reported_by is None
                else NotInMatch("not a player of this match")
            )
        match = await self._store.read(match_id)
        if match is None:
            if reported_by is None:
                raise NotFound("no such match")
            raise NotInMatch("not a player of this match")
        if reported_by is not None and reported_by not in match.roster:
            raise NotInMatch("not a player of this match")
        policy = self._modes.spec_for(match.mode).results
        if reported_by is not None and policy is Results.SERVER:
            raise Forbidden(f"mode {match.mode!r} takes results from the game server only")
        if match.state != "running":
            raise MatchEnded("the match has ended; its result stands")
        valid = validate_scores(scores, match.roster)
        if reported_by is None or policy is Results.ANY:
            return await self._end_with_result(match, valid, reported_by or "server")
        return await self._consensus.report(match, reported_by, valid)

    async def _end_with_result(
        self, match: MatchRecord, scores: dict[str, int], by: str
    ) -> MatchRecord:
        """End the match with ``scores`` at once: the first such end wins.

        The result job is queued before the match ends, so a node dying in between
        loses nothing: the worker retries a job whose match is still running.
        """
        await self._queue_result(match.match_id)
        now = self._now_ms()
        push = Tell(
            Push.MATCH_ENDED, {"match_id": match.match_id, "scores": scores, "by": by, "ts": now}
        )
        if await self._store.end(match.match_id, push, scores, by, now) is None:
            raise MatchEnded("the match has ended; its result stands")
        return await self._ended(match)

    async def _queue_result(self, match_id: str) -> None:
        await self._results.enqueue(RESULT_JOB, {"match_id": match_id})

    async def decide_due(self) -> None:
        """Decide the consensus matches whose wait is over (any node's upkeep)."""
        await self._consensus.decide_due()

    async def disputed_count(self) -> int:
        """Matches that ended disputed, ever (stats, metrics)."""
        return await self._consensus.disputed_count()

    async def end_by_operator(self, match_id: str, *, by: str = "admin") -> MatchRecord:
        """An operator (or, ``by: "error"``, a failed server-run game: the push says
        ``reason: "error"`` too) ends a running match with no result: everyone gets
        ``match.ended`` with empty scores; nothing reaches the boards."""
        match = await self._store.read(match_id) if MATCH_ID.match(match_id) else None
        if match is None:
            raise NotFound("no such match")
        if match.state != "running":
            raise MatchEnded("the match has ended already")
        now = self._now_ms()
        fields: dict[str, Any] = {"match_id": match_id, "scores": {}, "by": by, "ts": now}
        if by == "error":
            fields["reason"] = "error"
        push = Tell(Push.MATCH_ENDED, fields)
        if await self._store.end(match_id, push, {}, by, now) is None:
            raise MatchEnded("the match has ended already")
        return await self._ended(match)

    async def _ended(self, match: MatchRecord) -> MatchRecord:
        """What follows an accepted end; the end stands even if Redis fails here (the
        pointers and the index are tidied by their readers), so nothing here raises."""
        ended = dataclasses.replace(match, state="ended")
        try:
            await asyncio.gather(
                self._store.forget_current(match.roster, match.match_id),
                self._store.unindex_running(match.match_id),
                self._store.close_room(match.match_id),
                self._watch.match(match_wire(ended, 0)),
            )
            ended = await self._store.read(match.match_id) or ended
        except ArenaError as exc:
            log.warning("match %s ended; tidying after it failed: %s", match.match_id, exc.code)
        return ended

    async def current_of(self, player_id: str) -> dict[str, Any] | None:
        """The player's running match with its roster (how a reloaded client learns it)."""
        match_id = await self.current_match(player_id)
        match = None if match_id is None else await self._store.read(match_id)
        if match is None or match.state != "running":
            return None
        playing = await self._store.playing_count(match.match_id)
        return {**match_wire(match, playing), "roster": match.roster}

    # --- what is running (match.list, stats) --------------------------------------

    async def running(self, limit: int) -> list[dict[str, Any]]:
        """Running matches, newest first, shaped like ``match_wire``: one Redis call."""
        found = await self._store.running(limit, self._now_ms())
        return [
            {
                "match_id": s.match_id,
                "mode": s.mode,
                "players": s.players,
                "playing": s.playing,
                "started_ms": s.started_ms,
                "state": "running",
                "authoritative": self.authoritative(s.mode),
            }
            for s in found
        ]

    async def running_count(self) -> int:
        return await self._store.running_count()

    async def abandoned_count(self) -> int:
        """Matches ended abandoned (no player online for ARENA_MATCH_ABANDON_S), game-wide."""
        return await self._store.index.abandoned()

    # --- for the results worker and the hub -----------------------------------------

    async def read(self, match_id: str) -> MatchRecord | None:
        return await self._store.read(match_id)

    async def mark_applied(self, match_id: str) -> None:
        await self._store.mark_applied(match_id)

    async def claim_result(self, match_id: str, job_id: str) -> str | None:
        return await self._store.claim_result(match_id, job_id)

    async def in_match(self, match_id: str, player_id: str) -> bool:
        """Whether the player is in the match and has not left it (its chat room's rule)."""
        return bool(MATCH_ID.match(match_id)) and await self._store.is_playing(match_id, player_id)

    async def may_read(self, match_id: str, player_id: str) -> bool:
        return bool(MATCH_ID.match(match_id)) and await self._store.may_read(match_id, player_id)
