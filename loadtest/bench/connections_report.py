"""The connection capacity bench's section of docs/benchmarks.md: Arena beside the bare
aiohttp server in one table, the CPU of each phase in another, and notes on what the
figures mean and on anything that may have coloured them."""

from __future__ import annotations

import math

from loadtest.bench.connections_host import LATE_OPENS, OPEN_FILES, SOCKETS, Limits
from loadtest.bench.connections_load import (
    BARE_IDLE_S,
    CPU_SLICE_S,
    HEARTBEAT_S,
    IDLE_S,
    IN_FLIGHT,
    PHASE_LIMIT_S,
    PING_SAMPLES,
    PRESENCE_S,
    Phase,
    Target,
)
from loadtest.bench.summary import SocketsHeadline

GENERATOR_BUSY = 0.8  # the generator's core this busy: it may be what limits a rate


def _ms(phase: Phase, top: bool = False) -> str:
    if not phase.latencies_ms:
        return "n/a"
    text = f"{phase.p50_ms:.2f} / {phase.p99_ms:.2f}"
    return text + f" / {max(phase.latencies_ms):.1f}" if top else text


def _cpu(phase: Phase, redis: bool) -> str:
    text = f"{phase.share(phase.server_cpu_s):.0%} / {phase.share(phase.own_cpu_s):.0%}"
    text += f" / {phase.share(phase.redis_cpu_s):.0%}" if redis else " / -"
    return text + f" | {phase.cores_busy[0]:.0%} / {phase.cores_busy[1]:.0%}"


def _notes(a: Target, b: Target, server_log: str, limits: Limits) -> list[str]:
    notes = []
    for t in (a, b):
        for what, phase, expected in (
            ("logins", t.login, t.wanted),
            ("opens", t.opens, t.sockets),
            ("sample pings", t.pings, 0),
            ("final pings", t.sweep, t.opens.done),
            ("late logins", t.late_logins, LATE_OPENS),
            ("late opens", t.late, t.late_logins.done if t.late_logins else LATE_OPENS),
        ):
            if phase is not None and phase.errors:
                notes.append(
                    f"{t.name}: {phase.errors:,} of {phase.tried:,} {what} failed; first: "
                    f"`{phase.first_error}`."
                )
            if phase is not None and phase.tried < expected:
                notes.append(
                    f"{t.name}: {what} stopped at {phase.tried:,} of {expected:,} after "
                    f"{PHASE_LIMIT_S:.0f} s."
                )
        for what, phase in (("logins", t.login), ("opens", t.opens)):
            if phase is not None and phase.cores_busy[1] >= GENERATOR_BUSY:
                notes.append(
                    f"{t.name}: the generator's core was {phase.cores_busy[1]:.0%} busy during "
                    f"the {what} (server's core {phase.cores_busy[0]:.0%}): that rate is partly "
                    "the generator's ceiling, not the server's."
                )
        if t.overflows:
            notes.append(
                f"{t.name}: a listen queue overflowed {t.overflows:,} times while it ran "
                "(connects then wait for a SYN retry, about 1 s)."
            )
        if t.stop_s > 3:
            notes.append(f"{t.name}: stopping the server took {t.stop_s:.1f} s.")
    if limits.sockets < SOCKETS:
        notes.append(
            f"The open-files limit could only be raised to {limits.now:,}: "
            f"{limits.sockets:,} sockets tried instead of {SOCKETS:,}."
        )
    lines = server_log.splitlines()
    errors = [x for x in lines if " ERROR " in x or "Traceback" in x]
    warnings = [x for x in lines if " WARNING " in x]
    if not errors and not warnings:
        notes.append("Arena's log held no warnings or errors.")
    else:
        first = (errors or warnings)[0][:200]
        notes.append(
            f"Arena's log: {len(errors)} errors, {len(warnings)} warnings; first: `{first}`."
        )
    return notes


