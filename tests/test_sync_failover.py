"""Synced state across a takeover, pure: a match of a synced game stepped by one host,
its frames fed to each player's replica (each frame to the players it names), then
rebuilt by another host from a snapshot and the committed ticks, exactly as
``MatchHost`` does; every player's replica equals what that player may see after every
tick, with random inputs (hypothesis), for every view, through keyframe requests."""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from server.games.api import Input
from server.games.match import SYNC, HostedMatch, Step
from server.games.replay import rebuild
from server.games.sync.frames import StateFrame
from server.games.sync.replica import Replica
from server.games.sync.snapshot import plain
from tests.games_for_tests import SyncedCounter

PLAYERS = ("ann", "bob", "cat")
RECORD = {"tick_rate": 20, "params": {}, "seed": 3}


def seen_by(state: Any, player: str) -> Any:
    """What ``player`` may see: every tally, its secret only when it is theirs."""
    tallies = plain(state)["tallies"]
    return {
        "tallies": {
            p: {**t, "secret": t["secret"] if p == player else None} for p, t in tallies.items()
        }
    }


def deliver(outputs: list[Step], replicas: dict[str, Replica], tick: int) -> None:
    """Each frame, through msgpack, to the players it names (all when it names none)."""
    for output in outputs:
        if not isinstance(output, StateFrame):
            continue
        base, patch, full, schema = msgpack.unpackb(
            msgpack.packb([output.base, output.patch, output.full, output.schema])
        )
        for player in output.to or PLAYERS:
            if full is not None:
                replicas[player].keyframe(tick, full, schema)
            else:
                replicas[player].apply(tick, base, patch)


INPUT = st.tuples(st.sampled_from(PLAYERS), st.sampled_from(["add", "sync"]), st.integers(-50, 50))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(INPUT, max_size=4), min_size=2, max_size=12), st.integers(1, 10))
def test_every_replica_equals_its_view_through_a_takeover(
    ticks: list[list[tuple[str, str, int]]], snapshot_at: int
) -> None:
    match, _ = HostedMatch.start(SyncedCounter(), "m", 20, {}, seed=3)
    match.join(list(PLAYERS))
    replicas = {p: Replica() for p in PLAYERS}
    log: list[list[Input]] = []
    snapshot: tuple[bytes, int] | None = None
    n = 0
    for t, tick_inputs in enumerate(ticks, start=1):
        entries = []
        for player, kind, value in tick_inputs:
            n += 1
            kind_name = SYNC if kind == "sync" else "add"
            entries.append(Input(player, kind_name, value, f"{n}-0"))
        log.append(entries)
        deliver(match.advance(entries), replicas, match.ctx.tick)
        for player in PLAYERS:
            assert replicas[player].state == seen_by(match.state, player)
        if t == snapshot_at:
            snapshot = (match.snapshot(), t)
    # Another host takes over from the snapshot (or from the start), replays the ticks
    # committed since, and goes on: every player gets a keyframe at its next tick.
    after = snapshot[1] if snapshot else 0
    consumed = {t: log[t - 1][-1].id for t in range(after + 1, len(log) + 1) if log[t - 1]}
    inputs = [i for entries in log[after:] for i in entries]
    past = (snapshot[0], f"{sum(len(e) for e in log[:after])}-0") if snapshot else None
    rebuilt = rebuild(SyncedCounter(), "m", RECORD, list(PLAYERS), past, len(log), consumed, inputs)
    assert plain(rebuilt.match.state) == plain(match.state)
    deliver(rebuilt.match.advance([]), replicas, rebuilt.match.ctx.tick)  # keyframes
    for player in PLAYERS:
        assert replicas[player].state == seen_by(rebuilt.match.state, player)
