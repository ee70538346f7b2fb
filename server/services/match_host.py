"""The host: runs the server-run matches this node holds; takes over those whose host is
gone. One scheduler ticks them all; each tick's outputs are committed in one script under
the match's epoch before anyone hears them, so a paused or dead host's ticks reach no one
and a stale host's writes are refused (``Fenced``: it drops its copy silently). What the
game decided besides events (kick, end, admit, refuse) is carried out after the commit,
safe to repeat. A sweeper claims matches whose lease lapsed (or were handed off, or are
new), rebuilds them from snapshot and committed ticks (``server.games.replay``), says
``match.resync``, and goes on. SIGTERM: ``drain`` snapshots and releases every match.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from server.errors import ArenaError, MatchEnded
from server.games.api import End, Game, Input, Kick
from server.games.match import Abandon, Admit, Refuse, Step
from server.games.replay import last_consumed, rebuild
from server.games.scheduler import Scheduler
from server.services.host_opener import Doorbell
from server.services.host_outputs import (
    RESYNC,
    GameOutputError,
    HostCounts,
    Hosted,
    checked_snapshot,
    encode_outputs,
)
from server.services.hosted_matches import HostedMatches
from server.storage.host_nodes import HostNodes
from server.storage.hosting import HostStore
from server.storage.hosting_records import Claim, Fenced, Refusal, Snapshot

log = logging.getLogger(__name__)

INPUTS_PER_TICK = 128  # a tick reads at most this many inputs (the rest wait a tick)
SWEEP_BATCH = 50


class MatchHost:
    def __init__(
        self,
        store: HostStore,
        nodes: HostNodes,
        hosted: HostedMatches,
        games: Mapping[str, Game[Any]],
        doorbell: Doorbell,
        *,
        node_id: str,
        lease_s: float,
        sweep_s: float,
        snapshot_s: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._nodes = nodes
        self._hosted = hosted
        self._games = games
        self._doorbell = doorbell
        self._node = node_id
        self._lease_ms = int(lease_s * 1000)
        self._renew_s = lease_s / 5
        self._sweep_s = sweep_s
        self._snapshot_s = snapshot_s
        self._clock = clock
        self._monotonic = monotonic
        self._matches: dict[str, Hosted] = {}
        self._due: list[str] = []
        self._busy: set[str] = set()  # matches whose tick is under way
        self._batches: set[asyncio.Task[None]] = set()
        self.counts = HostCounts()
        self.scheduler: Scheduler[str] = Scheduler(
            self._due.append, flush=self._flush, clock=monotonic, on_late=self.counts.observe_late
        )
        self._draining = False
        self._started = False
        self._done = asyncio.Event()  # run() returned
        self._drained = asyncio.Event()  # every match held was handed off

    def __len__(self) -> int:  # the matches hosted here
        return len(self._matches)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def run(self) -> None:
        """Tick and sweep until ``drain``."""
        self._started = True
        sweeper = asyncio.create_task(self._sweep_loop())
        try:
            await self.scheduler.run()
        finally:
            # A takeover under way finishes (its match is then handed off), within reason.
            self._doorbell.ring()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(sweeper), self._lease_ms / 1000)
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
            self._done.set()

    async def drain(self) -> None:
        """Stop ticking; snapshot and hand off every match held here. Once."""
        if self._draining:
            await self._drained.wait()
            return
        self._draining = True
        self.scheduler.stop()
        try:
            if self._started:  # else nothing ticks: no batch to wait for
                await self._done.wait()
            await asyncio.gather(*self._batches, return_exceptions=True)
            with contextlib.suppress(ArenaError):
                await self._nodes.forget(self._node)
            for hosted in list(self._matches.values()):
                try:
                    await self._snapshot(hosted)
                    await self._store.release(
                        hosted.match_id, self._node, hosted.epoch, self._now_ms()
                    )
                except (ArenaError, Fenced) as exc:  # its lease lapses: taken over later
                    log.warning("could not hand off match %s: %r", hosted.match_id, exc)
                except Exception:
                    log.exception("match %s: its game's snapshot failed; it ends", hosted.match_id)
                    self.counts.errors += 1
                    await self._fail(hosted)
            log.info("handed off %d server-run matches", len(self._matches))
            self._matches.clear()
        finally:
            self._drained.set()

    async def _sweep_loop(self) -> None:
        while not self._draining:
            try:
                await self.sweep()
            except Exception as exc:  # Redis trouble (ArenaError), or a bug: logged, tried again
                log.warning("sweeping for matches to host failed: %r", exc, exc_info=True)
            await self._doorbell.wait(self._sweep_s)

    async def sweep(self) -> None:
        """Report this node's load; take the matches due (lapsed, handed off, or new)."""
        await self._nodes.report_load(self._node, len(self._matches))
        for match_id in await self._store.due_leases(self._now_ms(), SWEEP_BATCH):
            if match_id not in self._matches and not self._draining:
                await self.adopt(match_id)

    async def adopt(self, match_id: str) -> bool:
        """Host the match if its lease is free: restore, replay, resume. Whether taken."""
        claim = await self._store.claim(match_id, self._node, self._lease_ms)
        if claim is Refusal.GONE:
            await self._store.forget_lease(match_id)
        if not isinstance(claim, Claim):
            return False
        hosted = await self._restore(match_id, claim)
        if hosted is None:
            return False
        self._matches[match_id] = hosted
        try:
            await self._store.note_lease(match_id, self._now_ms() + self._lease_ms)
            await self._commit(hosted, [], consumed=False, force=True)
        except Exception:  # (cancelled by a drain, it stays: the drain hands it off)
            self._drop(hosted)  # its lease lapses: taken over again
            raise
        if match_id in self._matches and not hosted.match.ended:
            self.scheduler.add(match_id, hosted.match.ctx.tick_rate)
        return True

    async def _restore(self, match_id: str, claim: Claim) -> Hosted | None:
        record = claim.record
        match = await self._hosted.read(match_id)
        game = self._games.get(record.game)
        if match is None or match.state != "running" or game is None:
            if game is None:
                log.error("match %s runs %s, which this node did not load", match_id, record.game)
                # Others may run it; this node looks again only a lease later.
                await self._store.release(
                    match_id, self._node, claim.epoch, self._now_ms() + self._lease_ms
                )
            else:  # over: no sweeper need claim it again (release would note it due)
                await self._forget(match_id, claim.epoch)
            return None
        steps = await self._store.steps(match_id)
        saved = claim.snapshot
        inputs = await self._store.inputs_between(
            match_id, saved.in_upto if saved else "", last_consumed(steps.consumed)
        )
        try:
            start = {"tick_rate": record.tick_rate, "params": record.params, "seed": record.seed}
            past = (saved.blob, saved.in_upto) if saved else None
            rebuilt = rebuild(
                game, match_id, start, match.roster, past, steps.last, steps.consumed, inputs
            )
        except Exception:
            log.exception("match %s: its game raised while being taken over", match_id)
            self.counts.errors += 1
            await self._hosted.fail(match_id)
            await self._forget(match_id, claim.epoch)
            return None
        hosted_match = rebuilt.match
        if claim.epoch > 1:
            self.counts.takeovers += 1
            tick = hosted_match.ctx.tick
            log.info("took over match %s at tick %d (epoch %d)", match_id, tick, claim.epoch)
        hosted = Hosted(match_id, record.mode, hosted_match, claim.epoch, rebuilt.in_upto)
        hosted.pending = [*rebuilt.pending, *rebuilt.side]
        if claim.epoch > 1:
            hosted.pending.append(RESYNC)
        if claim.snapshot is not None:
            hosted.snap_tick = claim.snapshot.tick
            hosted.snap_at = self._monotonic()
        return hosted

    async def _flush(self) -> None:
        """Start the due matches' ticks and return: batches overlap, but a match whose
        last tick is under way skips this one, so its ticks stay one after another."""
        due = [self._matches[m] for m in self._due if m in self._matches]
        self._due.clear()
        ready = [h for h in due if h.match_id not in self._busy]
        self.counts.busy += len(due) - len(ready)
        if ready:
            self._busy.update(h.match_id for h in ready)
            batch = asyncio.create_task(self._run_batch(ready))
            self._batches.add(batch)
            batch.add_done_callback(self._batches.discard)

    async def _run_batch(self, live: list[Hosted]) -> None:
        reads = await asyncio.gather(
            *(self._store.inputs_after(h.match_id, h.in_upto, INPUTS_PER_TICK) for h in live),
            return_exceptions=True,
        )
        # Each tick frees its own match, and nothing else may: freed again when the batch
        # ends, a match busy in a later batch by then would be ticked twice at once (the
        # same inputs read twice). A batch is cancelled only as the node stops: no matter.
        await asyncio.gather(*(self._tick_one(h, r) for h, r in zip(live, reads, strict=True)))

    async def _tick_one(self, hosted: Hosted, entries: list[Input] | BaseException) -> None:
        """One match's tick; it frees the match at once (no slow sibling holds it back)."""
        try:
            await self._tick(hosted, entries)
        except Exception:  # e.g. a game's event no push can carry
            log.exception("match %s: its tick failed", hosted.match_id)
            self.counts.errors += 1
            await self._fail(hosted)  # ended, not left to fail again on every node
        finally:
            self._busy.discard(hosted.match_id)

    async def _tick(self, hosted: Hosted, entries: list[Input] | BaseException) -> None:
        if isinstance(entries, BaseException):
            log.warning("match %s: could not read its inputs: %r", hosted.match_id, entries)
            return  # this tick waits: the next batch tries again
        try:
            outputs = hosted.pending + hosted.match.advance(entries)
        except Exception:
            log.exception("match %s: its game raised; the match ends", hosted.match_id)
            self.counts.errors += 1
            await self._fail(hosted)
            return
        hosted.pending = []
        self.counts.ticks += 1
        if entries:
            hosted.in_upto = entries[-1].id
        await self._commit(hosted, outputs, consumed=bool(entries))

    async def _commit(
        self, hosted: Hosted, outputs: list[Step], *, consumed: bool, force: bool = False
    ) -> None:
        outputs = hosted.pending + outputs
        hosted.pending = []
        try:
            pushes, side, label = encode_outputs(hosted, outputs, self._now_ms())
        except GameOutputError as exc:
            log.error("match %s: %s; the match ends", hosted.match_id, exc)
            self.counts.errors += 1
            await self._fail(hosted)
            return
        now = self._monotonic()
        renew = now >= hosted.renew_at
        if not (pushes or side or consumed or renew or force or label is not None):
            await self._maybe_snapshot(hosted, now)
            return
        try:
            ids = await self._store.commit(
                hosted.match_id,
                epoch=hosted.epoch,
                node=self._node,
                tick=hosted.match.ctx.tick,
                in_upto=hosted.in_upto,
                consumed=consumed,
                pushes=pushes,
                renew_ms=self._lease_ms if renew else 0,
                label=label,
            )
        except Fenced:
            log.info("match %s: another node holds it now; dropped here", hosted.match_id)
            self.counts.fenced += 1
            self._drop(hosted)
            return
        except MatchEnded:
            log.info("match %s ended outside its game; no longer hosted", hosted.match_id)
            self._terminate(hosted)
            await self._forget(hosted.match_id, hosted.epoch)
            return
        except ArenaError as exc:
            # Written or not? The lease lapses; a takeover replays what Redis holds.
            log.warning("match %s: commit failed (%s)", hosted.match_id, exc.code)
            self._drop(hosted)
            return
        if ids:
            hosted.out_id = ids[-1]
        if renew:
            hosted.renew_at = now + self._renew_s
            with contextlib.suppress(ArenaError):  # a stale deadline costs a failed claim
                await self._store.note_lease(hosted.match_id, self._now_ms() + self._lease_ms)
        await self._carry_out(hosted, side)
        if hosted.match_id in self._matches:
            await self._maybe_snapshot(hosted, now)

    async def _carry_out(self, hosted: Hosted, side: list[Step]) -> None:
        match_id = hosted.match_id
        try:
            for output in side:
                if isinstance(output, Kick):
                    await self._hosted.kick(match_id, output.player)
                elif isinstance(output, Admit):
                    await self._hosted.admit(match_id, output.player, output.attempt)
                elif isinstance(output, Refuse):
                    await self._hosted.refuse(match_id, output.player, output.reason)
                elif isinstance(output, End) and not await self._hosted.finish(
                    match_id, output.scores
                ):
                    self.counts.errors += 1  # its result was refused: it ended as an error
                elif isinstance(output, Abandon):
                    await self._hosted.abandon(match_id)
                    self._terminate(hosted)
                    await self._forget(match_id, hosted.epoch)
                    return
        except ArenaError as exc:
            log.warning("match %s: carrying out a decision failed (%s)", match_id, exc.code)
            self._drop(hosted)  # the lease lapses; a takeover carries it out again
            return
        except Exception:
            log.exception("match %s: its game's decision could not be carried out", match_id)
            self.counts.errors += 1
            await self._fail(hosted)
            return
        if hosted.match.ended:
            self._terminate(hosted)
            await self._forget(match_id, hosted.epoch)

    async def _maybe_snapshot(self, hosted: Hosted, now: float) -> None:
        if now - hosted.snap_at < self._snapshot_s or hosted.match.ctx.tick == hosted.snap_tick:
            return
        try:
            await self._snapshot(hosted)
        except Fenced:
            self.counts.fenced += 1
            self._drop(hosted)
        except ArenaError as exc:
            log.warning("match %s: snapshot failed (%s)", hosted.match_id, exc.code)
        except Exception:  # the game's snapshot raised, or outgrew the bound
            log.exception("match %s: its game's snapshot failed; the match ends", hosted.match_id)
            self.counts.errors += 1
            await self._fail(hosted)

    async def _snapshot(self, hosted: Hosted) -> None:
        tick, blob = hosted.match.ctx.tick, checked_snapshot(hosted.match)
        saved = Snapshot(tick, hosted.epoch, hosted.in_upto, hosted.out_id, blob)
        await self._store.snapshot(hosted.match_id, saved)
        hosted.snap_tick, hosted.snap_at = tick, self._monotonic()

    def _drop(self, hosted: Hosted) -> None:
        if self._matches.get(hosted.match_id) is hosted:  # not a newer copy of it, adopted since
            del self._matches[hosted.match_id]
            self.scheduler.remove(hosted.match_id)

    def _terminate(self, hosted: Hosted) -> None:
        self._drop(hosted)
        try:  # what it says is said to no one: the match is over
            hosted.match.terminate()
        except Exception:
            log.exception("match %s: terminate raised", hosted.match_id)

    async def _fail(self, hosted: Hosted) -> None:
        self._drop(hosted)
        try:
            await self._hosted.fail(hosted.match_id)
        except ArenaError as exc:
            log.warning("match %s: could not end it (%s)", hosted.match_id, exc.code)
            return  # the lease lapses; a takeover meets the error again
        await self._forget(hosted.match_id, hosted.epoch)

    async def _forget(self, match_id: str, epoch: int) -> None:
        """The match is over: no sweeper need look at it again; its hosting keys go soon."""
        with contextlib.suppress(ArenaError):
            await self._store.retire(match_id, self._node, epoch)