def _limit_text(limits: Limits) -> str:
    before = f"soft {limits.soft_before:,}, hard {limits.hard_before:,}"
    if limits.refused:
        return (
            f"The bench asks for an open-files limit (`RLIMIT_NOFILE`) of {OPEN_FILES:,} for "
            f"itself and the servers it starts (they inherit it); here it was {before}, and "
            f"raising the hard limit was refused (`{limits.refused}`; it takes "
            f"CAP_SYS_RESOURCE), so all ran at {limits.now:,}."
        )
    if limits.now != limits.soft_before:
        return (
            f"The bench raised its open-files limit (`RLIMIT_NOFILE`, {before}) to "
            f"{limits.now:,} for itself and the servers it starts (they inherit it)."
        )
    return f"The open-files limit (`RLIMIT_NOFILE`) was already {limits.now:,}."


def headline(a: Target, b: Target) -> SocketsHeadline:
    """The figures issue 19 sets aims for, and what the projection needs."""
    return SocketsHeadline(
        sockets=a.held,
        kb_per_socket=a.kb_per_socket,
        bare_kb_per_socket=b.kb_per_socket,
        base_mb=a.rss_start_kb / 1024,
        open_us=a.opens.server_cpu_s * 1e6 / max(a.opens.done, 1),
        bare_open_us=b.opens.server_cpu_s * 1e6 / max(b.opens.done, 1),
        close_us=a.drain_cpu_s * 1e6 / max(a.dropped, 1),
        bare_close_us=b.drain_cpu_s * 1e6 / max(b.dropped, 1),
        open_p99_ms=a.opens.p99_ms if a.opens.latencies_ms else math.nan,
        bare_open_p99_ms=b.opens.p99_ms if b.opens.latencies_ms else math.nan,
        late_open_p99_ms=a.late.p99_ms if a.late.latencies_ms else math.nan,
        bare_late_open_p99_ms=b.late.p99_ms if b.late.latencies_ms else math.nan,
        redis_bytes_per_player=a.redis_bytes / max(a.held, 1),
        idle_share=a.idle.server if a.idle is not None else math.nan,
        redis_idle_share=a.idle.redis if a.idle is not None else math.nan,
    )


