"""A day of Arena driven through the real services, for the conformance suite: every
store call it makes goes through whatever ``Commands`` the services were built on.

Three nodes share the Redis: ``main`` (players stay online a minute), ``doomed`` (a
node that dies: its players lapse 0.2 s after their claim, its seats after 0.2 s)
and ``sweeper`` (a short presence TTL, so its heartbeat turns steady at once and it
frees lapsed seats). Time moves for the services through ``clock``; presence and
seat leases lapse in real time, waited for by their deadline.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any

import pytest

from server.errors import (
    AlreadyInLobby,
    BadCredentials,
    MatchEnded,
    NotInLobby,
    NotInMatch,
    NotRanked,
    RateLimited,
)
from server.protocol import Format
from server.services import Services
from server.services.sessions import Login
from server.worker import ResultWorker
from tests.conformance_hosted import server_run
from tests.conformance_matchmaking import MODES, matchmaking
from tests.conformance_parties import parties
from tests.helpers import eventually

IP = "203.0.113.9"
# The nodes' settings (beside the Redis URL and rate limits).
MAIN: dict[str, Any] = {"presence_ttl_s": 60.0, "modes": MODES}
DOOMED: dict[str, Any] = {
    "modes": MODES,
    "presence_ttl_s": 0.2,
    "presence_interval_s": 0.1,
    "lobby_grace_s": 0.2,
    "party_grace_s": 0.2,
}
SWEEPER: dict[str, Any] = {"presence_ttl_s": 0.05, "presence_interval_s": 0.02, "modes": MODES}
STAMP_MS = int(DOOMED["presence_ttl_s"] * 1000)  # a doomed node's player is online this long
SEAT_MS = int((DOOMED["lobby_grace_s"] + DOOMED["presence_interval_s"]) * 1000)  # its seats


class Clock:
    """Real time, moved on by the flow."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s


@dataclass
class Nodes:
    main: Services
    doomed: Services
    sweeper: Services
    clock: Clock


@dataclass
class Player:
    login: Login
    device: str
    conn: str = ""

    @property
    def id(self) -> str:
        return self.login.player_id

    @property
    def name(self) -> str:
        return self.login.name


async def past(ms: int) -> None:
    """Wait until Redis's clock (this machine's) is past ``ms``: a lease or a presence
    stamp has run out. A deadline, not a guess."""
    await asyncio.sleep(max(0.0, ms / 1000 + 0.02 - time.time()))


async def a_day(nodes: Nodes) -> None:
    s = nodes.main
    ann, bob, cat, dan = [await _log_in(s, name) for name in ("ann", "bob", "cat", "dan")]
    await _sessions(s, ann, dan)
    await _presence(s, [ann, bob, cat, dan])
    await _boards(s, ann, bob)
    lobby_match = await _lobby_to_match(s, ann, bob, cat, dan)
    await _consensus_and_results(nodes, lobby_match, ann, bob, cat)
    await _disputes(nodes, ann, bob, cat)
    await _queue_retries(s)
    await _match_life(nodes, ann, bob)
    await _lapsed_seats(nodes)
    await parties(nodes.main, nodes.doomed, nodes.sweeper, ann, bob, cat)  # after: steady
    await _operators(s, ann, bob, dan)
    await server_run(nodes.main, nodes.sweeper, ann, bob, cat)
    await matchmaking(nodes.main, nodes.clock, ann, bob, cat)


async def _log_in(s: Services, name: str) -> Player:
    device = f"device-{name}-{secrets.token_hex(4)}"
    return Player(await s.sessions.guest_login(device, None, name, client_ip=IP), device)


async def _sessions(s: Services, ann: Player, dan: Player) -> None:
    again = await s.sessions.guest_login(ann.device, ann.login.device_secret, "ann", client_ip=IP)
    with pytest.raises(BadCredentials):
        await s.sessions.guest_login(ann.device, "not-the-secret", "ann", client_ip=IP)
    session = await s.sessions.authenticate(again.token)
    ticket = await s.sessions.issue_ticket(session)
    assert (await s.sessions.authenticate_ticket(ticket)).player_id == ann.id
    assert await s.sessions.refresh([session.token_hash]) == [True]
    await s.sessions.describe(session.token_hash)
    await s.sessions.revoke(session)
    # Dan fears his secret leaked: a new one, every session of his ended; he logs in again.
    rotation = await s.sessions.rotate_device_secret(
        dan.device, dan.login.device_secret, client_ip=IP
    )
    dan.login = await s.sessions.guest_login(
        dan.device, rotation.device_secret, "dan", client_ip=IP
    )
    assert await s.sessions.ended_meanwhile(await s.sessions.authenticate(dan.login.token)) is None
    spectator = await s.sessions.spectator_login(client_ip=IP)
    await s.presence.spectator_socket_opened(spectator.player_id, "spec1")
    await s.presence.refresh_spectator_sockets({"spec1": spectator.player_id})
    await s.presence.spectator_socket_closed(spectator.player_id, "spec1")


