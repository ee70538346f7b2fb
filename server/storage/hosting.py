"""Server-run matches in Redis: who hosts each match, what its players sent, what it
emitted, and where a node taking it over starts from.

Per match, under the match's hash tag (so each script below touches one slot):

- the hosting record (game, params, tick rate, seed), written once by ``open``;
- the epoch, a counter every claim moves on: the fencing token. A commit or snapshot
  under an older epoch writes nothing (``Fenced``), so a host paused past its lease
  and then resumed cannot speak after its successor;
- the lease, ``<node>:<epoch>`` with a PX TTL, renewed by the host's tick commits;
- the inputs, a capped stream, appended by whichever node holds the player's socket;
- the out feed, the match feed every match has: one entry per event, carrying the
  tick, epoch and last input consumed (``t``, ``e``, ``u``) beside the push;
- the steps since the last snapshot: the last tick committed, and tick -> last input
  consumed for the ticks that consumed any, so a replay hands each tick exactly the
  inputs it had and stops where the old host's last commit did (``Steps``);
- the snapshot: tick, epoch, last input consumed, last feed id, and the blob.

Beside them, on its own slot, a sorted set of lease deadlines that sweepers read; it is
updated in separate calls (``note_lease``), and a stale score only costs a failed claim.
Every key expires: the match's with the match (a day at most); the deadlines' set a day
after its last note, and a deadline a day old is dropped by the next sweep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgpack

from server.errors import MatchEnded
from server.games.api import Input, JsonValue
from server.games.replay import stream_order
from server.settings import RateLimit
from server.storage import keys
from server.storage.connection import pairs, text, translate_redis_errors
from server.storage.hosting_records import (
    Claim,
    Committed,
    Fenced,
    HostRecord,
    Refusal,
    Snapshot,
    Steps,
    fields_of,
)
from server.storage.matches import INPUT_BACKLOG, INPUT_KEEP, MATCH_TTL_S, sent_or_refused
from server.storage.mux import Commands
from server.storage.scripts import Scripts

# The hosting keys live as long as the match's own (a match runs at most this long).
HOST_TTL_S = MATCH_TTL_S
REPLAY_PAGE = 1000  # inputs a takeover reads at once
RETIRED_TTL_S = 3600  # an ended match's hosting keys, kept for a post-mortem
FENCED = b"FENCED"
ENDED = b"ENDED"


class HostStore:
    def __init__(self, mux: Commands, scripts: Scripts, *, feed_keep: int) -> None:
        self._mux = mux
        self._scripts = scripts
        self._keep = feed_keep

    @translate_redis_errors
    async def open(self, match_id: str, record: HostRecord) -> bool:
        """Make the match claimable; False when it was opened already (a retried start)."""
        opened = await self._scripts.host_open(
            keys=[keys.match_host(match_id)], args=[HOST_TTL_S, *record.fields()]
        )
        return bool(opened)

    @translate_redis_errors
    async def claim(self, match_id: str, node: str, lease_ms: int) -> Claim | Refusal:
        """Host the match if no one does: a new epoch and the lease, or why not."""
        reply = await self._scripts.host_claim(
            keys=[
                keys.match_host(match_id),
                keys.match_epoch(match_id),
                keys.match_lease(match_id),
                keys.match_snapshot(match_id),
            ],
            args=[node, lease_ms],
        )
        if reply == 0:
            return Refusal.HELD
        if reply == -1:
            return Refusal.GONE
        epoch, snapshot, record = reply
        return Claim(int(epoch), HostRecord.parse(record), Snapshot.parse(snapshot))

    @translate_redis_errors
    async def commit(
        self,
        match_id: str,
        *,
        epoch: int,
        node: str,
        tick: int,
        in_upto: str,
        consumed: bool,
        pushes: Sequence[bytes],
        renew_ms: int = 0,
        label: Mapping[str, JsonValue] | None = None,
    ) -> list[str]:
        """One tick's pushes (``protocol.packed_head``), appended to the match's feed and
        published in order; their feed ids. ``in_upto``: the last input consumed so far;
        ``consumed``: this tick consumed inputs. ``renew_ms``: renew the lease too;
        ``label``: the game's new label. Fenced (nothing written) when another node has
        claimed the match; MatchEnded when it ended meanwhile (abandoned, an operator)."""
        reply = await self._scripts.host_commit(
            keys=[
                keys.match_epoch(match_id),
                keys.match_lease(match_id),
                keys.match_feed(match_id),
                keys.match_steps(match_id),
                keys.match(match_id),
                keys.match_host(match_id),
            ],
            args=[
                epoch,
                node,
                renew_ms,
                tick,
                in_upto,
                1 if consumed else 0,
                keys.match_channel(match_id),
                self._keep,
                HOST_TTL_S,
                b"" if label is None else msgpack.packb(dict(label)),
                *pushes,
            ],
        )
        if reply == FENCED:
            raise Fenced(f"match {match_id}: epoch {epoch} was superseded")
        if reply == ENDED:
            raise MatchEnded(f"match {match_id} has ended")
        return [text(i) for i in reply]

    @translate_redis_errors
    async def snapshot(self, match_id: str, snapshot: Snapshot) -> None:
        """Store the snapshot taken under ``snapshot.epoch`` and trim the inputs and steps
        it covers. Fenced (nothing written) when another node has claimed the match.

        Take it between ticks: after tick ``snapshot.tick``'s commit has returned and
        before the next is sent (it drops every step recorded so far)."""
        epoch = snapshot.epoch
        reply = await self._scripts.host_snapshot(
            keys=[
                keys.match_epoch(match_id),
                keys.match_snapshot(match_id),
                keys.match_inputs(match_id),
                keys.match_steps(match_id),
            ],
            args=[
                epoch,
                snapshot.tick,
                snapshot.in_upto,
                snapshot.out_id,
                snapshot.blob,
                HOST_TTL_S,
            ],
        )
        if reply == FENCED:
            raise Fenced(f"match {match_id}: epoch {epoch} was superseded")

    @translate_redis_errors
    async def release(self, match_id: str, node: str, epoch: int, now_ms: int) -> bool:
        """Hand the match off (a draining node, after its last snapshot): drop the lease
        if still ours and mark it due, so a sweeper claims it at once. False if not ours."""
        released = await self._scripts.delete_if_equal(
            keys=[keys.match_lease(match_id)], args=[f"{node}:{epoch}"]
        )
        if released:
            await self.note_lease(match_id, now_ms)
        return bool(released)

    @translate_redis_errors
    async def retire(self, match_id: str, node: str, epoch: int) -> None:
        """The match ended: its lease goes (if still ours), sweepers forget it, and its
        hosting keys (record, epoch, inputs, steps, snapshot) live an hour more, for a
        post-mortem, instead of the day a running match's do."""
        await self._scripts.delete_if_equal(
            keys=[keys.match_lease(match_id)], args=[f"{node}:{epoch}"]
        )
        hosting_keys = (
            keys.match_host(match_id),
            keys.match_epoch(match_id),
            keys.match_inputs(match_id),
            keys.match_steps(match_id),
            keys.match_snapshot(match_id),
        )
        await self._mux.pipeline(
            ("ZREM", keys.host_leases(), match_id),
            *(("EXPIRE", key, RETIRED_TTL_S) for key in hosting_keys),
        )

    @translate_redis_errors
    async def holder(self, match_id: str) -> tuple[str, int] | None:
        """The node hosting the match and its epoch; None while no node holds it."""
        lease = await self._mux.execute("GET", keys.match_lease(match_id))
        if lease is None:
            return None
        node, _, epoch = text(lease).rpartition(":")
        return node, int(epoch)

    @translate_redis_errors
    async def steps(self, match_id: str) -> Steps:
        """What was committed since the last snapshot (read by a host that just claimed)."""
        raw = pairs(await self._mux.execute("HGETALL", keys.match_steps(match_id)))
        last = raw.pop("last", None)
        return Steps(None if last is None else int(last), {int(t): u for t, u in raw.items()})

    @translate_redis_errors
    async def committed_after(self, match_id: str, after: str, limit: int) -> list[Committed]:
        """The host-committed feed entries after ``after`` ('' for all), oldest first;
        entries appended otherwise (a player's presence) are left out."""
        start = f"({after}" if after else "-"
        raw = await self._mux.execute(
            "XRANGE", keys.match_feed(match_id), start, "+", "COUNT", limit
        )
        found = []
        for entry_id, fields in raw:
            flat = fields_of(fields)
            if "t" in flat:
                tick, epoch, upto = int(flat["t"]), int(flat["e"]), text(flat["u"])
                found.append(Committed(text(entry_id), tick, epoch, upto))
        return found

    # --- inputs ------------------------------------------------------------------------

    @translate_redis_errors
    async def add_input(
        self, match_id: str, player_id: str, type: str, data: JsonValue, limit: RateLimit
    ) -> str:
        """Store a player's input for the host's next tick; its id. NotInMatch, MatchEnded
        or RateLimited when refused."""
        reply = await self._scripts.input_add(
            keys=[
                keys.match(match_id),
                keys.match_players(match_id),
                keys.match_inputs(match_id),
                keys.match_input_rate(match_id, player_id),
            ],
            args=[
                player_id,
                1000.0 / limit.per_s,
                limit.burst,
                type,
                msgpack.packb(data),
                INPUT_KEEP,
                HOST_TTL_S,
                INPUT_BACKLOG,
            ],
        )
        return sent_or_refused(
            reply, "too many match inputs", "this match's players relay events: send match.send"
        )

    @translate_redis_errors
    async def inputs_after(self, match_id: str, after: str, limit: int) -> list[Input]:
        """Inputs after ``after`` ('' for the oldest kept), in arrival order."""
        start = f"({after}" if after else "-"
        raw = await self._mux.execute(
            "XRANGE", keys.match_inputs(match_id), start, "+", "COUNT", limit
        )
        inputs = []
        for entry_id, fields in raw:
            flat = fields_of(fields)
            inputs.append(
                Input(
                    text(flat["pl"]), text(flat["ty"]), msgpack.unpackb(flat["d"]), text(entry_id)
                )
            )
        return inputs

    async def inputs_between(self, match_id: str, after: str, upto: str) -> list[Input]:
        """The inputs after ``after`` up to ``upto`` (inclusive), in order, page by page
        (what a takeover replays)."""
        found: list[Input] = []
        if not upto or stream_order(upto) <= stream_order(after):
            return found
        bound = stream_order(upto)
        while True:
            page = await self.inputs_after(match_id, after, REPLAY_PAGE)
            found += [i for i in page if stream_order(i.id) <= bound]
            if len(page) < REPLAY_PAGE or stream_order(page[-1].id) >= bound:
                return found
            after = page[-1].id

    # --- lease deadlines, for sweepers -------------------------------------------------

    @translate_redis_errors
    async def note_lease(self, match_id: str, deadline_ms: int) -> None:
        """When the match's lease lapses unless renewed (after a claim, a renewal or a
        hand-off). The set lives while anything is noted in it."""
        await self._mux.pipeline(
            ("ZADD", keys.host_leases(), deadline_ms, match_id),
            ("EXPIRE", keys.host_leases(), HOST_TTL_S),
        )

    @translate_redis_errors
    async def forget_lease(self, match_id: str) -> None:
        """The match ended (or is gone): sweepers need not look at it again."""
        await self._mux.execute("ZREM", keys.host_leases(), match_id)

    @translate_redis_errors
    async def due_leases(self, now_ms: int, limit: int) -> list[str]:
        """Matches whose lease deadline has passed, oldest first, for a sweeper to try
        claiming. Deadlines older than any match lives are dropped first (a match whose
        every host died before it ended)."""
        _, due = await self._mux.pipeline(
            ("ZREMRANGEBYSCORE", keys.host_leases(), "-inf", now_ms - HOST_TTL_S * 1000),
            ("ZRANGEBYSCORE", keys.host_leases(), "-inf", now_ms, "LIMIT", 0, limit),
        )
        return [text(m) for m in due]
