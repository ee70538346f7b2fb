"""``python -m client_sim`` / ``arena-bots``: simulated players against a running Arena.

Scenarios so far: ``idle`` (log in, hold a socket: a connection soak) and
``ping`` (log in, then ping at ``--rate`` Hz). The game-playing scenarios grow
with the server's capabilities.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from client_sim.client import ArenaClient, ArenaError, guest_login

SCENARIOS = ("idle", "ping")


@dataclass
class Tally:
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    connected: int = 0

    def record(self, op: str, started: float) -> None:
        self.latencies_ms.setdefault(op, []).append((time.perf_counter() - started) * 1000)


async def run_bot(index: int, args: argparse.Namespace, tally: Tally, stop_at: float) -> None:
    rng = random.Random(args.seed * 100_003 + index)
    await asyncio.sleep(rng.uniform(0, args.ramp))
    async with aiohttp.ClientSession() as http:
        started = time.perf_counter()
        try:
            login = await guest_login(
                args.url, f"bot-{args.seed}-{index:06d}", f"bot{index}", http=http
            )
        except ArenaError as exc:
            tally.errors[f"auth.guest:{exc.code}"] += 1
            return
        tally.record("auth.guest", started)
        async with await ArenaClient.connect(args.url, login.token, http=http) as client:
            tally.connected += 1
            while time.monotonic() < stop_at and client.close_code is None:
                if args.scenario == "idle":
                    await asyncio.sleep(min(1.0, max(0.0, stop_at - time.monotonic())))
                    continue
                started = time.perf_counter()
                try:
                    await client.request("ping")
                    tally.record("ping", started)
                except ArenaError as exc:
                    tally.errors[f"ping:{exc.code}"] += 1
                await asyncio.sleep(rng.expovariate(args.rate))
            tally.connected -= 1


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def report(tally: Tally) -> str:
    lines = [f"{'op':<12}{'count':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}"]
    for op, values in sorted(tally.latencies_ms.items()):
        lines.append(
            f"{op:<12}{len(values):>8}{percentile(values, 50):>10.2f}"
            f"{percentile(values, 95):>10.2f}{percentile(values, 99):>10.2f}{max(values):>10.2f}"
        )
    for code, count in sorted(tally.errors.items()):
        lines.append(f"error {code}: {count}")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    tally = Tally()
    stop_at = time.monotonic() + args.duration
    bots = [asyncio.create_task(run_bot(i, args, tally, stop_at)) for i in range(args.bots)]
    while not all(bot.done() for bot in bots):
        await asyncio.wait(bots, timeout=1.0)
        done = sum(len(v) for v in tally.latencies_ms.values())
        print(f"\rconnected {tally.connected:>6}  ops {done:>8}  errors {tally.errors.total():>6}",
              end="", file=sys.stderr, flush=True)  # fmt: skip
    print(file=sys.stderr)
    for bot in bots:
        if bot.exception() is not None:
            tally.errors[f"crash:{type(bot.exception()).__name__}"] += 1
    print(report(tally))
    return 1 if tally.errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arena-bots", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="server base URL")
    parser.add_argument("--bots", type=int, default=10, help="how many bots")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to run")
    parser.add_argument("--rate", type=float, default=2.0, help="requests per second per bot")
    parser.add_argument("--ramp", type=float, default=1.0, help="seconds over which bots start")
    parser.add_argument("--scenario", choices=SCENARIOS, default="ping")
    parser.add_argument("--seed", type=int, default=1, help="makes bot identities repeatable")
    args = parser.parse_args(argv)
    if args.bots < 1 or args.duration <= 0 or args.rate <= 0 or args.ramp < 0:
        parser.error("--bots, --duration and --rate must be positive")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