async def _presence(s: Services, players: list[Player]) -> None:
    for i, p in enumerate(players):
        p.conn = f"c{i}"
        await s.presence.socket_opened(p.id, p.conn)
    # Ann opens a second socket: the first is told to end (a socket order).
    players[0].conn = "c0b"
    assert await s.presence.socket_opened(players[0].id, "c0b") is None
    await s.presence.orders_missed({"c0": players[0].id})
    await s.presence.sockets_displaced({"c0": players[0].id})
    await s.presence.heartbeat({p.conn: p.id for p in players})
    assert (await s.presence.lookup([p.id for p in players]))[1][players[1].id]
    await s.presence.online_count()
    await s.presence.nodes_alive()


async def _boards(s: Services, ann: Player, bob: Player) -> None:
    lb = s.leaderboards
    for player, score in ((ann, 50), (bob, 70), (ann, 90)):
        await lb.submit(player.id, player.name, "global", score)
    with pytest.raises(RateLimited):  # lb.submit: a burst of 2 (the test's settings)
        await lb.submit(ann.id, ann.name, "global", 10)
    await lb.top_page("global", offset=0, limit=10, period=None, fmt=Format.JSON)
    await lb.top_page("global", offset=0, limit=5, period=None, fmt=Format.MSGPACK)  # cached
    assert (await lb.rank("global", bob.id, period=None)).rank == 2
    await lb.around("global", ann.id, radius=2, period=None)
    with pytest.raises(NotRanked):
        await lb.rank("daily", "nobody", period=None)
    await s.profiles.set_name(ann.id, "ann2")  # the boards' names follow
    ann.login = Login(ann.login.token, ann.id, "ann2", ann.login.expires_in_s)
    assert (await s.profiles.get(ann.id)).name == "ann2"
    await s.profiles.get(ann.id)  # from the cache


async def _lobby_to_match(s: Services, ann: Player, bob: Player, cat: Player, dan: Player) -> str:
    lobbies = s.lobbies
    lobby = await lobbies.create(
        ann.id, ann.name, mode="arena", capacity=3, name="friday", private=False
    )
    # Two join at once: one waits for the other's lock.
    await asyncio.gather(
        lobbies.join(bob.id, bob.name, lobby.lobby_id),
        lobbies.join(cat.id, cat.name, lobby.lobby_id),
    )
    with pytest.raises(AlreadyInLobby):
        await lobbies.create(bob.id, bob.name, mode="arena", capacity=2, name=None, private=True)
    await lobbies.list_open(None, 10)
    await lobbies.get(dan.id, lobby.lobby_id)
    room = f"lobby:{lobby.lobby_id}"
    await s.chat.join(ann.id, room)
    await s.chat.send(ann.id, ann.name, room, "gl hf")
    await s.chat.history(bob.id, room, 10)
    # Dan quick-joins a lobby of his own and leaves it.
    await lobbies.quickjoin(dan.id, dan.name, "duel")
    await lobbies.leave(dan.id)
    with pytest.raises(NotInLobby):
        await lobbies.leave(dan.id)
    for p in (ann, bob, cat):
        started = await lobbies.ready(p.id, True)
    assert started.status == "started"
    assert started.match_id
    return started.match_id


async def _consensus_and_results(
    nodes: Nodes, match_id: str, ann: Player, bob: Player, cat: Player
) -> None:
    m = nodes.main.matches
    first = await m.send(ann.id, match_id, "move", {"x": 1, "to": [2, 3]})
    await m.send(bob.id, match_id, "move", {"x": 2})
    assert len(await m.feed(cat.id, match_id, None, 10)) >= 2
    await m.feed(cat.id, match_id, first, 10)
    await nodes.main.chat.send(cat.id, cat.name, f"match:{match_id}", "nice")
    await m.current_of(ann.id)
    await m.running(10)
    scores = {ann.id: 3, bob.id: 1, cat.id: 0}
    await m.report_result(match_id, scores, reported_by=ann.id)
    await m.report_result(match_id, scores, reported_by=bob.id)
    await m.leave(cat.id, match_id)  # those left agree: the match ends
    with pytest.raises(MatchEnded):
        await m.send(ann.id, match_id, "move", {})
    with pytest.raises(NotInMatch):
        await m.leave(cat.id, match_id)
    await _apply_results(nodes.main, 1)
    notes = await nodes.main.notifications.pending(ann.id)
    assert notes
    await nodes.main.notifications.ack(ann.id, notes[-1].id)
    await nodes.main.activity.recent(10)


async def _apply_results(s: Services, jobs: int) -> None:
    """A results worker takes and applies ``jobs`` jobs, then stops."""
    worker = ResultWorker(s.results_queue, s.results, name="w", take_wait_s=0.05)
    stopping = asyncio.Event()
    running = asyncio.create_task(worker.run(stopping))
    try:

        async def done() -> bool:
            return worker.done >= jobs

        await eventually(done, within_s=5, every_s=0.01)
    finally:
        stopping.set()
        await running
    await s.results.queue_counts()


