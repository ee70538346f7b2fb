"""Which live node should host a new server-run match, and the labels games set.

Each node's sweeper writes how many matches it hosts into one hash (``report_load``);
``least_loaded`` picks among the nodes whose presence heartbeat is live (``keys.nodes``),
so a dead node's last figure is never chosen, and drops such figures as it reads them.
A game's label is a field of its match's hosting record, written by the tick commit.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import msgpack

from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.mux import Commands

LOAD_TTL_S = 60  # the load hash outlives every node's silence by this much


class HostNodes:
    def __init__(self, mux: Commands) -> None:
        self._mux = mux

    @translate_redis_errors
    async def report_load(self, node_id: str, hosted: int) -> None:
        await self._mux.pipeline(
            ("HSET", keys.host_load(), node_id, hosted),
            ("EXPIRE", keys.host_load(), LOAD_TTL_S),
        )

    @translate_redis_errors
    async def forget(self, node_id: str) -> None:
        """A draining node takes no more matches."""
        await self._mux.execute("HDEL", keys.host_load(), node_id)

    @translate_redis_errors
    async def least_loaded(self, now_ms: int) -> str | None:
        """The live node hosting fewest matches (ties: any of them), counted one more; None
        when no live node reports a load (none hosts yet: the caller places the match
        itself)."""
        alive, loads = await self._mux.pipeline(
            ("ZRANGEBYSCORE", keys.nodes(), now_ms, "+inf"),
            ("HGETALL", keys.host_load()),
        )
        live = {text(n) for n in alive}
        reported = {text(loads[i]): int(loads[i + 1]) for i in range(0, len(loads), 2)}
        dead = [n for n in reported if n not in live]
        if dead:
            await self._mux.execute("HDEL", keys.host_load(), *dead)
        candidates = {node: load for node, load in reported.items() if node in live}
        if not candidates:
            return None
        least = min(candidates.values())
        chosen = random.choice(sorted(n for n, load in candidates.items() if load == least))
        # Counted at once, so a burst of starts spreads before the next report corrects it.
        await self._mux.execute("HINCRBY", keys.host_load(), chosen, 1)
        return chosen

    @translate_redis_errors
    async def labels(self, match_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        """Each match's label as its game last set it (None: none set, or not server-run)."""
        if not match_ids:
            return []
        found = await self._mux.pipeline(
            *(("HGET", keys.match_host(m), "label") for m in match_ids)
        )
        return [None if raw is None else dict(msgpack.unpackb(raw)) for raw in found]
