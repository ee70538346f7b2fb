"""The ``consensus`` results policy: no single player decides a match's result.

Each player's report is kept (a later one replaces it), also after the player leaves.
A match ends with a result when every player still in it reported and every report kept
is the same scores (checked on each report and when a player leaves), or,
``result_wait_s`` after the first report, when a strict majority of the roster agree;
otherwise, if a strict majority reported (and disagree), it ends disputed, with no
result; with fewer reports than that nothing is decided: the match plays on and its
next report starts a new wait (so no minority, one early reporter included, can end
a match). The deadline is a sorted set in Redis that every node's upkeep reads, and one
script decides each match, so two nodes cannot both decide it and a dead node delays
nothing.

The result job is queued only once a result is decided (so no job ever waits on a
match that may yet end disputed). A node that dies between the decision and the
job leaves the match's deadline entry behind (it is dropped only after the job is
queued): at the deadline, any node queues the job of an ended match whose result
is not applied yet. A job queued twice applies once (results.py).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack

from server.errors import ArenaError, MatchEnded
from server.modes import ModeBook, Results
from server.protocol import Push, Tell
from server.storage.consensus import ConsensusStore
from server.storage.match_record import MatchRecord
from server.storage.matches import MatchStore

log = logging.getLogger(__name__)

# How many due decisions one upkeep round takes on (the rest wait for the next round).
DECIDE_BATCH = 50
AGREED, MAJORITY, DISPUTED = "consensus", "majority", "disputed"


def canonical_scores(scores: dict[str, int], roster: list[str]) -> bytes:
    """Scores as bytes that are equal exactly when the scores are (reports compare so),
    in roster order (the order the results worker applies them in)."""
    ordered = {player: scores[player] for player in roster if player in scores}
    return msgpack.packb(ordered)  # type: ignore[no-any-return]


def outcome_of(reports: dict[str, bytes], playing: set[str], roster_size: int) -> tuple[str, bytes]:
    """What the reports decide: ``consensus`` (every player still in the match, at least
    one, reported, and every report kept, those of players who left included, is the same
    scores), ``majority`` (more than half of the roster did), else ``disputed``; with the
    agreed scores (b"" when disputed).

    A leaver's report counts: otherwise the last player left would decide alone (the
    winner reports and leaves, the loser reports a lie, and the lie would stand)."""
    first = reports.get(next(iter(playing))) if playing else None
    if (
        first is not None
        and all(reports.get(p) == first for p in playing)
        and all(scores == first for scores in reports.values())
    ):
        return AGREED, first
    counts: dict[bytes, int] = {}
    for scores in reports.values():
        counts[scores] = counts.get(scores, 0) + 1
        if counts[scores] * 2 > roster_size:
            return MAJORITY, scores
    return DISPUTED, b""


class Consensus:
    def __init__(
        self,
        matches: MatchStore,
        store: ConsensusStore,
        modes: ModeBook,
        *,
        now_ms: Callable[[], int],
        queue_result: Callable[[str], Awaitable[None]],
        ended: Callable[[MatchRecord], Awaitable[MatchRecord]],
    ) -> None:
        self._matches = matches  # the match records (read only here)
        self._store = store  # reports, deadlines, the settling script
        self._modes = modes
        self._now_ms = now_ms
        self._queue_result = queue_result  # the results job of a decided match
        self._ended = ended  # what follows any end (pointers, index, watchers)

    async def report(
        self, match: MatchRecord, player_id: str, scores: dict[str, int]
    ) -> MatchRecord:
        """Keep a player's report (replacing their earlier one); the match, ended when
        everyone still in it agrees now, else running with its decision due later."""
        packed = canonical_scores(scores, match.roster)
        reply = await self._store.report(match.match_id, player_id, packed, self._now_ms())
        if reply is None:
            raise MatchEnded("the match has ended; its result stands")
        agreed, first_ms = reply
        # Before any end: the entry also covers a node dying before it queues the job.
        wait_ms = int(self._modes.spec_for(match.mode).result_wait_s * 1000)
        await self._store.schedule_decision(match.match_id, first_ms + wait_ms)
        if agreed:
            ended = await self._settle(match, AGREED, packed)
            if ended is not None:
                return ended
        return match

    async def decide_due(self) -> None:
        """Decide the matches whose wait is over (any node's upkeep runs this)."""
        for match_id in await self._store.due_decisions(self._now_ms(), DECIDE_BATCH):
            try:
                match = await self._matches.read(match_id)
                if match is None or match.state != "running":
                    if match is not None and match.result and not match.applied:
                        # Its deciding node may have died before queueing the job.
                        await self._queue_result(match_id)
                    await self._store.drop_decision(match_id)
                    continue
                reports, playing = await self._store.reports(match_id)
                outcome, packed = outcome_of(reports, playing, len(match.roster))
                if outcome == DISPUTED and len(reports) * 2 <= len(match.roster):
                    await self._rearm(match, len(reports))
                    continue
                # None: a report changed meanwhile; the entry stays for the next round.
                await self._settle(match, outcome, packed)
            except ArenaError as exc:
                log.info("result of match %s not decided yet (%s)", match_id, exc.code)

    async def _rearm(self, match: MatchRecord, reports_read: int) -> None:
        """The deadline came with no strict majority of the roster reporting: nothing is
        decided and the match plays on; its next report starts a new wait. (Ending it
        disputed here would let any one player end any match with an early report.)"""
        first_ms = await self._store.rearm_decision(match.match_id, reports_read)
        if first_ms is not None:  # a report came just after: its wait stands
            wait_ms = int(self._modes.spec_for(match.mode).result_wait_s * 1000)
            await self._store.schedule_decision(match.match_id, first_ms + wait_ms)

    async def after_leave(self, match_id: str) -> None:
        """A player left: those still in the match may now all agree. Never raises (the
        leave stands; the deadline decides otherwise)."""
        try:
            match = await self._matches.read(match_id)
            if match is None or match.state != "running":
                return
            if self._modes.spec_for(match.mode).results is not Results.CONSENSUS:
                return
            reports, playing = await self._store.reports(match_id)
            outcome, packed = outcome_of(reports, playing, len(match.roster))
            if outcome == AGREED:
                await self._settle(match, outcome, packed)
        except ArenaError as exc:
            log.info("result of match %s not re-checked after a leave (%s)", match_id, exc.code)

    async def disputed_count(self) -> int:
        return await self._store.disputed_count()

    async def _settle(self, match: MatchRecord, outcome: str, packed: bytes) -> MatchRecord | None:
        """End the match with ``outcome`` if it still holds when the script runs: the
        ended match (also when another node ended it first), or None when the reports
        changed so that it no longer holds."""
        now = self._now_ms()
        fields: dict[str, Any] = {"match_id": match.match_id}
        if outcome == DISPUTED:
            fields.update(disputed=True, scores={}, by=outcome, ts=now)
        else:
            fields.update(scores=msgpack.unpackb(packed), by=outcome, ts=now)
        push = Tell(Push.MATCH_ENDED, fields)
        reply = await self._store.settle(
            match.match_id, outcome, packed, len(match.roster), push, now
        )
        if reply == "":
            return None
        if reply is None:  # decided elsewhere meanwhile (that node queues its job)
            ended = await self._matches.read(match.match_id)
            return ended or dataclasses.replace(match, state="ended")
        if outcome == DISPUTED:
            await self._store.count_dispute()
        else:
            await self._queue_result(match.match_id)
        await self._store.drop_decision(match.match_id)
        return await self._ended(match)
