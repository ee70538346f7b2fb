"""Simulated players: each bot logs in, holds a socket, and plays a named scenario:
``play`` (find a match through a lobby, or through the matchmaker alone or in a party of
two; play it at ``rate`` Hz; report the result; read the boards and the activity feed;
go again), ``idle`` (hold the socket: a connection soak), ``ping`` (at ``rate`` Hz),
``chatty`` (talk in the public room, reading history now and then), and
``leaderboard-reader`` (read pages, ranks and neighbourhoods, submitting now and then).
Every request is timed into a ``Tally`` by op; error replies are counted by code."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp

from client_sim.bot_parties import PartyBoard, pair_up, ticket_outcome
from client_sim.client import ArenaClient, ArenaError, ConnectionClosed, DeviceSecrets

# Error codes a busy game produces by design: they count, but not as failures.
EXPECTED_CODES = frozenset(
    {"RATE_LIMITED", "LOBBY_FULL", "MATCH_ENDED", "NOT_RANKED", "NOT_IN_LOBBY"}
)
SAMPLES_KEPT = 100_000  # latency samples per op; past that a uniform sample (reservoir)
MATCH_WAIT_S = 10.0
T = TypeVar("T")


@dataclass
class OpStats:
    latencies_ms: list[float] = field(default_factory=list)  # at most SAMPLES_KEPT
    ok: int = 0
    max_ms: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return self.ok + self.errors.total()

    def add(self, ms: float, rng: random.Random) -> None:
        """One success; memory stays bounded however long the run (a day of demo)."""
        self.ok += 1
        self.max_ms = max(self.max_ms, ms)
        if len(self.latencies_ms) < SAMPLES_KEPT:
            self.latencies_ms.append(ms)
        elif (slot := rng.randrange(self.ok)) < SAMPLES_KEPT:
            self.latencies_ms[slot] = ms


@dataclass
class Tally:
    ops: dict[str, OpStats] = field(default_factory=dict)
    connected: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    crashes: Counter[str] = field(default_factory=Counter)

    def op(self, name: str) -> OpStats:
        stats = self.ops.get(name)
        if stats is None:
            stats = self.ops[name] = OpStats()
        return stats

    def ok(self, name: str, started: float) -> None:
        self.op(name).add((time.perf_counter() - started) * 1000, self.rng)

    def failed(self, name: str, code: str) -> None:
        self.op(name).errors[code] += 1

    @property
    def total(self) -> int:
        return sum(stats.count for stats in self.ops.values())

    @property
    def unexpected(self) -> int:
        return self.crashes.total() + sum(
            n
            for stats in self.ops.values()
            for code, n in stats.errors.items()
            if code not in EXPECTED_CODES
        )


@dataclass(slots=True)
class RunWindow:
    """When the bots stop (monotonic seconds); ``stop_now`` (Ctrl-C) ends it early."""

    stop_at: float
    stopped: asyncio.Event = field(default_factory=asyncio.Event)

    def stop_now(self) -> None:
        self.stop_at = min(self.stop_at, time.monotonic())
        self.stopped.set()


@dataclass(frozen=True, slots=True)
class BotConfig:
    url: str
    scenario: str
    rate: float
    seed: int
    ramp_s: float
    mode: str = "bots"
    # The bots' device secrets: a bot id logs in again as the same player only with its own.
    secrets: DeviceSecrets = field(default_factory=DeviceSecrets)


class Bot:
    """One simulated player."""

    def __init__(
        self,
        index: int,
        config: BotConfig,
        tally: Tally,
        window: RunWindow,
        parties: PartyBoard | None = None,
    ) -> None:
        self.index = index
        self.parties = parties or PartyBoard()
        self.config = config
        self.tally = tally
        self._window = window
        self.rng = random.Random(config.seed * 100_003 + index)
        self.player_id = ""
        self.last_error = ""
        self.client: ArenaClient | None = None

    @property
    def stop_at(self) -> float:
        return self._window.stop_at

    @property
    def running(self) -> bool:
        return time.monotonic() < self.stop_at and (
            self.client is None or self.client.close_code is None
        )

    async def call(self, op: str, **fields: Any) -> dict[str, Any] | None:
        """A timed request; None when refused (the refusal is counted by its code)."""
        assert self.client is not None
        started = time.perf_counter()
        try:
            result = await self.client.request(op, **fields)
        except ArenaError as exc:
            self.tally.failed(op, exc.code)
            self.last_error = exc.code
            return None
        except (ConnectionClosed, TimeoutError) as exc:
            self.tally.failed(op, type(exc).__name__)
            return None
        self.tally.ok(op, started)
        return result

    def wait_s(self, most: float) -> float:
        """How long to wait for something: at most ``most``, never past the run's end."""
        return max(0.0, min(most, self.stop_at - time.monotonic()))

    async def before_stop(self, waited: Awaitable[T], most: float) -> T:
        """``waited``'s result, waiting at most ``most`` seconds and never past the run's
        end, nor past a Ctrl-C that comes meanwhile (TimeoutError then): a bot waiting for
        a match must not hold up the report."""
        task = asyncio.ensure_future(waited)
        stop = asyncio.ensure_future(self._window.stopped.wait())
        try:
            await asyncio.wait(
                {task, stop}, timeout=self.wait_s(most), return_when=asyncio.FIRST_COMPLETED
            )
            if task.done():
                return task.result()
            raise TimeoutError
        finally:
            for waiting in (task, stop):
                waiting.cancel()

    async def pause(self, seconds: float) -> None:
        if self.client is not None:
            _drop_pushes(self.client)  # what a scenario did not wait for must not pile up
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._window.stopped.wait(), self.wait_s(seconds))

    async def run(self) -> None:
        await asyncio.sleep(self.rng.uniform(0, self.config.ramp_s))
        async with aiohttp.ClientSession() as http:
            started = time.perf_counter()
            try:
                login = await self.config.secrets.login(
                    self.config.url,
                    f"bot-{self.config.seed}-{self.index:06d}",
                    f"bot{self.index}",
                    http=http,
                )
            except ArenaError as exc:
                self.tally.failed("auth.guest", exc.code)
                return
            self.tally.ok("auth.guest", started)
            self.player_id = login.player_id
            async with await ArenaClient.connect(
                self.config.url, login.token, http=http, reconnect=True
            ) as client:
                self.client = client
                self.tally.connected += 1
                try:
                    await SCENARIOS[self.config.scenario](self)
                finally:
                    self.tally.connected -= 1


