"""Views under random writes (hypothesis): after every patch, each viewer's replica equals
the state as that viewer may see it (owner fields for the owner, team fields for the
team, the rest for all), and no hidden value's bytes are in its frames."""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from server.games.sync.codec import Synced, Viewer
from server.games.sync.replica import Replica
from server.games.sync.state import SyncList, SyncMap
from tests.test_sync_views import Card, Seat, Table

VIEWERS: list[Viewer] = [("ann", "red"), ("bob", "blue"), ("cat", "red"), ("dan", None)]
SEATS = {"ann": "red", "bob": "blue", "cat": "red"}


def seen_by(state: Table, viewer: Viewer) -> dict[str, Any]:
    seats = {}
    for player, seat in state.seats.items():
        mine, ours = viewer[0] == seat.owner, viewer[1] == seat.team
        seats[player] = {
            "owner": seat.owner,
            "team": seat.team,
            "x": seat.x,
            "hand": [{"rank": c.rank} for c in seat.hand] if mine else None,
            "plan": seat.plan if ours else None,
        }
    return {"seats": seats}


WRITE = st.tuples(
    st.sampled_from(sorted(SEATS)),
    st.sampled_from(["x", "plan", "deal", "play", "patch"]),
    st.integers(1000, 1100),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(WRITE, max_size=40))
def test_each_viewer_sees_exactly_its_view(writes: list[tuple[str, str, int]]) -> None:
    state = Table(seats=SyncMap())
    for player, team in SEATS.items():
        state.seats[player] = Seat(owner=player, team=team, x=0, hand=SyncList(), plan="")
    synced = Synced(state)
    replicas = {v: Replica() for v in VIEWERS}
    for viewer, replica in replicas.items():
        full, schema = synced.full(viewer)
        replica.keyframe(0, full, schema)
    synced.settle()
    tick = 0
    for player, kind, value in [*writes, ("ann", "patch", 0)]:
        seat = state.seats[player]
        if kind == "x":
            seat.x = value
        elif kind == "plan":
            seat.plan = f"plan-{player}-{value}"  # unique: a leak shows as its bytes
        elif kind == "deal":
            seat.hand.append(Card(rank=value))
        elif kind == "play" and len(seat.hand):
            seat.hand.pop()
        elif kind == "patch":
            patches = synced.patches(VIEWERS)
            tick += 1
            for viewer, replica in replicas.items():
                frame = msgpack.packb(patches[viewer])
                replica.apply(tick, tick - 1, msgpack.unpackb(frame))
                assert replica.state == seen_by(state, viewer)
                for _, other_seat in state.seats.items():
                    if viewer[1] != other_seat.team and other_seat.plan:
                        assert other_seat.plan.encode() not in frame