async def _queue_retries(s: Services) -> None:
    """A job given back by its worker is taken back by the reclaim, then done."""
    queue = s.results_queue
    await queue.enqueue("probe", {"n": 1})
    job = await queue.take(0.05)
    assert job is not None
    await queue.retry_later(job, 0.0)
    await past(int(time.time() * 1000))
    assert sum(await queue.reclaim()) == 1
    job = await queue.take(0.05)  # one try of ARENA_JOB_TRIES (5) counted
    assert job is not None
    assert job.tries == 1
    await queue.ack(job)
    await queue.dead_letters(10)


async def _disputes(nodes: Nodes, ann: Player, bob: Player, cat: Player) -> None:
    """A report alone at the deadline re-arms the wait; with all three in, the next
    deadline decides."""
    m = nodes.main.matches
    match_id = secrets.token_hex(8)
    await m.start(match_id, "l" + secrets.token_hex(5), "arena", [ann.id, bob.id, cat.id])
    await m.report_result(match_id, {ann.id: 1, bob.id: 0, cat.id: 0}, reported_by=ann.id)
    nodes.clock.offset_s += 20  # past the mode's result wait (15 s)
    await m.decide_due()  # one report of three: no decision, the wait re-arms
    await m.report_result(match_id, {ann.id: 0, bob.id: 1, cat.id: 0}, reported_by=bob.id)
    await m.report_result(match_id, {ann.id: 0, bob.id: 1, cat.id: 0}, reported_by=cat.id)
    nodes.clock.offset_s += 20
    await m.decide_due()
    decided = await m.read(match_id)
    assert decided is not None
    assert decided.state == "ended"
    await _apply_results(nodes.main, 1)
    await m.disputed_count()


async def _match_life(nodes: Nodes, ann: Player, bob: Player) -> None:
    """Bob's socket closes and comes back; a player on a node that died lapses; a match
    nobody plays any more ends abandoned; the upkeep ticks."""
    s, doomed = nodes.main, nodes.doomed
    life = s.match_life
    ghost = await _log_in(doomed, "ghost")
    await doomed.presence.socket_opened(ghost.id, "g0")
    stamped = int(time.time() * 1000) + STAMP_MS
    match_id = secrets.token_hex(8)
    await s.matches.start(match_id, "l" + secrets.token_hex(5), "duel", [bob.id, ghost.id])
    ann_online = (await s.presence.lookup([ann.id]))[1][ann.id]
    await life.sockets_closed([(bob.id, bob.conn), (ann.id, "not-ann's-live-socket")])
    assert (await s.presence.lookup([bob.id, ann.id]))[1] == {bob.id: False, ann.id: ann_online}
    bob.conn = "c1b"
    back = await s.presence.socket_opened(bob.id, bob.conn)
    assert back is not None
    await life.player_back(bob.id, match_id, back)
    await past(stamped)
    assert await life.tell_lapsed() == [ghost.id]
    await life.players_back({})
    await s.matches.feed(bob.id, match_id, None, 50)
    # Bob leaves for good; an abandon delay later the match ends with nobody in it.
    gone = (await s.presence.sockets_closed([(bob.id, bob.conn)]))[bob.id]
    await life.player_gone(bob.id, gone)
    nodes.clock.offset_s += 600
    assert await life.end_abandoned() == [match_id]
    await life.tick()
    await s.matches.abandoned_count()
    # A match that ran as long as a match may is ended by the upkeep.
    long_id = secrets.token_hex(8)
    await s.matches.start(long_id, "l" + secrets.token_hex(5), "duel", [ann.id, bob.id])
    nodes.clock.offset_s += 3 * 86400
    assert long_id in await life.end_expiring()
    await s.presence.standing_of([ann.id, bob.id, ghost.id])


async def _lapsed_seats(nodes: Nodes) -> None:
    """A player of the dead node keeps a lobby seat until its lease runs out; then the
    sweeper frees it."""
    eve = await _log_in(nodes.doomed, "eve")
    await nodes.doomed.lobbies.create(
        eve.id, "eve", mode="arena", capacity=4, name=None, private=False
    )
    leased = int(time.time() * 1000) + SEAT_MS
    sweeper = nodes.sweeper
    async with asyncio.timeout(5):
        while not sweeper.presence.steady():
            await sweeper.presence.heartbeat({})
            await asyncio.sleep(0.02)
    await past(leased)
    await sweeper.lobbies.free_lapsed_seats()
    assert await nodes.main.lobbies.seated_in(eve.id) is None


async def _operators(s: Services, ann: Player, bob: Player, dan: Player) -> None:
    lobby = await s.lobbies.create(
        dan.id, dan.name, mode="arena", capacity=2, name=None, private=True
    )
    await s.admin.close_lobby(lobby.lobby_id)
    match_id = secrets.token_hex(8)
    await s.matches.start(match_id, "l" + secrets.token_hex(5), "duel", [ann.id, dan.id])
    await s.admin.end_match(match_id)
    await s.admin.kick(bob.id)
    await s.admin.ban(bob.id, 60)
    await s.admin.unban(bob.id)
    await s.admin.stats()
    await s.cache_stats.flush()
    await s.cache_stats.totals()
    await s.health.not_ready_because(1.0)
    await s.sessions.revoke_all(await s.sessions.authenticate(dan.login.token))
