"""A consensus match's storage: each player's report, the script that settles the
match when an outcome still holds, the pending deadlines every node's upkeep reads, and
the count of disputes (server/services/consensus.py is the policy). The reports share
the match's hash tag, so one script checks them against the match and ends it."""

from __future__ import annotations

from server.protocol import Tell, packed_head
from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.matches import ENDED_FEED_TTL_S, ENDED_STATE_TTL_S, MATCH_TTL_S
from server.storage.mux import Commands
from server.storage.scripts import Scripts


class ConsensusStore:
    def __init__(self, mux: Commands, scripts: Scripts, *, feed_keep: int) -> None:
        self._mux = mux
        self._scripts = scripts
        self._keep = feed_keep  # a settled match's feed, as MatchStore keeps it

    @translate_redis_errors
    async def report(
        self, match_id: str, player_id: str, scores: bytes, now_ms: int
    ) -> tuple[bool, int] | None:
        """Keep a player's report (``scores``: canonical msgpack). (Whether every player
        still in the match reported these scores, when the first report came); None when
        the match is not running."""
        reply = await self._scripts.match_report(
            keys=[keys.match(match_id), keys.match_players(match_id), keys.match_reports(match_id)],
            args=[player_id, scores, now_ms, MATCH_TTL_S],
        )
        return None if reply is None else (reply[0] == 1, int(reply[1]))

    @translate_redis_errors
    async def reports(self, match_id: str) -> tuple[dict[str, bytes], set[str]]:
        """Every report so far (player id -> canonical scores), and who is still in it."""
        reports, playing = await self._mux.pipeline(
            ("HGETALL", keys.match_reports(match_id)), ("SMEMBERS", keys.match_players(match_id))
        )
        by_player = {text(reports[i]): bytes(reports[i + 1]) for i in range(0, len(reports), 2)}
        return by_player, {text(p) for p in playing}

    @translate_redis_errors
    async def settle(
        self,
        match_id: str,
        outcome: str,
        scores: bytes,
        roster_size: int,
        push: Tell,
        now_ms: int,
    ) -> str | None:
        """End a consensus match if ``outcome`` (consensus, majority, disputed) still holds:
        the feed id; '' when it no longer holds; None when the match is not running."""
        reply = await self._scripts.match_settle(
            keys=[
                keys.match(match_id),
                keys.match_players(match_id),
                keys.match_reports(match_id),
                keys.match_feed(match_id),
            ],
            args=[
                outcome,
                scores,
                roster_size,
                keys.match_channel(match_id),
                packed_head(push.event, push.fields),
                self._keep,
                now_ms,
                ENDED_STATE_TTL_S,
                ENDED_FEED_TTL_S,
            ],
        )
        return None if reply is None else text(reply)

    @translate_redis_errors
    async def schedule_decision(self, match_id: str, due_ms: int) -> None:
        """The match must be decided at ``due_ms`` if everyone has not agreed by then."""
        pending = keys.pending_results()
        await self._mux.pipeline(
            ("ZADD", pending, "NX", due_ms, match_id),
            # Entries leave when decided; the key goes once nothing was pending for a while.
            ("EXPIRE", pending, 2 * MATCH_TTL_S),
        )

    @translate_redis_errors
    async def due_decisions(self, now_ms: int, limit: int) -> list[str]:
        """Matches whose decision is due, oldest first; entries older than any match can
        live (their match expired undecided) are dropped."""
        pending = keys.pending_results()
        _, due = await self._mux.pipeline(
            ("ZREMRANGEBYSCORE", pending, "-inf", now_ms - MATCH_TTL_S * 1000),
            ("ZRANGEBYSCORE", pending, "-inf", now_ms, "LIMIT", 0, limit),
        )
        return [text(match_id) for match_id in due]

    @translate_redis_errors
    async def rearm_decision(self, match_id: str, reports_read: int) -> int | None:
        """Too few reports at the deadline: forget the wait (the next report starts a new
        one) and drop the deadline. The first report's time if a report came after the
        wait was forgotten (its deadline must stand: the caller schedules it again); None
        otherwise (also when a report came before the script: then the entry stays)."""
        forgotten = await self._scripts.match_rearm(
            keys=[keys.match(match_id), keys.match_reports(match_id)], args=[reports_read]
        )
        if not forgotten:
            return None
        # Apart from the match's keys (another slot on a cluster): a report landing between
        # the script and this ZREM set a new first time; it is read back and rescheduled.
        _, first = await self._mux.pipeline(
            ("ZREM", keys.pending_results(), match_id),
            ("HGET", keys.match(match_id), "first_report_ms"),
        )
        return None if first is None else int(first)

    @translate_redis_errors
    async def drop_decision(self, match_id: str) -> None:
        await self._mux.execute("ZREM", keys.pending_results(), match_id)

    @translate_redis_errors
    async def count_dispute(self) -> None:
        await self._mux.execute("INCR", keys.disputed_matches())

    @translate_redis_errors
    async def disputed_count(self) -> int:
        return int(await self._mux.execute("GET", keys.disputed_matches()) or 0)
