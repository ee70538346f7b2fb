"""The bench's summary of issue 19's figures and its 16-core projection, fed figures rather
than measured: each row's ratio and verdict, the relay's server + Redis CPU per delivery,
and the projection's arithmetic."""

from __future__ import annotations

import math

from loadtest.bench import projection, relay_report, summary
from loadtest.bench.__main__ import compose
from loadtest.bench.relay_load import HZ, SEATS, StepResult
from loadtest.bench.summary import (
    BoardHeadline,
    Headlines,
    LobbyHeadline,
    RelayHeadline,
    SocketsHeadline,
)
from server.settings import Settings


def step(matches: int, *, server: float, redis: float, passed: bool = True) -> StepResult:
    scheduled = matches * SEATS * HZ * 10
    return StepResult(
        matches=matches,
        sent=scheduled,
        scheduled=scheduled,
        window_s=10.0,
        delivered=scheduled * SEATS,
        missing=0,
        extra=0,
        errors=0,
        stray=0,
        closed=0,
        p50_ms=5.0,
        p99_ms=20.0 if passed else 150.0,
        send_lag_p99_ms=1.0,
        server_cpu=server,
        generator_cpu=0.5,
        redis_cpu=redis,
        core_busy=(0.8, 0.7),
        interrupts_cpu=0.1,
    )


def climbed(single: list[StepResult], bare: list[StepResult]) -> dict[str, relay_report.Climbed]:
    others = [step(40, server=0.5, redis=0.1), step(60, server=0.9, redis=0.2, passed=False)]
    return {
        "single": relay_report.Climbed(single, ""),
        "window": relay_report.Climbed(others, ""),
        "cluster": relay_report.Climbed(others, ""),
        "two nodes": relay_report.Climbed(others, ""),
        "bare": relay_report.Climbed(bare, None),
    }


RELAY = RelayHeadline(
    deliveries_per_s=120_000.0,
    bare_per_s=200_000.0,
    at_matches=40,
    server_us=5.0,
    redis_us=1.5,
    bare_us=4.0,
    seats=8,
    hz=20.0,
)
SOCKETS = SocketsHeadline(
    sockets=15_000,
    kb_per_socket=20.0,
    bare_kb_per_socket=16.0,
    base_mb=80.0,
    open_us=400.0,
    bare_open_us=160.0,
    close_us=90.0,
    bare_close_us=60.0,
    open_p99_ms=math.nan,
    bare_open_p99_ms=12.0,
    late_open_p99_ms=4.0,
    bare_late_open_p99_ms=3.0,
    redis_bytes_per_player=1000.0,
    idle_share=0.03,
    redis_idle_share=0.02,
)


def test_the_relay_headline_counts_redis_on_the_servers_side() -> None:
    # At 40 matches, 51,200 deliveries/s: 0.512 of a core is 10 µs each, 0.128 is 2.5 µs.
    single = [step(40, server=0.512, redis=0.128), step(60, server=0.9, redis=0.2)]
    bare = [step(40, server=0.2048, redis=0.0), step(80, server=0.4, redis=0.0)]
    h = relay_report.headline(climbed(single, bare))
    assert h.at_matches == 40  # the most matches every Arena target passed
    assert math.isclose(h.server_us, 10.0)
    assert math.isclose(h.redis_us, 2.5)
    assert math.isclose(h.arena_us, 12.5)
    assert math.isclose(h.bare_us, 4.0)
    assert h.deliveries_per_s == single[1].delivered_per_s
    assert h.bare_per_s == bare[1].delivered_per_s
    text = relay_report.render(climbed(single, bare))
    assert "server / Redis / server + Redis" in text
    assert "| 10.0 / 2.5 / 12.5 |" in text
    assert "| 4.0 / - / 4.0 |" in text  # the bare relay has no Redis
    assert "core 0 (server + Redis) / core 1 (generator)" in text


def test_a_step_not_passed_gives_no_cpu_figure() -> None:
    single = [step(40, server=0.5, redis=0.1, passed=False)]
    h = relay_report.headline(climbed(single, [step(40, server=0.2, redis=0.0)]))
    assert math.isnan(h.server_us)
    assert h.deliveries_per_s == 0.0
    row = summary.rows(Headlines(relay=h))[1]
    assert row.met is None
    assert "| n/a |" in summary.table(Headlines(relay=h))


