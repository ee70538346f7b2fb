"""The results queue and its workers, with real worker processes that die at the worst time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import redis as redis_sync

from client_sim.client import ArenaClient, ArenaError
from server.embedded_redis import RedisProcess
from tests.conftest import SpawnNode, StartArena
from tests.helpers import eventually, http_json, report_all, start_match

# An 'incr' board adds every result: a result counted twice would show.
BOARDS = json.dumps([{"id": "total", "order": "desc", "operator": "incr", "period": "alltime"}])
QUEUE = {
    "ARENA_BOARDS": BOARDS,
    "ARENA_MODES": json.dumps({"*": {"boards": ["total"]}}),
    "ARENA_JOB_TIMEOUT": "1",
}
TAKEN = "arena:queue:{results}:taken"
READY = "arena:queue:{results}:ready"


class WorkerProcess:
    def __init__(self, redis_url: str, log_path: Path, **env: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server.worker"],
            env={**os.environ, "REDIS_URL": redis_url, **QUEUE, **env},
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def workers(redis_server: RedisProcess, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.kill()


async def redo_result_job(redis_client: redis_sync.Redis, match_id: str) -> None:
    """Queue the job that applied a match's result again, as if its worker had died
    after applying it and before its ack (the same job id, its match not yet marked)."""
    state = f"arena:{{match:{match_id}}}:state"
    # The notification comes before the job marks the match applied: wait for the mark.
    await eventually(holds(lambda: redis_client.hget(state, "applied") == b"1"), within_s=5)
    raw = redis_client.hget(state, "claimed_by")
    job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
    job = {"id": job_id, "kind": "match.result", "args": {"match_id": match_id}, "tries": 1}
    # Unmarked first: a worker taking the job before the mark went would find it applied
    # and rightly do nothing, and no notification would come.
    redis_client.hdel(state, "applied")
    redis_client.lpush(READY, json.dumps(job))


def blocked_in_take(redis_client: redis_sync.Redis) -> int:
    """How many clients wait in a blocking move on the ready list."""
    return sum(1 for c in redis_client.client_list() if c["cmd"] == "blmove" and "b" in c["flags"])


def holds(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def holding() -> bool:
        return check()

    return holding


async def test_a_worker_killed_between_take_and_ack_the_job_is_redone_and_counted_once(
    spawn_node: SpawnNode,
    redis_server: RedisProcess,
    redis_client: redis_sync.Redis,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    node = spawn_node(ARENA_WORKERS="0", **QUEUE)  # results go to separate workers only
    match_id, clients, players = await start_match([node.url], 2)
    doomed = WorkerProcess(redis_server.url, tmp_path / "doomed.log")
    workers.append(doomed)

    # Freeze the worker while Redis holds it blocked in its take: Redis then hands it the
    # next job (moving it to 'taken'), and the worker never gets to apply or ack it.
    while True:
        await eventually(holds(lambda: blocked_in_take(redis_client) == 1), within_s=10)
        doomed.process.send_signal(signal.SIGSTOP)
        if blocked_in_take(redis_client) == 1:
            break
        doomed.process.send_signal(signal.SIGCONT)  # its take timed out meanwhile: again
    scores = {players[0].player_id: 7, players[1].player_id: 3}
    await report_all(clients, match_id, scores)
    await eventually(holds(lambda: redis_client.llen(TAKEN) == 1), within_s=5)
    assert redis_client.llen(READY) == 0
    doomed.kill()  # dies holding the job

    # Another worker takes the job back after the visibility timeout and applies it.
    workers.append(WorkerProcess(redis_server.url, tmp_path / "rescuer.log"))
    note = await clients[1].next_push("notify", timeout=15)
    assert note["data"]["boards"]["total"]["score"] == 3
    assert (await clients[0].request("lb.rank", board="total"))["score"] == 7
    # The worker acks after it applied (and so after the notification went out).
    await eventually(holds(lambda: redis_client.llen(TAKEN) == 0), within_s=5)

    # The same job redone once more (as after a worker that applied it and died before
    # its ack): the board still counts the result once.
    await redo_result_job(redis_client, match_id)
    await clients[1].next_push("notify", timeout=15)
    assert (await clients[0].request("lb.rank", board="total"))["score"] == 7
    assert (await clients[1].request("lb.rank", board="total"))["score"] == 3
    for client in clients:
        await client.close()


async def test_a_job_that_keeps_failing_ends_in_the_dead_letters(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis
) -> None:
    node = spawn_node(ARENA_JOB_TRIES="2", **QUEUE)
    redis_client.lpush(READY, json.dumps({"id": "bad", "kind": "no.such.kind", "args": {},
                                          "tries": 0}))  # fmt: skip

    async def dead() -> bool:
        _, stats = await http_json("GET", node.url + "/v1/stats")
        return bool(stats["queues"]["results"] == {"ready": 0, "taken": 0, "dead": 1})

    await eventually(dead, within_s=10)
    letter = json.loads(redis_client.lindex("arena:queue:{results}:dead", 0) or b"{}")
    assert (letter["id"], letter["tries"]) == ("bad", 2)


async def test_a_player_offline_when_notified_gets_it_on_the_next_connect(
    spawn_node: SpawnNode,
) -> None:
    node = spawn_node()
    match_id, clients, players = await start_match([node.url], 2)
    winner, offline = clients
    scores = {players[0].player_id: 5, players[1].player_id: 4}
    await offline.request("match.result", match_id=match_id, scores=scores)
    await offline.close()
    await winner.request("match.result", match_id=match_id, scores=scores)  # both agree
    await winner.next_push("notify")  # the worker has run: the other one's note is kept

    async with await ArenaClient.connect(node.url, players[1].token) as back:
        note = await back.next_push("notify")
        assert (note["kind"], note["data"]["match_id"], note["data"]["score"]) == (
            "match.result",
            match_id,
            4,
        )
        listed = (await back.request("notify.list"))["notes"]
        assert [n["id"] for n in listed] == [note["id"]]
        await back.request("notify.ack", id=note["id"])
        assert (await back.request("notify.list"))["notes"] == []
    async with await ArenaClient.connect(node.url, players[1].token) as again:
        await again.request("ping")  # pending notes come before any reply: there are none
        assert again.pushes.empty()
    await winner.close()


async def test_a_result_counts_on_the_day_its_match_ended_even_when_redone_the_next_day(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    day = json.dumps([{"id": "day", "order": "desc", "operator": "incr", "period": "daily"}])
    now = [1795737599.0]  # 2026-11-26 23:59:59 UTC

    modes = json.dumps({"*": {"boards": ["day"]}})
    arena = await start_arena(clock=lambda: now[0], boards=day, modes=modes, workers=1)
    match_id, clients, players = await start_match([arena], 2)
    scores = {players[0].player_id: 5, players[1].player_id: 2}
    await report_all(clients, match_id, scores)
    await clients[0].next_push("notify")
    assert (await clients[0].request("lb.rank", board="day"))["score"] == 5

    now[0] += 2  # past midnight; the job is redone (its worker died before the ack)
    await redo_result_job(redis_client, match_id)
    again = await clients[0].next_push("notify")
    assert again["data"]["boards"]["day"]["score"] == 5  # the standing on the match's day
    yesterday = await clients[0].request("lb.rank", board="day", period="2026-11-26")
    assert yesterday["score"] == 5  # counted once, on the day the match ended
    with pytest.raises(ArenaError) as today:
        await clients[0].request("lb.rank", board="day")
    assert today.value.code == "NOT_RANKED"
    for client in clients:
        await client.close()
