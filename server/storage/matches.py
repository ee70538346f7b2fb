"""Matches in Redis: a hash per match, the set of players who may send, the feed, and
each player's pointer to the running match they are in. All of a match's keys share
its hash tag, so one script checks, appends and publishes. A consensus match's reports
and pending decisions are consensus.py's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgpack

from server.errors import Forbidden, MatchEnded, NotInMatch, RateLimited
from server.protocol import FeedEntry, Tell, packed_head
from server.settings import RateLimit
from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.feeds import ROOM_ENDED_TTL_S, Feeds
from server.storage.match_record import MatchRecord
from server.storage.mux import Commands
from server.storage.running import RunningIndex, RunningSummary
from server.storage.scripts import Scripts

# A match's keys outlive any sensible match. Once it ends, its state stays as long as a
# result may wait for the workers (as long as the boards remember applied results), and
# its feed an hour for late readers.
MATCH_TTL_S = 24 * 3600
ENDED_STATE_TTL_S = 7 * 86400
ENDED_FEED_TTL_S = 3600
# About how many inputs a server-run match keeps (MAXLEN ~): 40 s of 8 players at the full
# default rate (30/s), far more than a host that snapshots every second leaves, and more
# than a failover (lease 5 s + sweep) lets pile up.
INPUT_KEEP = 10_000
# Entries waiting in a server-run match's input stream past which asks to join are
# refused: a host reads 128 a tick, and snapshots trim what it read every second.
JOIN_BACKLOG = 2_000
# Past this many, inputs themselves are refused (RATE_LIMITED): the host is far behind, or
# no node hosts the match yet; what was acknowledged stays below INPUT_KEEP, never trimmed.
INPUT_BACKLOG = 5_000


def sent_or_refused(reply: list[Any], too_many: str, wrong_kind: str) -> str:
    """The feed or stream id of a send that passed ``lib/refuse_sender.lua``; else its
    refusal raised: MatchEnded, RateLimited (``too_many``), Forbidden (``wrong_kind``: a
    relayed match's event sent as an input, or the other way round) or NotInMatch."""
    if reply[0] == 1:
        return text(reply[1])
    code = text(reply[1])
    if code == "MATCH_ENDED":
        raise MatchEnded("the match has ended")
    if code == "RATE_LIMITED":
        raise RateLimited(too_many, retry_after_ms=int(reply[2]))
    if code == "WRONG_KIND":
        raise Forbidden(wrong_kind)
    raise NotInMatch("not a player of this match")


def _member_keys(match_id: str) -> list[str]:
    """What a player's leaving or presence touches: the match, its players, its feed, and
    its inputs (a server-run match's game hears of it there)."""
    return [
        keys.match(match_id),
        keys.match_players(match_id),
        keys.match_feed(match_id),
        keys.match_inputs(match_id),
    ]


class MatchStore:
    def __init__(self, mux: Commands, scripts: Scripts, feeds: Feeds, *, feed_keep: int) -> None:
        self._mux = mux
        self._scripts = scripts
        self._feeds = feeds
        self._keep = feed_keep
        self.index = RunningIndex(mux, scripts)

    def channel(self, match_id: str) -> str:
        return keys.match_channel(match_id)

    def _told(self, match_id: str, player_id: str, push: Tell) -> list[Any]:
        """The arguments a push about a player starts with in the leave and presence
        scripts: the player, the channel, the push, the feed's length and life."""
        head = packed_head(push.event, push.fields)
        return [player_id, keys.match_channel(match_id), head, self._keep, MATCH_TTL_S]

    @translate_redis_errors
    async def create(self, match: MatchRecord) -> bool:
        """Store a new running match; False when it exists already (a retried start)."""
        created = await self._scripts.match_create(
            keys=[keys.match(match.match_id), keys.match_players(match.match_id)],
            args=[
                MATCH_TTL_S,
                len(match.roster),
                *match.roster,
                *(x for kv in match.fields().items() for x in kv),
            ],
        )
        if not created:
            return False
        await self._mux.pipeline(
            *(
                ("SET", keys.player_match(p), match.match_id, "EX", MATCH_TTL_S)
                for p in match.roster
            )
        )
        return True

    @translate_redis_errors
    async def admit(self, match_id: str, player_id: str, attempt: str) -> bool:
        """A server-run match's game took a player who asked to join (ask ``attempt``):
        they are in its roster and may send inputs. True when admitted now, or when this
        ask was admitted before and they are still in (what follows may be done again: a
        takeover replays it); False when the match is not running, a later ask of theirs
        was admitted, or they left since. Their pointer is ``point_to``'s."""
        admitted = await self._scripts.match_admit(
            keys=[keys.match(match_id), keys.match_players(match_id)], args=[player_id, attempt]
        )
        return int(admitted) > 0

    @translate_redis_errors
    async def point_to(self, match_id: str, player_id: str) -> None:
        """The match is the player's running match (a new socket follows it)."""
        await self._mux.execute("SET", keys.player_match(player_id), match_id, "EX", MATCH_TTL_S)

    @translate_redis_errors
    async def asked_to_join(self, match_id: str, player_id: str, meta: bytes) -> str:
        """A player's wish to join a server-run match, for its game's ``join_attempt`` at
        the next tick (an entry of its input stream, in order with the inputs). RateLimited
        while the stream holds ``JOIN_BACKLOG`` entries."""
        entry = await self._scripts.join_ask(
            keys=[keys.match_inputs(match_id)],
            args=[player_id, meta, INPUT_KEEP, MATCH_TTL_S, JOIN_BACKLOG],
        )
        if entry is None:
            raise RateLimited("the match has too many asks waiting", retry_after_ms=1000)
        return text(entry)

    # --- the running-match index (match.list, stats) ---------------------------------

    async def index_running(self, match: MatchRecord) -> None:
        # Apart from the match's own keys (another slot on a cluster), so not in its script:
        # a start that dies in between leaves the match unlisted, never a listed ghost.
        await self.index.add(match.match_id, match.mode, len(match.roster), match.started_ms)

    async def unindex_running(self, match_id: str) -> None:
        await self.index.remove(match_id)

    @translate_redis_errors
    async def close_room(self, match_id: str) -> None:
        """The match's chat room ended with it: its log goes an hour later, as its feed
        does (LT: never lengthened; another slot on a cluster, so not in the end script)."""
        await self._mux.execute(
            "EXPIRE", keys.chat_log(f"match:{match_id}"), ROOM_ENDED_TTL_S, "LT"
        )

    async def running(self, limit: int, now_ms: int) -> list[RunningSummary]:
        """Running matches, newest first, from their summaries: one round trip. A match
        that ended without being unlisted (its node died) is tidied by the upkeep's check."""
        return await self.index.page(limit, now_ms - MATCH_TTL_S * 1000)

    @translate_redis_errors
    async def playing_count(self, match_id: str) -> int:
        return int(await self._mux.execute("SCARD", keys.match_players(match_id)))

    async def running_count(self) -> int:
        return await self.index.count()

    @translate_redis_errors
    async def read(self, match_id: str) -> MatchRecord | None:
        return MatchRecord.parse(await self._mux.execute("HGETALL", keys.match(match_id)))

    @translate_redis_errors
    async def mode_of(self, match_id: str) -> str | None:
        raw = await self._mux.execute("HGET", keys.match(match_id), "mode")
        return None if raw is None else text(raw)

    @translate_redis_errors
    async def may_read(self, match_id: str, player_id: str) -> bool:
        """Whether the player is on the match's roster (those who left may still read)."""
        roster = await self._mux.execute("HGET", keys.match(match_id), "roster")
        return roster is not None and player_id in text(roster).split(",")

    @translate_redis_errors
    async def is_playing(self, match_id: str, player_id: str) -> bool:
        return bool(await self._mux.execute("SISMEMBER", keys.match_players(match_id), player_id))

    @translate_redis_errors
    async def current_of(self, player_id: str) -> str | None:
        raw = await self._mux.execute("GET", keys.player_match(player_id))
        return None if raw is None else text(raw)

    @translate_redis_errors
    async def current_of_many(self, player_ids: list[str]) -> list[str | None]:
        """Each player's running match, in one pipeline (their pointers lie in different
        slots: a cluster's client splits it by master)."""
        if not player_ids:
            return []
        raws = await self._mux.pipeline(*(("GET", keys.player_match(p)) for p in player_ids))
        return [None if raw is None else text(raw) for raw in raws]

    @translate_redis_errors
    async def forget_current(self, player_ids: list[str], match_id: str) -> None:
        """Clear the players' pointers if they still point at this match."""
        await asyncio.gather(
            *(
                self._scripts.delete_if_equal(keys=[keys.player_match(p)], args=[match_id])
                for p in player_ids
            )
        )

    @translate_redis_errors
    async def send(self, match_id: str, player_id: str, push: Tell, limit: RateLimit) -> str:
        """Append a player's event and publish it; the feed id."""
        reply = await self._scripts.match_send(
            keys=[
                keys.match(match_id),
                keys.match_players(match_id),
                keys.match_feed(match_id),
                keys.match_send_rate(match_id, player_id),
            ],
            args=[
                player_id,
                1000.0 / limit.per_s,
                limit.burst,
                keys.match_channel(match_id),
                packed_head(push.event, push.fields),
                self._keep,
                MATCH_TTL_S,
            ],
        )
        return sent_or_refused(
            reply, "too many match events", "the server runs this match's game: send match.input"
        )

    @translate_redis_errors
    async def end(
        self, match_id: str, push: Tell, scores: dict[str, int], reported_by: str, now_ms: int
    ) -> str | None:
        """End a running match with its result; the feed id, or None if it was not running."""
        reply = await self._scripts.match_end(
            keys=[
                keys.match(match_id),
                keys.match_feed(match_id),
                keys.match_players(match_id),
                keys.match_reports(match_id),
            ],
            args=[
                keys.match_channel(match_id),
                packed_head(push.event, push.fields),
                self._keep,
                msgpack.packb(scores),
                reported_by,
                now_ms,
                ENDED_STATE_TTL_S,
                ENDED_FEED_TTL_S,
            ],
        )
        return None if reply is None else text(reply)

    @translate_redis_errors
    async def leave(
        self, match_id: str, player_id: str, push: Tell, *, reason: str = "left"
    ) -> str | None:
        """Take the player off the match; the feed id ('' if it had ended), None if not in it.
        A server-run match's game hears of it (``reason``: left or kicked)."""
        reply = await self._scripts.match_leave(
            keys=_member_keys(match_id),
            args=[
                *self._told(match_id, player_id, push),
                msgpack.packb(reason),
                INPUT_KEEP,
            ],
        )
        return None if reply is None else text(reply)

    @translate_redis_errors
    async def claim_result(self, match_id: str, job_id: str) -> str | None:
        """Claim applying the result for a job; the job holding the claim (None: no match)."""
        holder = await self._scripts.hash_set_existing(
            keys=[keys.match(match_id)], args=["claimed_by", job_id, "nx"]
        )
        return None if holder is None else text(holder)

    @translate_redis_errors
    async def mark_applied(self, match_id: str) -> None:
        await self._scripts.hash_set_existing(
            keys=[keys.match(match_id)], args=["applied", 1, "set"]
        )

    async def feed_after(self, match_id: str, after: str | None, limit: int) -> list[FeedEntry]:
        feed = keys.match_feed(match_id)
        if after is None:
            return await self._feeds.oldest(feed, limit)
        return await self._feeds.after(feed, after, limit)

    async def feed_from_last(
        self, match_id: str, starts: Callable[[bytes], bool], limit: int
    ) -> list[FeedEntry] | None:
        return await self._feeds.from_last(keys.match_feed(match_id), starts, limit)

    async def feed_tail(self, match_id: str) -> str:
        return await self._feeds.tail(keys.match_feed(match_id))

    # --- presence and abandonment (the upkeep, socket opens and closes) ----------------

    @translate_redis_errors
    async def players_of_running(self, match_ids: list[str]) -> list[list[str] | None]:
        """Each match's players who have not left, or None when it is not running (ended,
        or expired: an index entry its node died before removing)."""
        replies = await asyncio.gather(
            *(
                self._mux.pipeline(
                    ("HGET", keys.match(m), "state"), ("SMEMBERS", keys.match_players(m))
                )
                for m in match_ids
            )
        )
        return [
            [text(p) for p in members] if state == b"running" else None
            for state, members in replies
        ]

    @translate_redis_errors
    async def presence_changed(
        self, match_id: str, player_id: str, push: Tell, moment: str
    ) -> str | None:
        """Append a player's ``match.presence`` to a running match's feed and publish it;
        the feed id, or None when the match is not running, the player left it, or a
        change of theirs later than ``moment`` was announced already."""
        reply = await self._scripts.match_presence(
            keys=_member_keys(match_id),
            args=[
                *self._told(match_id, player_id, push),
                moment,
                1 if push.fields.get("online") else 0,
                INPUT_KEEP,
            ],
        )
        return None if reply is None else text(reply)

    @translate_redis_errors
    async def abandon(
        self, match_id: str, push: Tell, now_ms: int, *, by: str = "abandoned"
    ) -> list[str] | None:
        """End a running match with no result because its players are gone (``by``
        abandoned) or it ran as long as a match may (``by`` expired); its roster, or None
        when it was not running (it ended meanwhile, or expired)."""
        reply = await self._scripts.match_abandon(
            keys=[
                keys.match(match_id),
                keys.match_players(match_id),
                keys.match_feed(match_id),
                keys.match_reports(match_id),
            ],
            args=[
                keys.match_channel(match_id),
                packed_head(push.event, push.fields),
                self._keep,
                msgpack.packb({}),
                now_ms,
                ENDED_FEED_TTL_S,  # no result waits for the workers
                by,
            ],
        )
        return None if reply is None else text(reply[1]).split(",")
