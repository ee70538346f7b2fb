"""Every Redis key and pub/sub channel Arena uses, and nothing else decides a name (this
package: the keys of server-run matches are in ``hosting``, those of parties, matchmaking
and ratings in ``play``, re-exported here).

Secrets never appear in key names in the clear: a session key holds the SHA-256
of its token and a device key the SHA-256 of its device id, so a Redis dump or
`MONITOR` shows nothing a client could log in with.
"""

from __future__ import annotations

from server.storage.keys.hosting import (
    host_leases,
    host_load,
    match_epoch,
    match_host,
    match_input_rate,
    match_inputs,
    match_lease,
    match_snapshot,
    match_steps,
)
from server.storage.keys.play import (
    board_rated,
    board_ratings,
    mm_accepts,
    mm_holders,
    mm_lease,
    mm_made,
    mm_modes,
    mm_party_tickets,
    mm_queue,
    mm_tickets,
    party,
    party_leases,
    party_player_resource,
    player_party,
)
from server.storage.keys.prefix import PREFIX

# Re-exported: every key is ``keys.x``, wherever it is written down.
__all__ = [
    "PREFIX",
    "board_rated",
    "board_ratings",
    "host_leases",
    "host_load",
    "match_epoch",
    "match_host",
    "match_input_rate",
    "match_inputs",
    "match_lease",
    "match_snapshot",
    "match_steps",
    "mm_accepts",
    "mm_holders",
    "mm_lease",
    "mm_made",
    "mm_modes",
    "mm_party_tickets",
    "mm_queue",
    "mm_tickets",
    "party",
    "party_leases",
    "party_player_resource",
    "player_party",
]


def device(device_hash: str) -> str:
    """Hash (player_id, secret: the SHA-256 of the device's secret) with the guest TTL:
    which player a device id (hashed) logs in as, and what proves it is that device.
    Before device secrets it was a string holding the player id alone; the login
    script turns such a key into the hash on the device's next login."""
    return f"{PREFIX}:device:{device_hash}"


def player(player_id: str) -> str:
    """Hash: a player's profile (name, created_ms)."""
    return f"{PREFIX}:player:{player_id}"


def player_sessions(player_id: str) -> str:
    """Sorted set with the guest TTL: the player's session keys' token hashes -> when made
    (ms), so all of them can be revoked; entries whose session is gone are pruned on add."""
    return f"{PREFIX}:{{player:{player_id}}}:sessions"


def player_revocations(player_id: str) -> str:
    """Counter with the guest TTL: how many times every session of the player was revoked
    at once. A login reads it as it lists its session and again once the session exists:
    a change means a revocation ran in between and may have missed the session."""
    return f"{PREFIX}:{{player:{player_id}}}:revocations"


def player_ban(player_id: str) -> str:
    """String: until when (ms; 0: until unbanned) the player is banned; expires with the ban."""
    return f"{PREFIX}:{{player:{player_id}}}:ban"


def socket_ticket(ticket_hash: str) -> str:
    """String, 30 s: the token hash of the session a socket ticket (hashed) opens; GETDEL."""
    return f"{PREFIX}:ticket:{ticket_hash}"


def session(token_hash: str) -> str:
    """Hash with a sliding TTL: one session (player_id, created_ms)."""
    return f"{PREFIX}:session:{token_hash}"


def live_socket(player_id: str) -> str:
    """String: which node and connection hold the player's one live socket ("node conn").

    Tagged like ``presence()`` so one script can release a socket and its presence.
    """
    return f"{PREFIX}:{{presence}}:live:{player_id}"


def presence() -> str:
    """Sorted set: player id -> the ms timestamp until which they count as online."""
    return f"{PREFIX}:{{presence}}:online"


def nodes() -> str:
    """Sorted set: node id -> the ms timestamp until which the node counts as alive."""
    return f"{PREFIX}:nodes"


def rate_limit(action: str, subject: str) -> str:
    """String: the GCRA state (theoretical arrival time, ms) of one subject's action."""
    return f"{PREFIX}:rate:{action}:{subject}"


def node_channel(node_id: str) -> str:
    """Channel: commands for the sockets one node holds (close, replace)."""
    return f"{PREFIX}:node:{node_id}"