def test_each_row_has_its_ratio_and_verdict() -> None:
    h = Headlines(
        relay=RELAY,
        sockets=SOCKETS,
        boards=BoardHeadline(submits_per_s=30_000.0, zadd_per_s=100_000.0),
        lobbies=LobbyHeadline(joins_per_s=3_000.0, lock_holds_per_s=9_000.0),
    )
    found = {row.measure.split(",")[0].split(" (")[0]: row for row in summary.rows(h)}
    assert [r.met for r in found.values()] == [
        False,
        False,
        False,
        False,
        True,
        None,
        True,
        True,
        False,
    ]
    text = summary.table(h)
    assert "| 60% |" in text  # relay ceiling: a share
    assert "| 1.62× |" in text  # 6.5 µs against 4.0: a multiple
    assert "| 30% | 30% of the baseline | **yes** |" in text  # submits at exactly the aim
    assert "the lobby lock alone" in text
    assert "| 33% | 8,000/s | no |" in text
    assert "**n/a** | 12.0 ms, bare aiohttp WebSocket server | n/a |" in text  # not measured
    assert summary.table(Headlines()) == ""


def test_the_projection_shows_its_arithmetic() -> None:
    settings = Settings()
    p = projection.project(SOCKETS, RELAY, settings)
    # Memory: 64 GB at 80% over 16 nodes = 3,276.8 MB a node, less 80 MB fresh, 20 KB each.
    assert math.isclose(p.per_node_memory, (3276.8 - 80.0) * 1024 / 20.0)
    # CPU: 75% of a core over (20 Hz by 8 deliveries at 5 µs) = 937.5 players a node.
    assert math.isclose(p.per_node_cpu, 937.5)
    g, c = p.playing, p.connected
    assert math.isclose(g.players, 16 * 937.5)
    assert math.isclose(c.players, 16 * p.per_node_memory)
    assert math.isclose(g.presence_per_s, 15_000 * 4 / settings.presence_interval_s)
    # Measured idle: 2% of a core for 15,000 players, so 2% of a core for these 15,000.
    assert math.isclose(g.idle_redis_cores, 0.02)
    assert math.isclose(c.idle_redis_cores, c.players * 0.02 / 15_000)
    assert math.isclose(g.sessions_per_s, 15_000 / settings.session_touch_interval_s)
    assert math.isclose(c.sessions_per_s, c.players / (settings.session_ttl_s / 3))
    assert math.isclose(g.relay_calls_per_s, 15_000 * 20)
    assert math.isclose(g.relay_redis_cores, 15_000 * 160 * 1.5 / 1e6)
    assert math.isclose(g.relay_node_cores, 16 * 0.75)
    assert math.isclose(g.redis_gb, 15_000 * 1000 / 1024**3)
    text = projection.render(SOCKETS, RELAY, BoardHeadline(30_000.0, 100_000.0), settings)
    assert "| **players** | 16 × the per-node bound | **2,618,819** | **15,000** |" in text
    assert "N = all playing (the relay's CPU bounds)" in text
    assert "| 75% × 1 s ÷ (160 × 5.00 µs) | 938 |" in text
    assert "| 12,000 (12% of a core) |" in text
    assert "| N × 2.0% ÷ 15,000 | 3.49 | 0.02 |" in text
    assert "the all-connected figure is out of reach" in text  # 3.49 cores on one slot
    assert "| 3.6 (1.2) |" in text
    assert "`arena:{presence}:online`" in text
    assert "`arena:{matches}:running`" in text
    assert "this run: 30,000/s through one node" in text
    unmeasured = projection.render(SOCKETS, RELAY, None, settings)
    assert "| 12,000 |" in unmeasured  # no yardstick: no share of a core
    assert "of a core)" not in unmeasured


def test_the_summary_and_projection_come_before_the_sections() -> None:
    both = compose(["### Relay\n", "### Connection capacity\n"], Headlines(RELAY, SOCKETS))
    assert both.index("### Summary") < both.index("### Projection") < both.index("### Relay")
    alone = compose(["### Relay\n"], Headlines(relay=RELAY))
    assert "### Summary" in alone
    assert "### Projection" not in alone
    assert compose(["### Sync\n"], Headlines()) == "### Sync\n"
