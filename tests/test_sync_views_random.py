"""Views under random writes (hypothesis), through the frames a match sends: after every
tick, each player's replica equals the state as that player may see it (owner fields for
the owner, team fields for the team, the rest for all), and no hidden value's bytes are
in its frames; also when a seat changes hands or sides, or a player changes teams."""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from server.games.sync.frames import StateFeed
from server.games.sync.replica import Replica
from server.games.sync.state import SyncList, SyncMap
from tests.test_sync_views import Card, Seat, Table

PLAYERS = ("ann", "bob", "cat", "dan")  # dan sits at no seat at first
SEATS = {"ann": "red", "bob": "blue", "cat": "red"}
TEAMS = ("red", "blue", None)


def seen_by(state: Table, player: str, team: str | None) -> dict[str, Any]:
    seats = {}
    for key, seat in state.seats.items():
        mine, ours = player == seat.owner, team == seat.team
        seats[key] = {
            "owner": seat.owner,
            "team": seat.team,
            "x": seat.x,
            "hand": [{"rank": c.rank} for c in seat.hand] if mine else None,
            "plan": seat.plan if ours else None,
        }
    return {"seats": seats}


WRITE = st.tuples(
    st.sampled_from(sorted(SEATS)),
    st.sampled_from(["x", "plan", "deal", "play", "give", "side", "move", "tick", "tick"]),
    st.integers(0, 1000),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(WRITE, max_size=40))
def test_each_player_sees_exactly_its_view(writes: list[tuple[str, str, int]]) -> None:
    state = Table(seats=SyncMap())
    for player, team in SEATS.items():
        state.seats[player] = Seat(owner=player, team=team, x=0, hand=SyncList(), plan="")
    teams: dict[str, str | None] = {p: SEATS.get(p) for p in PLAYERS}
    feed = StateFeed(state)
    feed.want_keyframe(PLAYERS)
    replicas = {p: Replica() for p in PLAYERS}
    tick = 0
    for key, kind, value in [*writes, ("ann", "tick", 0)]:
        seat = state.seats[key]
        if kind == "x":
            seat.x = value
        elif kind == "plan":
            seat.plan = f"plan-{key}-{value}"  # unique per seat: a leak shows as its bytes
        elif kind == "deal":
            # Unique per seat (3 msgpack bytes each): a leak shows as its bytes.
            seat.hand.append(Card(rank=10_000 + 1001 * sorted(SEATS).index(key) + value))
        elif kind == "play" and len(seat.hand):
            seat.hand.pop()
        elif kind == "give":  # the seat (its hand too) is another player's now
            seat.owner = PLAYERS[value % len(PLAYERS)]
        elif kind == "side":
            seat.team = ("red", "blue")[value % 2]
        elif kind == "move":  # a player changes teams: what they may see changes
            teams[PLAYERS[value % len(PLAYERS)]] = TEAMS[value % len(TEAMS)]
        elif kind == "tick":
            tick += 1
            for frame in feed.frames(tick, PLAYERS, teams.__getitem__):
                wire = msgpack.packb([frame.base, frame.patch, frame.full, frame.schema])
                base, patch, full, schema = msgpack.unpackb(wire)
                for player in frame.to or PLAYERS:
                    if full is not None:
                        replicas[player].keyframe(tick, full, schema)
                    else:
                        replicas[player].apply(tick, base, patch)
                    for _, other in state.seats.items():
                        if teams[player] != other.team and other.plan:
                            assert other.plan.encode() not in wire
                        if player != other.owner:
                            for card in other.hand:
                                assert msgpack.packb(card.rank) not in wire
            for player, replica in replicas.items():
                assert replica.state == seen_by(state, player, teams[player]), player
