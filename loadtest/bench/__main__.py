"""``make bench`` / ``python -m loadtest.bench``: run the benchmarks, print and record one table.

Each benchmark measures Arena beside a baseline taken in the same run on the
same machine, and the results replace the generated part of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadtest.bench import (
    connections,
    hosted,
    leaderboards,
    lobbies,
    locks,
    matchmaking,
    projection,
    relay,
    summary,
    sync,
)
from loadtest.bench.common import machine
from loadtest.bench.summary import Headlines
from server.settings import Settings

BEGIN = "<!-- bench:start (make bench rewrites from here) -->"
END = "<!-- bench:end -->"
SECTIONS = (
    "leaderboards",
    "locks",
    "lobbies",
    "sync",
    "matchmaking",
    "relay",
    "hosted",
    "connections",
)


def record(doc: Path, body: str) -> None:
    text = doc.read_text() if doc.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    doc.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}")


def compose(sections: list[str], headlines: Headlines) -> str:
    """The summary of issue 19's figures first, the projection when its figures were
    measured, then every section in the order run."""
    top = [summary.table(headlines)]
    if headlines.sockets is not None and headlines.relay is not None:
        top.append(
            projection.render(headlines.sockets, headlines.relay, headlines.boards, Settings())
        )
    return "\n".join([*(part for part in top if part), *sections])


async def main_async(args: argparse.Namespace) -> str:
    sections = []
    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="arena-bench-") as tmp:
        workdir = Path(tmp)
        if "leaderboards" in args.only:
            text, found["boards"] = await leaderboards.run(
                workdir, players=args.players, duration_s=args.duration, samples=args.samples
            )
            sections.append(text)
        if "locks" in args.only:
            sections.append(await locks.run(workdir, duration_s=min(args.duration, 5.0)))
        if "lobbies" in args.only:
            text, found["lobbies"] = await lobbies.run(workdir, duration_s=min(args.duration, 5.0))
            sections.append(text)
        if "sync" in args.only:
            sections.append(sync.run())
        if "matchmaking" in args.only:
            sections.append(await matchmaking.run(workdir))
        if "relay" in args.only:
            text, found["relay"] = await relay.run(workdir)
            sections.append(text)
        if "hosted" in args.only:
            sections.append(await hosted.run(workdir))
        if "connections" in args.only:
            text, found["sockets"] = await connections.run(workdir)
            sections.append(text)
    command = "make bench" if not args.command else args.command
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = f"Measured {now} with `{command}` on {machine()}.\n"
    return header + "\n" + compose(sections, Headlines(**found))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench", description=__doc__)
    parser.add_argument(
        "--only",
        nargs="+",
        default=list(SECTIONS),
        choices=SECTIONS,
    )
    parser.add_argument("--players", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load phase")
    parser.add_argument("--samples", type=int, default=2000, help="latency samples per op")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--no-record", action="store_true", help="print only")
    parser.add_argument("--command", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    body = asyncio.run(main_async(args))
    print(body)
    if not args.no_record:
        record(args.out, body)
        print(f"recorded in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