def socket_orders(player_id: str) -> str:
    """List, capped, a minute's TTL: the last orders sent to a player's socket (end it,
    rename it), for a node whose pub/sub missed them."""
    return f"{PREFIX}:{{player:{player_id}}}:orders"


def cache_entry(cache: str, item: str) -> str:
    """String: a cached value (fresh copy, short TTL). Its stale copy and lock share its tag."""
    return f"{PREFIX}:cache:{{{cache}:{item}}}:fresh"


def cache_stale(cache: str, item: str) -> str:
    """String: the previous copy, served while one reader rebuilds."""
    return f"{PREFIX}:cache:{{{cache}:{item}}}:stale"


def cache_lock(cache: str, item: str) -> str:
    """String: who is rebuilding the entry (token, with a TTL)."""
    return f"{PREFIX}:cache:{{{cache}:{item}}}:lock"


def cache_stats(cache: str) -> str:
    """Hash: counters (hits, misses, stale, waits) summed over all nodes."""
    return f"{PREFIX}:stats:cache:{cache}"


def board_scores(board_id: str, period_id: str) -> str:
    """Sorted set: arrival-prefixed player id -> score, for one board in one period.

    The four keys of a board period share a hash tag, so one script can touch them all.
    """
    return f"{PREFIX}:lb:{{{board_id}:{period_id}}}:scores"


def board_members(board_id: str, period_id: str) -> str:
    """Hash: player id -> the player's member in the scores set."""
    return f"{PREFIX}:lb:{{{board_id}:{period_id}}}:members"


def board_names(board_id: str, period_id: str) -> str:
    """Hash: player id -> display name, so a page reads names in the same round trip."""
    return f"{PREFIX}:lb:{{{board_id}:{period_id}}}:names"


def board_arrivals(board_id: str, period_id: str) -> str:
    """String: counter of score changes, the tie-break order."""
    return f"{PREFIX}:lb:{{{board_id}:{period_id}}}:arrivals"


def lock(resource: str) -> str:
    """String: who holds the lock on a resource (a random token, with a TTL).
    ``resource`` is a hash tag such as ``lobby:ab12``: the lock, its fence counter and
    the state it guards share it, so one script can check the fence and write."""
    return f"{PREFIX}:{{{resource}}}:lock"


def lock_fence(resource: str) -> str:
    """String: the resource's fencing counter; every acquire takes the next number."""
    return f"{PREFIX}:{{{resource}}}:fence"


def player_channel(player_id: str) -> str:
    """Channel: pushes for one player (lobby updates, notifications), on any node.

    Tagged like the player's notes, so one script can append a note and publish it.
    """
    return f"{PREFIX}:{{player:{player_id}}}:to"


def lobby(lobby_id: str) -> str:
    """Hash: a lobby's state (fields and members), fenced by its lock (resource lobby:ID)."""
    return f"{PREFIX}:{{lobby:{lobby_id}}}:state"


def lobby_resource(lobby_id: str) -> str:
    """The lock resource (and hash tag) of a lobby."""
    return f"lobby:{lobby_id}"


def player_lobby(player_id: str) -> str:
    """String: the lobby a player sits in; SET NX makes 'never in two lobbies' atomic."""
    return f"{PREFIX}:{{player:{player_id}}}:lobby"


def open_lobbies(mode: str | None) -> str:
    """Sorted set: open public lobbies with free seats (of a mode, or all) -> member count."""
    return f"{PREFIX}:lobbies:open" if mode is None else f"{PREFIX}:lobbies:open:{mode}"


def mode_resource(mode: str) -> str:
    """The lock resource that serialises quick-join's lobby creation for one mode."""
    return f"mode:{mode}"


def seat_leases() -> str:
    """Sorted set: seated player -> when their seat frees unless their node renews it."""
    return f"{PREFIX}:lobbies:seat-leases"


def match(match_id: str) -> str:
    """Hash: a match (mode, lobby, roster, state, times, its result once ended)."""
    return f"{PREFIX}:{{match:{match_id}}}:state"


def match_players(match_id: str) -> str:
    """Set: the players who may still send to the match (the roster minus who left)."""
    return f"{PREFIX}:{{match:{match_id}}}:players"


def match_feed(match_id: str) -> str:
    """Stream, capped by length: every event of the match, in order; the id is the feed id."""
    return f"{PREFIX}:{{match:{match_id}}}:feed"


