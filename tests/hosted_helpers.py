"""What the tests of server-run matches on real nodes share: the modes and boards their
nodes run, tic-tac-toe moves, finding a match's host, and reading its feed as Redis
holds it (each entry's tick and the epoch it was committed under)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import msgpack
import redis as redis_sync

from client_sim.client import ArenaClient
from server.protocol import Message, with_id
from server.storage import keys

GAMES = "tests.games_for_tests"


def hosted_mode(game: str, **extra: Any) -> dict[str, Any]:
    return {"game": game, "tick_rate": 10, "capacity": 2, "create": True, **extra}


MODES = json.dumps(
    {
        "tictactoe": hosted_mode(
            "server.games.tictactoe:TicTacToe", start_when_full=True, boards=["wins"]
        ),
        "counter": hosted_mode(f"{GAMES}:Counter"),
        "boom": hosted_mode(f"{GAMES}:Boom"),
        "slow": hosted_mode(f"{GAMES}:Slow"),
        "guarded": hosted_mode(f"{GAMES}:Guarded", capacity=4, create_params=["pass"]),
    }
)
# "wins" adds: a result applied twice would show as 2.
BOARDS = json.dumps(
    [
        {"id": "global"},
        {"id": "daily", "period": "daily"},
        {"id": "wins", "operator": "incr", "writers": "server"},
    ]
)


def node_env(
    node_id: str, *, lease_s: float = 2.0, workers: int = 0, **extra: str
) -> dict[str, str]:
    """A node's environment: its id (``match.current`` names it as ``host``), the test
    games, a short lease, and result workers only where a test wants them."""
    return {
        "ARENA_NODE_ID": node_id,
        "ARENA_MODES": MODES,
        "ARENA_BOARDS": BOARDS,
        "ARENA_HOST_LEASE_S": str(lease_s),
        "ARENA_WORKERS": str(workers),
        "ARENA_SHUTDOWN_GRACE": "1",
        **extra,
    }


async def next_event(client: ArenaClient, match_id: str, type: str) -> dict[str, Any]:
    """The next ``match.event`` of ``type`` from the match's game (others skipped)."""
    while True:
        push = await client.next_push("match.event", timeout=10)
        if push["match_id"] == match_id and push["type"] == type:
            assert push["from"] == "server"
            return dict(push)


async def state_with(client: ArenaClient, match_id: str, taken: int) -> dict[str, Any]:
    """The first tic-tac-toe ``state`` with at least ``taken`` cells taken."""
    while True:
        state = (await next_event(client, match_id, "state"))["data"]
        if sum(1 for cell in state["board"] if cell) >= taken:
            return dict(state)


async def move(client: ArenaClient, match_id: str, cell: int) -> None:
    """A tic-tac-toe move, acknowledged: stored, so it is applied whatever happens."""
    reply = await client.request("match.input", match_id=match_id, type="move", data={"cell": cell})
    assert reply["id"]


async def host_of(client: ArenaClient) -> tuple[str, int]:
    """The node hosting the player's current match, and its epoch."""
    current = (await client.request("match.current"))["match"]
    return current["host"], current["epoch"]


class MatchPushes:
    """A client's ``match.event`` and ``match.resync`` pushes, in arrival order."""

    def __init__(self, client: ArenaClient) -> None:
        self.items: list[Message] = []
        self._arrived = asyncio.Event()
        for event in ("match.event", "match.resync"):
            client.on(event, self._add)

    def _add(self, push: Message) -> None:
        self.items.append(push)
        self._arrived.set()

    async def until_resync(self, *, within_s: float) -> Message:
        async with asyncio.timeout(within_s):
            while not self.resyncs():
                self._arrived.clear()
                await self._arrived.wait()
        return self.resyncs()[0]

    def resyncs(self) -> list[Message]:
        return [p for p in self.items if p["ev"] == "match.resync"]

    def events(self) -> list[Message]:
        return [p for p in self.items if p["ev"] == "match.event"]


@dataclass(frozen=True, slots=True)
class Committed:
    """A feed entry a host committed: its id, push, tick and epoch."""

    id: str
    ev: str
    tick: int
    epoch: int


def committed_in_redis(redis_client: redis_sync.Redis, match_id: str) -> list[Committed]:
    """The entries of the match's feed its hosts committed (not a player's presence, not
    the end), oldest first, as Redis holds them."""
    found = []
    raw: Any = redis_client.xrange(keys.match_feed(match_id))
    for raw_id, fields in raw:
        entry_id = raw_id.decode()
        flat = {k.decode(): v for k, v in fields.items()}
        if "t" in flat:
            push = msgpack.unpackb(with_id(flat["p"], entry_id))
            found.append(Committed(entry_id, push["ev"], int(flat["t"]), int(flat["e"])))
    return found
