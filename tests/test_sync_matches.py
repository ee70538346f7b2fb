"""Synced state in a server-run match, through a real node: a player's keyframe on
joining, patches each tick with changes on top of the last frame, match.sync for a new
keyframe, and a field only its owner sees never reaching the other player's socket."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest

from client_sim.client import ArenaClient, ArenaError
from client_sim.synced import SyncedMatch
from server.games.sync.replica import Replica
from tests.conftest import StartArena
from tests.helpers import connect, eventually
from tests.integrity_helpers import close_all

MODES = json.dumps(
    {
        "tally": {
            "game": "tests.games_for_tests:SyncedCounter",
            "tick_rate": 20,
            "capacity": 2,
            "create": True,
        }
    }
)


class Follower(SyncedMatch):
    """A player's live replica, and every match.state frame it was sent (bytes checks)."""

    def __init__(self, client: ArenaClient, match_id: str) -> None:
        super().__init__(client, match_id)
        self.frames: list[dict[str, Any]] = []
        client.on("match.state", self.frames.append)

    def tallies(self) -> dict[str, Any]:
        return {} if self.state is None else dict(self.state["tallies"])


async def test_players_keep_a_replica_and_never_see_anothers_secret(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(modes=MODES)
    (a, alice), (b, bob) = await connect(arena, "alice"), await connect(arena, "bob")
    try:
        match_id = (await alice.request("match.create", mode="tally"))["match"]["match_id"]
        mine, theirs = Follower(alice, match_id), Follower(bob, match_id)
        await bob.request("match.join", match_id=match_id)
        await bob.next_push("match.started")

        async def both_in() -> bool:
            return set(mine.tallies()) == set(theirs.tallies()) == {a.player_id, b.player_id}

        await eventually(both_in, within_s=5)
        await alice.request("match.input", match_id=match_id, type="add", data=1234)
        await bob.request("match.input", match_id=match_id, type="add", data=3)

        async def added() -> bool:
            return [t["total"] for _, t in sorted(theirs.tallies().items())] != [0, 0] and all(
                f.tallies()[p]["total"] == n
                for f in (mine, theirs)
                for p, n in ((a.player_id, 1234), (b.player_id, 3))
            )

        await eventually(added, within_s=5)
        assert mine.tallies()[a.player_id]["secret"] == 1234 * 1234
        assert theirs.tallies()[a.player_id]["secret"] is None
        secret = msgpack.packb(1234 * 1234)
        assert any(secret in msgpack.packb(f) for f in mine.frames)
        assert not any(secret in msgpack.packb(f) for f in theirs.frames)
        # match.sync: a keyframe at the next tick, on top of nothing.
        keyframes = sum("full" in f for f in theirs.frames)
        await bob.request("match.sync", match_id=match_id)

        async def keyframed() -> bool:
            return sum("full" in f for f in theirs.frames) == keyframes + 1

        await eventually(keyframed, within_s=5)
        assert theirs.tallies()[a.player_id]["total"] == 1234
        # A patch that does not apply (as after a missed frame): the replica asks for a
        # keyframe and is whole again, never patched on top of the wrong copy.
        tick = theirs.tick
        assert tick is not None
        theirs._on_state({"match_id": match_id, "tick": tick + 5, "base": tick - 1, "patch": []})
        await alice.request("match.input", match_id=match_id, type="add", data=1)

        async def whole_again() -> bool:
            tallies = theirs.tallies()
            return theirs.resyncs == 1 and tallies[a.player_id]["total"] == 1235

        await eventually(whole_again, within_s=5)
        # Catch-up from the feed's last keyframe for bob: a replica built from that page
        # alone is what bob holds live, and holds no byte of alice's secret.
        page = (await bob.request("match.feed", match_id=match_id, keyframe=True))["events"]
        first = page[0]
        assert first["ev"] == "match.state"
        assert "full" in first
        assert first.get("to") is None or b.player_id in first["to"]
        assert not any(secret in msgpack.packb(e) for e in page)
        fresh = Replica()
        for push in page:
            if push["ev"] != "match.state":
                continue
            if "full" in push:
                fresh.keyframe(push["tick"], push["full"], push["schema"])
            elif push["tick"] <= (theirs.tick or 0):
                fresh.apply(push["tick"], push["base"], push["patch"])
        assert fresh.tick == theirs.tick
        assert fresh.state == theirs.state
        with pytest.raises(ArenaError) as refused:
            await bob.request("match.feed", match_id=match_id, keyframe=True, after="0-0")
        assert refused.value.code == "BAD_REQUEST"
    finally:
        await close_all([alice, bob])
