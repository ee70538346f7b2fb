"""A takeover's rebuild, pure: from a snapshot (or afresh) and the ticks committed since,
a match reaches the same state, rng included, as the host that ran it; ticks that were
not committed are not replayed; what the game decided besides its events comes back to
be carried out again; joins, leaves and join attempts in the input stream replay too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.games.api import End, Event, Game, GameContext, Input, JsonValue, LeaveReason
from server.games.match import Admit, HostedMatch, Refuse, Step
from server.games.replay import last_consumed, rebuild, stream_order

RATE = 10


class Dice(Game[dict[str, Any]]):
    """Every tick rolls the rng; inputs add to a total; 'done' ends the match."""

    def init(self, ctx: GameContext, params: Mapping[str, JsonValue]) -> dict[str, Any]:
        return {"total": 0, "rolls": [], "players": []}

    def join_attempt(
        self, ctx: GameContext, state: dict[str, Any], player: str, meta: Mapping[str, JsonValue]
    ) -> str | None:
        return None if meta.get("pass") == "ok" else "wrong pass"

    def join(self, ctx: GameContext, state: dict[str, Any], players: list[str]) -> None:
        state["players"] += players
        ctx.broadcast("joined", players)

    def leave(
        self, ctx: GameContext, state: dict[str, Any], players: list[str], reason: LeaveReason
    ) -> None:
        state["players"] = [p for p in state["players"] if p not in players]

    def tick(self, ctx: GameContext, state: dict[str, Any], inputs: list[Input]) -> dict[str, Any]:
        state["rolls"].append(ctx.rng.randint(1, 6))
        for item in inputs:
            if item.type == "done":
                ctx.end({p: state["total"] for p in state["players"]})
            else:
                state["total"] += int(item.data)
        ctx.broadcast("total", state["total"])
        return state


RECORD = {"tick_rate": RATE, "params": {}, "seed": 42}


def entry(n: int, player: str, type: str, data: Any) -> Input:
    return Input(player, type, data, f"{1000 + n}-0")


def run_host(ticks: list[list[Input]], roster: list[str]) -> tuple[HostedMatch[Any], list[Step]]:
    match, started = HostedMatch.start(Dice(), "m", RATE, {}, seed=42)
    outputs: list[Step] = [*started, *match.join(roster)]
    for inputs in ticks:
        outputs += match.advance(inputs)
    return match, outputs


TICKS = [
    [entry(1, "a", "add", 2)],
    [],
    [entry(2, "c", "$attempt", {"pass": "ok"}), entry(3, "d", "$attempt", {"pass": "no"})],
    [entry(4, "b", "$leave", "dropped"), entry(5, "a", "add", 5)],
    [],
    [entry(6, "b", "$join", None), entry(7, "b", "add", 1)],
]


def steps_of(ticks: list[list[Input]]) -> dict[int, str]:
    return {t: inputs[-1].id for t, inputs in enumerate(ticks, start=1) if inputs}


def test_a_rebuild_afresh_reaches_the_hosts_state_and_rng() -> None:
    host, outputs = run_host(TICKS, ["a", "b"])
    inputs = [i for tick in TICKS for i in tick]
    consumed = steps_of(TICKS)
    rebuilt = rebuild(Dice(), "m", RECORD, ["a", "b"], None, len(TICKS), consumed, inputs)
    assert rebuilt.match.state == host.state
    assert rebuilt.match.ctx.rng.getstate() == host.ctx.rng.getstate()
    assert rebuilt.match.ctx.tick == host.ctx.tick == len(TICKS)
    assert rebuilt.in_upto == "1007-0" == last_consumed(consumed)
    assert rebuilt.pending == []  # tick 0 was committed: its events were said
    # The join attempts' verdicts come back to be carried out again, no events.
    assert rebuilt.side == [Admit("c", "1002-0"), Refuse("d", "wrong pass")]
    assert Admit("c", "1002-0") in outputs


def test_a_rebuild_from_a_snapshot_replays_only_the_ticks_after_it() -> None:
    host, _ = run_host(TICKS, ["a", "b"])
    partial, _ = run_host(TICKS[:3], ["a", "b"])
    blob = partial.snapshot()
    later = TICKS[3:]
    consumed = {t + 3: ids for t, ids in steps_of(later).items()}
    inputs = [i for tick in later for i in tick]
    rebuilt = rebuild(Dice(), "m", RECORD, ["a", "b"], (blob, "1003-0"), 6, consumed, inputs)
    assert rebuilt.match.state == host.state
    assert rebuilt.match.ctx.rng.getstate() == host.ctx.rng.getstate()


def test_ticks_after_the_last_commit_are_not_replayed_and_inputs_wait() -> None:
    # The host ran 6 ticks but committed only up to tick 4: the new host stops there,
    # and tick 6's inputs (never consumed by a committed tick) stay for its next tick.
    consumed = {t: i for t, i in steps_of(TICKS).items() if t <= 4}
    inputs = [i for tick in TICKS[:4] for i in tick]
    rebuilt = rebuild(Dice(), "m", RECORD, ["a", "b"], None, 4, consumed, inputs)
    reference, _ = run_host(TICKS[:4], ["a", "b"])
    assert rebuilt.match.ctx.tick == 4
    assert rebuilt.match.state == reference.state
    assert rebuilt.in_upto == "1005-0"


def test_tick_zero_never_committed_is_said_by_the_new_host() -> None:
    rebuilt = rebuild(Dice(), "m", RECORD, ["a"], None, None, {}, [])
    assert [o.type for o in rebuilt.pending if isinstance(o, Event)] == ["joined"]
    assert rebuilt.match.ctx.tick == 0


def test_an_end_replayed_is_carried_out_again_and_replay_stops_there() -> None:
    ticks = [[entry(1, "a", "add", 3)], [entry(2, "a", "done", None)], [entry(3, "a", "add", 9)]]
    consumed = steps_of(ticks)
    inputs = [i for tick in ticks for i in tick]
    rebuilt = rebuild(Dice(), "m", RECORD, ["a"], None, 3, consumed, inputs)
    assert rebuilt.side == [End({"a": 3})]
    assert rebuilt.match.ended
    assert rebuilt.match.ctx.tick == 2


def test_stream_ids_order_by_time_then_sequence() -> None:
    assert stream_order("") < stream_order("1-0") < stream_order("1-1") < stream_order("2-0")
    assert stream_order("10-0") > stream_order("9-99")
