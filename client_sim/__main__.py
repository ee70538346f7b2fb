"""``python -m client_sim`` / ``arena-bots``: simulated players against a running Arena.

    arena-bots --url http://127.0.0.1:8080 --bots 50 --duration 60 --scenario play

A live line shows bots connected, ops/s and errors; at the end a table gives,
per op, its count, its errors by code and its latency (p50, p95, p99, max);
``--json FILE`` writes the same. The exit status is 1 when errors other than
the expected ones (RATE_LIMITED, LOBBY_FULL, MATCH_ENDED, NOT_RANKED: a busy
game's normal refusals) pass ``--max-error-fraction`` of all ops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from client_sim.bot_parties import PartyBoard
from client_sim.bots import EXPECTED_CODES, SCENARIOS, Bot, BotConfig, RunWindow, Tally
from client_sim.client import DeviceSecrets


def percentile(values: list[float], p: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None  # no successes: no latency (JSON null, "-" in the table)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)


def summary(tally: Tally, args: argparse.Namespace, elapsed_s: float) -> dict[str, Any]:
    ops = {}
    for name, stats in sorted(tally.ops.items()):
        values = stats.latencies_ms
        ops[name] = {
            "count": stats.count,
            "ok": stats.ok,
            "errors": dict(sorted(stats.errors.items())),
            "p50_ms": percentile(values, 50),
            "p95_ms": percentile(values, 95),
            "p99_ms": percentile(values, 99),
            "max_ms": round(stats.max_ms, 2) if stats.ok else None,
        }
    return {
        "scenario": args.scenario,
        "bots": args.bots,
        "duration_s": round(elapsed_s, 1),
        "ops": ops,
        "total": tally.total,
        "unexpected_errors": tally.unexpected,
        "expected_codes": sorted(EXPECTED_CODES),
        "crashes": dict(tally.crashes),
    }


def table(report: dict[str, Any]) -> str:
    lines = [
        f"{'op':<18}{'count':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}  errors",
    ]
    for name, op in report["ops"].items():
        errors = ", ".join(f"{code} {n}" for code, n in op["errors"].items()) or "-"
        times = "".join(
            f"{'-' if op[k] is None else format(op[k], '.2f'):>9}"
            for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")
        )
        lines.append(f"{name:<18}{op['count']:>8}{times}  {errors}")
    for kind, n in report["crashes"].items():
        lines.append(f"bot crashed ({kind}): {n}")
    lines.append(
        f"{report['total']} ops by {report['bots']} bots in {report['duration_s']} s; "
        f"{report['unexpected_errors']} unexpected errors"
    )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tally = Tally()
    secrets = DeviceSecrets(args.secrets)
    config = BotConfig(args.url, args.scenario, args.rate, args.seed, args.ramp, secrets=secrets)
    began = time.monotonic()
    window = RunWindow(began + args.duration)
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        # Ctrl-C ends the run early, and the report still comes.
        loop.add_signal_handler(signal.SIGINT, window.stop_now)
    parties = PartyBoard()  # where bots who play in a party meet
    bots = [
        asyncio.create_task(Bot(i, config, tally, window, parties).run()) for i in range(args.bots)
    ]
    last_total, last_time = 0, began
    # Bounded: a bot finishes its last op after the stop, within a request timeout or two.
    while not all(bot.done() for bot in bots) and time.monotonic() < window.stop_at + 30:
        await asyncio.wait(bots, timeout=1.0)
        now, total = time.monotonic(), tally.total
        rate = (total - last_total) / max(now - last_time, 1e-6)
        last_total, last_time = total, now
        secrets.save()  # as they come: a run cut short keeps the secrets it was given
        if not args.quiet:
            line = (
                f"\rbots connected {tally.connected:>6}  ops/s {rate:>8.0f}  "
                f"errors {tally.unexpected:>6} unexpected"
            )
            print(line, end="", file=sys.stderr, flush=True)
    if not args.quiet:
        print(file=sys.stderr)
    for bot in bots:
        if not bot.done():
            bot.cancel()
            tally.crashes["did not stop"] += 1
        elif bot.exception() is not None:
            tally.crashes[type(bot.exception()).__name__] += 1
    secrets.save()
    return summary(tally, args, time.monotonic() - began)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="arena-bots", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="server base URL")
    parser.add_argument("--bots", type=int, default=10, help="how many bots")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds to run")
    parser.add_argument("--rate", type=float, default=5.0, help="actions per second per bot")
    parser.add_argument("--ramp", type=float, default=2.0, help="seconds over which bots start")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="play")
    parser.add_argument("--seed", type=int, default=1, help="makes bot identities repeatable")
    parser.add_argument("--json", type=Path, help="also write the report here, as JSON")
    parser.add_argument(
        "--secrets",
        type=Path,
        default=Path(os.environ.get("ARENA_DATA_DIR") or "var") / "bot-secrets.json",
        help="file keeping each bot's device_secret per server, so a bot id logs in as the "
        "same player next run (default: ARENA_DATA_DIR/bot-secrets.json)",
    )
    parser.add_argument(
        "--max-error-fraction",
        type=float,
        default=0.01,
        help="exit 1 when unexpected errors pass this share of all ops (default 0.01)",
    )
    parser.add_argument("--quiet", action="store_true", help="no live progress line")
    args = parser.parse_args(argv)
    if args.bots < 1 or args.duration <= 0 or args.rate <= 0 or args.ramp < 0:
        parser.error("--bots, --duration and --rate must be positive, --ramp not negative")
    report = asyncio.run(run(args))
    print(table(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    failing = report["unexpected_errors"] > args.max_error_fraction * max(report["total"], 1)
    return 1 if failing or report["total"] == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