# --- scenarios ------------------------------------------------------------------------


async def idle(bot: Bot) -> None:
    while bot.running:
        await bot.pause(1.0)


async def ping(bot: Bot) -> None:
    while bot.running:
        await bot.call("ping")
        await bot.pause(bot.rng.expovariate(bot.config.rate))


async def chatty(bot: Bot) -> None:
    await bot.call("chat.join", room="general")
    while bot.running:
        if bot.rng.random() < 0.1:
            await bot.call("chat.history", room="general", limit=20)
        else:
            await bot.call("chat.send", room="general", text=f"gg from bot {bot.index}")
        await bot.pause(bot.rng.expovariate(bot.config.rate))


async def leaderboard_reader(bot: Bot) -> None:
    while bot.running:
        roll = bot.rng.random()
        if roll < 0.1:
            await bot.call("lb.submit", board="global", score=bot.rng.randint(0, 10_000))
        elif roll < 0.5:
            await bot.call("lb.top", board="global", limit=10)
        elif roll < 0.7:
            await bot.call("lb.rank", board="global")
        elif roll < 0.9:
            await bot.call("lb.around", board="global", radius=5)
        else:
            await bot.call("feed.global", limit=10)
        await bot.pause(bot.rng.expovariate(bot.config.rate))


async def play(bot: Bot) -> None:
    # Half the bots find their matches through the matchmaker (half of those in parties
    # of two: one leads and queues, its partner follows), half through lobbies.
    find = _queue_for_a_match if bot.index % 2 else _get_into_a_match
    if await pair_up(bot, MATCH_WAIT_S):  # a member: its leader queues, the match comes
        find = _wait_for_a_match
    while bot.running:
        match = await find(bot)
        if match is None:
            await bot.pause(bot.rng.uniform(0.2, 1.0))
            continue
        await _play_match(bot, match)
        await bot.call("lb.top", board="global", limit=10)
        await bot.call("lb.rank", board="global")
        await bot.call("feed.global", limit=10)