def match_channel(match_id: str) -> str:
    """Channel: the match's events, published in the same script that appends them."""
    return f"{PREFIX}:{{match:{match_id}}}:events"


def match_send_rate(match_id: str, player_id: str) -> str:
    """String: GCRA state of one player's sends in one match (tagged with the match, so the
    send script checks it in the same call)."""
    return f"{PREFIX}:{{match:{match_id}}}:rate:{player_id}"


def player_match(player_id: str) -> str:
    """String: the running match a player is in, so a new socket follows it."""
    return f"{PREFIX}:{{player:{player_id}}}:match"


def player_kept_pushes(player_id: str) -> str:
    """List, capped, a minute's TTL: pushes to a player that no state tells again
    (``lobby.closed``), for a node whose pub/sub missed them."""
    return f"{PREFIX}:{{player:{player_id}}}:kept"


def player_notes(player_id: str) -> str:
    """Stream, capped: a player's notifications until they acknowledge them."""
    return f"{PREFIX}:{{player:{player_id}}}:notes"


def chat_log(room: str) -> str:
    """Stream, capped: a chat room's recent messages."""
    return f"{PREFIX}:{{chat:{room}}}:log"


def chat_channel(room: str) -> str:
    """Channel: a chat room's messages."""
    return f"{PREFIX}:{{chat:{room}}}:messages"


def watch_channel() -> str:
    """Channel: game-wide changes for dashboards (lobbies, matches, top scores, activity)."""
    return f"{PREFIX}:watch"


def running_matches() -> str:
    """Sorted set: running match id -> its start (ms); what ``match.list`` pages through.
    The running index's three keys share the tag ``{matches}``: one script reads a page
    of ids and their summaries, or unlists a match from all three."""
    return f"{PREFIX}:{{matches}}:running"


def running_summaries() -> str:
    """Hash: running match id -> its ``match.list`` summary (msgpack: mode, players,
    started_ms), and ``<id>:playing`` -> how many have not left."""
    return f"{PREFIX}:{{matches}}:summaries"


def running_seen() -> str:
    """Sorted set: running match id -> when (ms) one of its players was last seen online;
    the upkeep checks the stalest first and ends a match abandoned when it is too old."""
    return f"{PREFIX}:{{matches}}:seen"


def match_counts() -> str:
    """Hash: game-wide match counters (``abandoned``), for stats and metrics."""
    return f"{PREFIX}:stats:matches"


def activity_feed() -> str:
    """List, capped (LPUSH + LTRIM): recent activity across the game, newest first."""
    return f"{PREFIX}:feed:global"


def queue_ready(queue: str) -> str:
    """List: jobs waiting; pushed on the left, taken from the right (oldest first)."""
    return f"{PREFIX}:queue:{{{queue}}}:ready"


def queue_taken(queue: str) -> str:
    """List: jobs a worker has taken (BLMOVE from ready) and not yet acknowledged."""
    return f"{PREFIX}:queue:{{{queue}}}:taken"


def queue_leases(queue: str) -> str:
    """Hash: taken job -> ms timestamp after which it is taken back (the visibility timeout)."""
    return f"{PREFIX}:queue:{{{queue}}}:leases"


def queue_dead(queue: str) -> str:
    """List: jobs that failed too many times (the dead letters), newest first."""
    return f"{PREFIX}:queue:{{{queue}}}:dead"


def board_applied(board_id: str, period_id: str) -> str:
    """Sorted set: ids of results already applied to this board period -> when (ms), so a
    result redone after a worker died counts once."""
    return f"{PREFIX}:lb:{{{board_id}:{period_id}}}:applied"


def match_reports(match_id: str) -> str:
    """Hash: player id -> the scores they reported (canonical msgpack), under the
    ``consensus`` results policy; expires with the match."""
    return f"{PREFIX}:{{match:{match_id}}}:reports"


def pending_results() -> str:
    """Sorted set: match id -> when (ms) its result must be decided without everyone's
    report (a majority, or a dispute); any node's upkeep decides the due ones."""
    return f"{PREFIX}:matches:pending-results"


def disputed_matches() -> str:
    """String: the count of matches that ended disputed (stats, metrics)."""
    return f"{PREFIX}:stats:matches:disputed"
