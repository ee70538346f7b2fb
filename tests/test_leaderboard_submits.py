"""A player's submit and its rate limit: one script on one Redis; on a cluster, where the
player's rate key and the board are in different slots, the rate script first, then the
submit. The same verdicts either way."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis as redis_sync

from server.embedded_redis import RedisClusterProcesses, RedisProcess
from server.storage import keys
from server.storage.clients import open_mux
from server.storage.leaderboards import LeaderboardStore, Limited, SubmitLimit, Submitted
from server.storage.mux import Arg, Commands
from server.storage.scripts import Scripts

LIMIT = SubmitLimit("lb.submit", 60_000.0, 3)  # no allowance comes back during a test


class Counted:
    """A ``Commands`` that notes each script call: its first key and how many keys."""

    def __init__(self, mux: Commands) -> None:
        self._mux = mux
        self.scripts: list[tuple[str, int]] = []  # (first key, how many keys)

    def register_script(self, source: str) -> str:
        return self._mux.register_script(source)

    async def evalsha(self, sha: str, keys: list[str], args: list[Arg]) -> Any:
        self.scripts.append((keys[0], len(keys)))  # a call a cluster refuses too
        return await self._mux.evalsha(sha, keys, args)


@pytest.fixture(params=["one Redis", "cluster"])
async def counted(
    request: pytest.FixtureRequest,
    redis_server: RedisProcess,
    redis_cluster: RedisClusterProcesses,
) -> AsyncIterator[Counted]:
    url = redis_server.url if request.param == "one Redis" else redis_cluster.url
    mux = open_mux(url, timeout_s=5.0)
    yield Counted(mux)
    await mux.aclose()


async def _submit(
    store: LeaderboardStore, board: str, player: str, score: int, **extra: Any
) -> Submitted | Limited | None:
    return await store.submit(
        board, "all", player_id=player, score=score, order="desc", operator="best",
        name=player, expire_at_ms=0, score_max=2**53 - 1, limit=LIMIT, **extra,
    )  # fmt: skip


async def test_a_players_submit_is_counted_then_applied_and_refused_ones_apply_nothing(
    counted: Counted, request: pytest.FixtureRequest
) -> None:
    one_redis = "cluster" not in request.node.name
    store = LeaderboardStore(Scripts.load(counted), one_redis=one_redis)  # type: ignore[arg-type]
    board, player = f"b-{request.node.name}", f"p-{time.monotonic_ns()}"
    results = [await _submit(store, board, player, score) for score in (10, 30, 20, 99, 98)]
    assert results[:3] == [
        Submitted(score=10, rank=1, improved=True),
        Submitted(score=30, rank=1, improved=True),
        Submitted(score=30, rank=1, improved=False),
    ]
    for refused in results[3:]:  # over the burst: nothing applied, a wait to honour
        assert isinstance(refused, Limited)
        assert 0 < refused.retry_after_ms <= LIMIT.interval_ms
    # Another player is not slowed by this one.
    assert await _submit(store, board, player + "-b", 5) == Submitted(5, 2, True)
    sent = list(counted.scripts)
    top = await store.top(board, "all", "desc", offset=0, limit=10)
    assert [(e.player_id, e.score) for e in top] == [(player, 30), (player + "-b", 5)]
    rate, board_only, joined = (
        (keys.rate_limit("lb.submit", player), 1),
        (keys.board_scores(board, "all"), 4),
        (keys.board_scores(board, "all"), 5),
    )
    if not one_redis:
        # The rate key and the board are in different slots: the rate script, then the
        # submit's; a refusal's wait asked of the rate script (without counting).
        assert sent[:10] == [rate, board_only] * 3 + [rate, rate] * 2
        assert [n for _, n in sent[10:]] == [1, 4]  # the other player
    else:
        # One round trip a submit, the rate key among the script's keys; a refusal's wait
        # asked of the rate script.
        assert sent == [joined, joined, joined, joined, rate, joined, rate, joined]


async def test_the_rate_state_keeps_its_own_expiry_on_a_board_that_expires(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> None:
    """The board period's keys expire with the period; the player's rate state only when
    its allowance is whole again, as rate_limit.lua leaves it."""
    mux = open_mux(redis_server.url, timeout_s=5.0)
    store = LeaderboardStore(Scripts.load(mux), one_redis=True)
    expire_at_ms = int(time.time() * 1000) + 86_400_000 * 3
    try:
        # Each submit is one script, the first on its period the one that sets its expiry.
        limit = SubmitLimit("lb.submit", 100.0, 5)
        replies = [
            await store.submit(
                "daily", period, player_id="p1", score=score, order="desc",
                operator="best", name="p1", expire_at_ms=expire_at_ms, score_max=2**53 - 1,
                limit=limit,
            )
            for period, score in (("2026-12-02", 7), ("2026-12-03", 8))
        ]  # fmt: skip
    finally:
        await mux.aclose()
    assert replies == [Submitted(7, 1, True), Submitted(8, 1, True)]
    assert redis_client.pexpiretime(keys.board_scores("daily", "2026-12-02")) == expire_at_ms
    board_keys = [
        keys.board_scores("daily", "2026-12-03"),
        keys.board_members("daily", "2026-12-03"),
        keys.board_names("daily", "2026-12-03"),
        keys.board_arrivals("daily", "2026-12-03"),
    ]
    for key in board_keys:
        assert redis_client.pexpiretime(key) == expire_at_ms, key
    assert 0 < redis_client.pttl(keys.rate_limit("lb.submit", "p1")) <= 202  # two counted
