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
from server.games.match import JOIN, LEAVE, SYNC, HostedMatch, Step
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


def deliver(outputs: list[Step], replicas: dict[str, Replica], tick: int, online: set[str]) -> None:
    """Each frame, through msgpack, to the players it names (all when it names none);
    a frame for a player who is offline is lost, as on a dropped socket."""
    for output in outputs:
        if not isinstance(output, StateFrame):
            continue
        base, patch, full, schema = msgpack.unpackb(
            msgpack.packb([output.base, output.patch, output.full, output.schema])
        )
        for player in output.to or PLAYERS:
            if player not in online:
                continue
            if full is not None:
                replicas[player].keyframe(tick, full, schema)
            else:
                replicas[player].apply(tick, base, patch)


INPUT = st.tuples(
    st.sampled_from(PLAYERS),
    st.sampled_from(["add", "add", "sync", "drop", "back"]),
    st.integers(-50, 50),
)
TICKS = st.lists(st.lists(INPUT, max_size=4), min_size=1, max_size=10)


class Run:
    """The match as players see it: who is online, each one's replica, the input log."""

    def __init__(self) -> None:
        self.online = set(PLAYERS)
        self.replicas = {p: Replica() for p in PLAYERS}
        self.log: list[list[Input]] = []
        self.n = 0

    def tick(self, match: HostedMatch[Any], tick_inputs: list[tuple[str, str, int]]) -> None:
        entries = []
        for player, kind, value in tick_inputs:
            if kind == "back":  # a new socket: the node writes $join, a keyframe follows
                self.online.add(player)
            elif player not in self.online:
                continue  # an offline player sends nothing
            elif kind == "drop":
                self.online.discard(player)
            self.n += 1
            entry_type, data = {
                "add": ("add", value),
                "sync": (SYNC, None),
                "drop": (LEAVE, "dropped"),
                "back": (JOIN, None),
            }[kind]
            entries.append(Input(player, entry_type, data, f"{self.n}-0"))
        self.log.append(entries)
        deliver(match.advance(entries), self.replicas, match.ctx.tick, self.online)
        self.check(match)

    def check(self, match: HostedMatch[Any]) -> None:
        for player in self.online:
            assert self.replicas[player].state == seen_by(match.state, player), player


@settings(max_examples=60, deadline=None)
@given(TICKS, st.integers(1, 10), TICKS)
def test_every_replica_equals_its_view_through_drops_and_a_takeover(
    ticks: list[list[tuple[str, str, int]]],
    snapshot_at: int,
    later: list[list[tuple[str, str, int]]],
) -> None:
    match, _ = HostedMatch.start(SyncedCounter(), "m", 20, {}, seed=3)
    run = Run()
    run.tick(match, [(p, "back", 0) for p in PLAYERS])  # everyone joins: keyframes
    snapshot: tuple[bytes, int] | None = None
    for t, tick_inputs in enumerate(ticks, start=2):
        run.tick(match, tick_inputs)
        if t == snapshot_at:
            snapshot = (match.snapshot(), t)
    # Another host takes over from the snapshot (or from the start), replays the ticks
    # committed since, and goes on: every player gets a keyframe at its next tick.
    log = run.log
    after = snapshot[1] if snapshot else 0
    consumed = {t: log[t - 1][-1].id for t in range(after + 1, len(log) + 1) if log[t - 1]}
    inputs = [i for entries in log[after:] for i in entries]
    past = (snapshot[0], f"{sum(len(e) for e in log[:after])}-0") if snapshot else None
    rebuilt = rebuild(SyncedCounter(), "m", RECORD, list(PLAYERS), past, len(log), consumed, inputs)
    assert plain(rebuilt.match.state) == plain(match.state)
    for tick_inputs in [[], *later]:  # the first tick after a takeover: keyframes
        run.tick(rebuilt.match, tick_inputs)