def render(a: Target, b: Target, server_log: str, limits: Limits, spent_s: float) -> str:
    assert a.login is not None
    assert a.idle is not None
    assert b.idle is not None
    login, opens = a.login, a.opens
    spent = login.wall_s + opens.wall_s
    per_player = opens.done / spent if spent else 0.0
    share = a.kb_per_socket / b.kb_per_socket if b.kb_per_socket else float("nan")
    round_ms = a.idle.server * PRESENCE_S * 1000
    rows = [
        ("sockets held (answered a ping after the idle wait)",
         f"**{a.held:,}** of {a.wanted:,}", f"{b.held:,} of {b.wanted:,}"),
        ("server memory (VmRSS): fresh / after the logins / every socket open (MB)",
         f"{a.rss_start_kb / 1024:.0f} / {a.rss_logged_in_kb / 1024:.0f} / "
         f"{a.rss_idle_kb / 1024:.0f}",
         f"{b.rss_start_kb / 1024:.0f} / - / {b.rss_idle_kb / 1024:.0f}"),
        ("server memory per socket (for Arena, its player's login included)",
         f"**{a.kb_per_socket:.1f} KB**", f"{b.kb_per_socket:.1f} KB"),
        ("Redis memory per player (session, profile, presence, subscription)",
         f"{a.redis_bytes / max(a.held, 1):,.0f} bytes", "-"),
        (f"guest logins/s ({IN_FLIGHT} in flight)", f"**{login.rate:,.0f}**", "-"),
        (f"socket opens/s ({IN_FLIGHT} in flight)", f"**{opens.rate:,.0f}**",
         f"{b.opens.rate:,.0f}"),
        ("players in/s, login then open", f"{per_player:,.0f}", "-"),
        ("login p50 / p99 ms", _ms(login), "-"),
        ("open p50 / p99 ms", _ms(opens), _ms(b.opens)),
        (f"open p50 / p99 / max ms, {a.late.done:,} more one at a time with every socket "
         "held (no queue of opens)", f"**{_ms(a.late, True)}**", _ms(b.late, True)),
        (f"`ping` round trip p50 / p99 / max ms ({PING_SAMPLES:,} sockets, one at a time, "
         "all held)", f"**{_ms(a.pings, True)}**", _ms(b.pings, True)),
        ("server CPU idle with every socket open (share of a core)",
         f"**{a.idle.server:.1%}** (Redis {a.idle.redis:.1%})", f"{b.idle.server:.1%}"),
        ("after the clients left: server busy for (s) / its CPU per socket closed",
         f"{a.drain_s:.1f} / {a.drain_cpu_s * 1e6 / max(a.dropped, 1):.0f} µs",
         f"{b.drain_s:.1f} / {b.drain_cpu_s * 1e6 / max(b.dropped, 1):.0f} µs"),
    ]  # fmt: skip
    table = "\n".join(
        ["| measure | Arena | bare aiohttp |", "|---|---|---|"]
        + [f"| {m} | {x} | {y} |" for m, x, y in rows]
    )
    busy = (
        "| phase | CPU: server / generator / Redis (share of a core) "
        "| busy: core 0 / core 1 |\n|---|---|---|\n"
        f"| Arena logins | {_cpu(login, True)} |\n"
        f"| Arena opens | {_cpu(opens, True)} |\n"
        f"| bare opens | {_cpu(b.opens, False)} |"
    )
    per_open = opens.server_cpu_s * 1e6 / max(opens.done, 1)
    per_bare_open = b.opens.server_cpu_s * 1e6 / max(b.opens.done, 1)
    per_login = login.server_cpu_s * 1e6 / max(login.done, 1)
    notes = [
        f"Memory per socket is a socket's share of the server's growth from fresh to every "
        f"socket open and idle; Arena's is {share:.1f}× the bare server's. The logins alone "
        f"grew Arena by {(a.rss_logged_in_kb - a.rss_start_kb) / 1024:.0f} MB.",
        f"Server CPU per login {per_login:.0f} µs; per open {per_open:.0f} µs for Arena "
        f"(token lookup, presence claim, a subscription, profile, match and notification "
        f"reads) against {per_bare_open:.0f} µs for the bare server.",
        f"Idle, Arena spent {round_ms:.0f} ms of CPU per {PRESENCE_S:.0f} s, in bursts (the "
        f"busiest {CPU_SLICE_S:.2f} s slice {max(a.idle.slices, default=0.0):.0%} of a core): "
        "the upkeep round, whose presence heartbeat covers every socket (session refresh is "
        "due only after a third of the session TTL, so it does not run here).",
        f"The generator's memory grew {a.own_rss_delta_kb / max(a.held, 1):.1f} KB per "
        "socket on its side (aiohttp client; its cyclic GC is off during the run).",
        *_notes(a, b, server_log, limits),
    ]
    return f"""### Connection capacity ({limits.sockets:,} idle authenticated sockets, one process)

The server runs on core 0; the generator (one asyncio thread: aiohttp on uvloop) and
Redis share core 1. Arena: every player logs in (`POST /v1/auth/guest`), then opens
`GET /v1/ws` with its token; logins and opens are timed as two phases, {IN_FLIGHT} at a
time. The server is then left idle ({IDLE_S:.0f} s; the bare one, which has no periodic
work, {BARE_IDLE_S:.0f} s), {PING_SAMPLES:,} sockets spread over the lot ping one after
another, and every socket pings once: those that answer are the sockets held. Then
{LATE_OPENS} more sockets open one at a time (a player joining a full node, with no other
open ahead of theirs: an open's latency {IN_FLIGHT} at a time is mostly its wait behind the
others, {IN_FLIGHT} ÷ the rate at p50). Last, the
generator drops every connection at once and the server's CPU is watched until it is
quiet. WebSocket heartbeats are {HEARTBEAT_S:.0f} s on both servers, so none fall in the
run, which took {spent_s:.0f} s.

{_limit_text(limits)} {limits.ports:,} local ports are available to the generator.

Baseline: a bare aiohttp WebSocket server (`loadtest/bench/bare_sockets.py`: no auth,
no Redis; it keeps its sockets in a set and answers `ping`), same cores, same generator.

{table}

{busy}

{chr(10).join(f"- {note}" for note in notes)}
"""
