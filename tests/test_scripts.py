"""Every Lua script compiles on the real Redis and states its contract; logic is written once."""

from __future__ import annotations

import re
from collections import defaultdict
from importlib import resources

import pytest
import redis as redis_sync

from server.storage.scripts import includes, source

LUA = resources.files("server.storage").joinpath("lua")
SCRIPTS = sorted(p.name.removesuffix(".lua") for p in LUA.iterdir() if p.name.endswith(".lua"))
SNIPPETS = sorted(p.name.removesuffix(".lua") for p in LUA.joinpath("lib").iterdir())
FUNCTION = re.compile(r"^local function (\w+)\(", re.MULTILINE)


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_compiles_and_has_a_keys_argv_header(
    name: str, redis_client: redis_sync.Redis
) -> None:
    text = source(name)
    header = text.split("\n\n")[0] + "\n" + text
    assert "-- KEYS[" in header, name
    assert "-- Returns" in header, name
    assert redis_client.script_load(text)  # raises if Redis cannot compile it
    # Each snippet comes once, so no function is defined twice in what Redis runs.
    defined = FUNCTION.findall(text)
    assert len(defined) == len(set(defined)), (name, defined)
    assert not any(includes(line) for line in text.splitlines()), name


@pytest.mark.parametrize("name", SNIPPETS)
def test_a_snippet_is_one_function_named_after_it_with_a_header(name: str) -> None:
    text = LUA.joinpath("lib", f"{name}.lua").read_text()
    assert FUNCTION.findall(text) == [name]
    comments = [line for line in text.splitlines() if line.startswith("--")]
    assert comments[0].startswith(f"-- {name}(") or comments[1].startswith(f"-- {name}("), name
    assert any(line.startswith("-- Returns") for line in comments), name
    assert any(name in includes(line) for s in SCRIPTS for line in source_lines(s)), name


def source_lines(name: str) -> list[str]:
    return LUA.joinpath(f"{name}.lua").read_text().splitlines()


def test_no_script_repeats_another_s_code() -> None:
    """Four code lines in a row found in two files are logic copied: it goes in lua/lib/.

    KEYS[n] and ARGV[n] count as alike, so a copy with its arguments renumbered is caught.
    """
    files = {f"{s}.lua": source_lines(s) for s in SCRIPTS} | {
        f"lib/{s}.lua": LUA.joinpath("lib", f"{s}.lua").read_text().splitlines() for s in SNIPPETS
    }
    where: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for file, lines in files.items():
        code = [
            re.sub(r"(KEYS|ARGV)\[\d+\]", r"\1[n]", line.strip())
            for line in lines
            if line.strip() and not line.strip().startswith("--")
        ]
        for i in range(len(code) - 3):
            where[tuple(code[i : i + 4])].add(file)
    copies = {run: sorted(found) for run, found in where.items() if len(found) > 1}
    assert not copies, copies


def test_the_rate_limit_is_the_same_through_both_scripts(redis_client: redis_sync.Redis) -> None:
    """rate_limit.lua and match_send.lua share GCRA: the same calls meet the same verdicts."""
    interval_ms, burst = 60_000, 3  # slow enough that no allowance comes back during the test
    redis_client.hset("m", "state", "running")
    redis_client.sadd("players", "p1")

    def rate_limit(count: str = "1") -> tuple[bool, int]:
        allowed, retry = redis_client.eval(
            source("rate_limit"), 1, "rate:plain", interval_ms, burst, count
        )
        return bool(allowed), int(retry)

    def match_send() -> tuple[bool, int]:
        reply = redis_client.eval(
            source("match_send"), 4, "m", "players", "feed", "rate:match",
            "p1", interval_ms, burst, "channel", b"\x81\xa1k\xa1v", 10, 60,
        )  # fmt: skip
        if reply[0] == 1:
            return True, 0
        assert reply[1] == b"RATE_LIMITED", reply
        return False, int(reply[2])

    assert rate_limit(count="0") == (True, 0)  # only asking counts nothing
    assert not redis_client.exists("rate:plain")
    plain = [rate_limit() for _ in range(burst + 2)]
    in_match = [match_send() for _ in range(burst + 2)]
    assert [allowed for allowed, _ in plain] == [True] * burst + [False, False]
    assert [allowed for allowed, _ in in_match] == [allowed for allowed, _ in plain]
    for _, retry in plain[burst:] + in_match[burst:]:
        assert 0 < retry <= interval_ms
    assert rate_limit(count="0")[0] is False
    # Both counted the same requests: their theoretical arrival times lie less than one
    # interval apart (each counted request moves it on by a whole interval).
    tat_plain = float(redis_client.get("rate:plain") or 0)
    tat_match = float(redis_client.get("rate:match") or 0)
    assert abs(tat_plain - tat_match) < interval_ms
    assert redis_client.xlen("feed") == burst  # only allowed events reach the feed
