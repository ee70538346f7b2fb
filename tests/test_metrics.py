"""GET /metrics: what a node did, in Prometheus's format, named by its conventions."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from client_sim.client import ArenaError
from server import nodes
from server.embedded_redis import free_port
from tests.conftest import SpawnNode, StartArena
from tests.helpers import connect, eventually, start_match

NAMES = {
    "arena_sockets_open": "gauge",
    "arena_ops": "counter",
    "arena_op_duration_seconds": "histogram",
    "arena_fanout_lag_seconds": "histogram",
    "arena_event_loop_lag_seconds": "histogram",
    "arena_cache_requests": "counter",
    "arena_lock_waits": "counter",
    "arena_lock_timeouts": "counter",
    "arena_lock_wait_seconds": "counter",
    "arena_rate_limit_refusals": "counter",
    "arena_redis_errors": "counter",
    "arena_redis_up": "gauge",
    "arena_players_online": "gauge",
    "arena_nodes_alive": "gauge",
    "arena_matches_abandoned": "counter",
    "arena_queue_jobs": "gauge",
    "arena_matches_hosted": "gauge",
    "arena_match_ticks": "counter",
    "arena_match_skipped": "counter",
    "arena_match_errors": "counter",
    "arena_match_takeovers": "counter",
    "arena_match_fenced": "counter",
    "arena_mm_matches": "counter",
    "arena_mm_widened": "counter",
    "arena_mm_stale": "counter",
    "arena_mm_expired": "counter",
    "arena_mm_tickets_waiting": "gauge",
    "arena_mm_time_to_match_seconds": "histogram",
    "arena_match_tick_lateness_seconds": "histogram",
    "arena_matches_disputed": "counter",
}


async def scrape(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as http, http.get(base_url + "/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    samples = {}
    types = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    assert types == NAMES  # every metric there, each of its type; counters end in _total
    return samples


async def test_metrics_count_ops_by_code_time_them_and_see_the_game(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(rate_limits="lb.submit=2/0.01")
    _, alice = await connect(arena, "alice")
    match_id, clients, _ = await start_match([arena], 2)
    await alice.request("ping")
    await alice.request("lb.submit", board="global", score=5)
    await alice.request("lb.submit", board="global", score=6)
    refusals: list[tuple[str, dict[str, Any], str]] = [
        ("lb.submit", {"board": "global", "score": 7}, "RATE_LIMITED"),
        ("lb.top", {"board": "nope"}, "UNKNOWN_BOARD"),
        ("no.such.op.from.a.fuzzer", {}, "UNKNOWN_OP"),
    ]
    for op, fields, code in refusals:
        with pytest.raises(ArenaError) as refused:
            await alice.request(op, **fields)
        assert refused.value.code == code
    await alice.request("lb.top", board="global", limit=10)
    await alice.request("lb.top", board="global", limit=10)  # the cache's hit
    for seq in range(5):
        await clients[0].send("match.send", match_id=match_id, type="move", data=seq)
    for _ in range(5):
        await clients[1].next_push("match.event")

    m = await scrape(arena)
    assert m["arena_sockets_open", ()] == 3
    assert m["arena_ops_total", (("code", "OK"), ("op", "ping"))] == 1
    assert m["arena_ops_total", (("code", "OK"), ("op", "lb.submit"))] == 2
    assert m["arena_ops_total", (("code", "RATE_LIMITED"), ("op", "lb.submit"))] == 1
    assert m["arena_ops_total", (("code", "UNKNOWN_BOARD"), ("op", "lb.top"))] == 1
    # A made-up op name is counted, under one label: a fuzzer cannot grow the series.
    assert m["arena_ops_total", (("code", "UNKNOWN_OP"), ("op", "unknown"))] == 1
    assert m["arena_ops_total", (("code", "OK"), ("op", "match.send"))] == 5
    assert m["arena_op_duration_seconds_count", (("op", "lb.submit"),)] == 3
    assert m["arena_op_duration_seconds_bucket", (("le", "+Inf"), ("op", "ping"))] == 1
    assert m["arena_fanout_lag_seconds_count", ()] == 5  # one per event per node
    assert m["arena_cache_requests_total", (("cache", "lb_top"), ("result", "hits"))] >= 1
    assert m["arena_rate_limit_refusals_total", (("action", "lb.submit"),)] == 1
    assert m["arena_players_online", ()] == 3
    assert m["arena_nodes_alive", ()] == 1
    assert m["arena_redis_up", ()] == 1
    assert m["arena_queue_jobs", (("queue", "results"), ("state", "ready"))] == 0
    assert m["arena_matches_hosted", ()] == 0
    # A server-run match: hosted here, ticking.
    await alice.request("match.create", mode="tictactoe")

    async def ticking() -> bool:
        m = await scrape(arena)
        return m["arena_matches_hosted", ()] == 1 and m["arena_match_ticks_total", ()] > 0

    await eventually(ticking, within_s=5)
    for client in [alice, *clients]:
        await client.close()


async def test_with_metrics_off_there_is_no_route(start_arena: StartArena) -> None:
    arena = await start_arena(metrics=0)
    async with aiohttp.ClientSession() as http, http.get(arena + "/metrics") as resp:
        assert resp.status == 404


async def test_a_metrics_port_takes_metrics_off_the_public_port(spawn_node: SpawnNode) -> None:
    metrics_port = free_port()
    node = spawn_node(ARENA_METRICS_PORT=str(metrics_port))
    _, alice = await connect(node.url, "alice")
    async with alice, aiohttp.ClientSession() as http:
        async with http.get(node.url + "/metrics") as resp:
            assert resp.status == 404
        samples = await scrape(f"http://127.0.0.1:{metrics_port}")
        assert samples["arena_sockets_open", ()] == 1
        # The metrics port serves nothing else.
        for path in ("/v1/stats", "/healthz", "/"):
            async with http.get(f"http://127.0.0.1:{metrics_port}{path}") as resp:
                assert resp.status == 404, path


def test_several_nodes_get_consecutive_metrics_ports() -> None:
    count, settings, flags = nodes.parse(
        ["--nodes", "3", "--port", "9000", "--metrics-port", "9100"]
    )
    commands = [nodes.node_command(n, settings, flags) for n in range(1, count + 1)]
    ports = [c[c.index("--metrics-port") + 1] for c in commands]
    assert ports == ["9100", "9101", "9102"]
    assert all(c.count("--metrics-port") == 1 for c in commands)
    with pytest.raises(SystemExit):  # the metrics ports would overlap the nodes' ports
        nodes.parse(["--nodes", "3", "--port", "9000", "--metrics-port", "9002"])
