"""The synced-state benchmark's `dots` run (loadtest/bench/sync_dots.py): a player who
applies the frames the bench counts holds what the relay's `state` event said at the same
tick, so the bytes compared carry the same thing."""

from __future__ import annotations

from loadtest.bench.sync_dots import PLAYERS, run_dots
from server.games.api import JsonValue
from server.games.sync.frames import StateFrame
from server.games.sync.replica import Replica


def test_a_replica_of_the_counted_frames_holds_the_relays_view() -> None:
    replica = Replica()
    checked = []

    def watch(tick: int, frame: StateFrame, view: dict[str, JsonValue]) -> None:
        if frame.full is not None:
            assert frame.schema is not None
            replica.keyframe(tick, frame.full, frame.schema)
        else:
            assert frame.base is not None
            assert frame.patch is not None
            replica.apply(tick, frame.base, frame.patch)
        held = replica.state
        assert {p: [d["x"], d["y"]] for p, d in held["dots"].items()} == view["dots"]
        ring = None if held["over"] else {k: held["target"][k] for k in ("k", "x", "y")}
        assert ring == view["target"]
        assert held["scores"] == view["scores"]
        assert held["winner"] == view["winner"]
        checked.append(tick)

    run = run_dots("test", PLAYERS, seconds=10, watch=watch)
    assert run.points > 0  # rings were scored: the ring and the scores changed too
    assert len(checked) > 150
    assert run.synced.msgpack < run.relay.msgpack