async def _get_into_a_match(bot: Bot) -> dict[str, Any] | None:
    """Quick-join, ready, and wait for the match; None (seat given back) if none came."""
    assert bot.client is not None
    if await bot.call("lobby.quickjoin", mode=bot.config.mode) is None:
        if bot.last_error == "ALREADY_IN_LOBBY":  # a seat left over (a drop, a late start)
            await bot.call("lobby.leave")
        return None
    if await bot.call("lobby.ready", ready=True) is None:
        await bot.call("lobby.leave")
        return None
    try:
        started = bot.client.next_push("match.started", timeout=None)
        return await bot.before_stop(started, MATCH_WAIT_S)
    except (TimeoutError, ConnectionClosed):
        await bot.call("lobby.leave")
        return None


async def _queue_for_a_match(bot: Bot) -> dict[str, Any] | None:
    """Queue through the matchmaker and wait for the match; None when the ticket ended
    without one (cancelled by a change of the party, expired) or none came in time."""
    assert bot.client is not None
    queued = await bot.call("mm.enqueue", mode=bot.config.mode)
    if queued is None:
        return None
    ended = await ticket_outcome(bot.client, queued["ticket_id"], bot.before_stop, MATCH_WAIT_S)
    if ended is None:  # none in time: the ticket goes (it may have just been matched)
        with contextlib.suppress(ArenaError, ConnectionClosed):
            await bot.client.request("mm.cancel", ticket_id=queued["ticket_id"])
    return ended


async def _wait_for_a_match(bot: Bot) -> dict[str, Any] | None:
    """A party member: its leader queues the party; the match comes to it."""
    assert bot.client is not None
    try:
        started = bot.client.next_push("match.started", timeout=None)
        return await bot.before_stop(started, MATCH_WAIT_S)
    except (TimeoutError, ConnectionClosed):
        return None


async def _play_match(bot: Bot, match: dict[str, Any]) -> None:
    assert bot.client is not None
    client = bot.client
    match_id = match["match_id"]
    sent_at: dict[int, float] = {}
    all_back = asyncio.Event()
    ended = asyncio.Event()

    def match_ended(push: dict[str, Any]) -> None:
        if push.get("match_id") == match_id:
            ended.set()

    def echo(push: dict[str, Any]) -> None:
        data = push.get("data")
        if push.get("from") == bot.player_id and isinstance(data, dict):
            started = sent_at.pop(data.get("seq", -1), None)
            if started is not None:
                bot.tally.ok("match.send", started)  # fire-and-forget: timed to its echo
            if not sent_at:
                all_back.set()

    client.on("match.event", echo)
    client.on("match.ended", match_ended)
    try:
        play_until = time.monotonic() + bot.rng.uniform(2.0, 4.0)
        seq = 0
        while bot.running and time.monotonic() < play_until and not ended.is_set():
            sent_at[seq] = time.perf_counter()
            data = {"seq": seq, "x": bot.rng.randint(0, 100), "y": bot.rng.randint(0, 100)}
            await client.send("match.send", match_id=match_id, type="move", data=data)
            seq += 1
            await bot.pause(1.0 / bot.config.rate)
        if sent_at:  # give the last moves' echoes a moment to come back
            all_back.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_back.wait(), 2.0)
        # Sends refused (the match ended under them) come back as errors without a rid.
        while not client.errors.empty() and sent_at:
            error = client.errors.get_nowait().get("error") or {}
            sent_at.pop(next(iter(sent_at)))
            bot.tally.failed("match.send", str(error.get("code", "UNKNOWN")))
        for _ in sent_at:
            bot.tally.failed("match.send", "NO_ECHO")
        if bot.rng.random() < 0.3:
            await bot.call("chat.send", room=f"match:{match_id}", text="good game")
        # Every player reports, and all report the same scores (drawn from the match id,
        # as real clients derive them from the same game): the consensus ends the match.
        agreed = random.Random(match_id)
        scores = {p: agreed.randint(0, 1000) for p in match["players"]}
        await bot.call("match.result", match_id=match_id, scores=scores)
        with contextlib.suppress(TimeoutError):
            await bot.before_stop(ended.wait(), MATCH_WAIT_S)
    finally:
        client.off("match.event", echo)
        client.off("match.ended", match_ended)
        _drop_pushes(client)


def _drop_pushes(client: ArenaClient) -> None:
    """A bot reads what it needs; the rest must not pile up over hours."""
    while not client.pushes.empty():
        client.pushes.get_nowait()


SCENARIOS: dict[str, Callable[[Bot], Awaitable[None]]] = {
    "play": play,
    "idle": idle,
    "ping": ping,
    "chatty": chatty,
    "leaderboard-reader": leaderboard_reader,
}
