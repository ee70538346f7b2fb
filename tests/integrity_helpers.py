"""What the integrity tests share (test_integrity_*.py): the boards and modes they set,
the server key, and small steps (make a consensus wait due, read a metric, expect a
refusal)."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest
import redis as redis_sync
from prometheus_client.parser import text_string_to_metric_families

from client_sim.client import ArenaClient, ArenaError

SERVER_KEY = "integrity-server-key-0123456789abcdef"
BOARDS = json.dumps(
    [
        {"id": "global", "writers": "server"},
        {"id": "daily", "period": "daily", "writers": "server"},
        {"id": "casual"},
    ]
)
# Due decisions are checked often. Waits are long (a loaded box never passes a deadline
# between two reports); a test makes a decision due on purpose with make_due.
FAST_DECISIONS = {"presence_interval_s": 0.1, "presence_ttl_s": 2.0}
LONG_WAIT_S = 3600
PENDING_RESULTS = "arena:matches:pending-results"


def make_due(redis_client: redis_sync.Redis, match_id: str) -> None:
    """The match's consensus wait is over now (as if result_wait_s had passed)."""
    assert redis_client.zscore(PENDING_RESULTS, match_id) is not None  # a report came
    redis_client.zadd(PENDING_RESULTS, {match_id: int(time.time() * 1000)})


def modes(**definitions: dict[str, object]) -> str:
    return json.dumps(definitions)


async def close_all(clients: list[ArenaClient]) -> None:
    for client in clients:
        await client.close()


async def refused(client: ArenaClient, op: str, **fields: Any) -> str:
    with pytest.raises(ArenaError) as error:
        await client.request(op, **fields)
    return error.value.code


async def metric(base_url: str, name: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(base_url + "/metrics") as resp:
        text = await resp.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"no metric {name}")
