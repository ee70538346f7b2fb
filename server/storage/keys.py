"""Every Redis key and pub/sub channel Arena uses, and nothing else decides a name.

Secrets never appear in key names in the clear: a session key holds the SHA-256
of its token and a device key the SHA-256 of its device id, so a Redis dump or
`MONITOR` shows nothing a client could log in with.
"""

from __future__ import annotations

PREFIX = "arena"


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


def party(party_id: str, part: str) -> str:
    """One of a party's four keys, all under its tag (one script changes them together):
    ``state`` (hash: leader, open, max_size, rev, created_ms), ``members`` (sorted set:
    player -> join order), ``names`` (hash: player -> name), ``invites`` (sorted set:
    player -> expiry, ms). Every change renews their TTL; the last member out deletes them."""
    return f"{PREFIX}:{{party:{party_id}}}:{part}"


def player_party(player_id: str) -> str:
    """String with a TTL renewed while they are connected: the party a player is in."""
    return f"{PREFIX}:{{player:{player_id}}}:party"


def party_player_resource(player_id: str) -> str:
    """The lock resource that serialises one player's party.create and party.join."""
    return f"party-player:{player_id}"


def party_leases() -> str:
    """Sorted set: party member -> when their seat frees unless their node renews it."""
    return f"{PREFIX}:parties:seat-leases"


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


def match_host(match_id: str) -> str:
    """Hash: a server-run match's hosting record (game, params, tick rate, seed): what a
    node needs to run it. Its keys below share the match's tag, so the per-tick commit,
    the claim and the snapshot each touch one slot; the out feed is ``match_feed``."""
    return f"{PREFIX}:{{match:{match_id}}}:host"


def match_epoch(match_id: str) -> str:
    """String: the match's fencing counter; every claim takes the next number and a
    commit under any other number writes nothing."""
    return f"{PREFIX}:{{match:{match_id}}}:epoch"


def match_lease(match_id: str) -> str:
    """String with a PX TTL: ``<node>:<epoch>``, the node hosting the match; renewed by
    its tick commits, claimable by another node once it lapses."""
    return f"{PREFIX}:{{match:{match_id}}}:lease"


def match_inputs(match_id: str) -> str:
    """Stream, capped (MAXLEN ~): players' inputs in arrival order; the snapshot trims
    what it has consumed."""
    return f"{PREFIX}:{{match:{match_id}}}:inputs"


def match_input_rate(match_id: str, player_id: str) -> str:
    """String: GCRA state of one player's inputs in one match."""
    return f"{PREFIX}:{{match:{match_id}}}:input-rate:{player_id}"


def match_snapshot(match_id: str) -> str:
    """Hash: the last snapshot (tick, epoch, in_upto, out_id, blob: rng and state)."""
    return f"{PREFIX}:{{match:{match_id}}}:snap"


def match_steps(match_id: str) -> str:
    """Hash: since the last snapshot, ``last`` -> the last tick committed, and tick -> the
    last input id that tick consumed, for each that consumed any (a replay hands each
    tick exactly its inputs, up to the last tick any player may have seen)."""
    return f"{PREFIX}:{{match:{match_id}}}:steps"


def host_leases() -> str:
    """Sorted set: hosted match id -> when (ms) its lease lapses unless renewed; sweepers
    read the due ones. Another slot than the match's on a cluster: updated apart."""
    return f"{PREFIX}:hosting:leases"


def host_load() -> str:
    """Hash: node id -> how many matches it hosts, written by each node's sweeper (a new
    match is placed on the least loaded live node); it expires when no node writes it."""
    return f"{PREFIX}:hosting:load"


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


def mm_tickets(mode: str) -> str:
    """Hash: waiting ticket id -> payload (players, rating, bucket, when queued). A mode's
    queue keys share its tag (one slot a pass) and expire after the newest ticket could."""
    return f"{PREFIX}:{{mm:{mode}}}:tickets"


def mm_queue(mode: str) -> str:
    """Sorted set: waiting ticket id -> when queued (ms): oldest first."""
    return f"{PREFIX}:{{mm:{mode}}}:queue"


def mm_holders(mode: str) -> str:
    """Hash: player id -> the ticket they wait in (one a mode at most)."""
    return f"{PREFIX}:{{mm:{mode}}}:holders"


def mm_made(mode: str) -> str:
    """Hash: match id -> a match made and not started yet (by any node's next pass)."""
    return f"{PREFIX}:{{mm:{mode}}}:made"


def mm_accepts(mode: str) -> str:  # hash: proposed match id -> who accepted (ids)
    return f"{PREFIX}:{{mm:{mode}}}:accepts"


def mm_lease(mode: str) -> str:
    """String with a TTL: the node running the mode's passes (its token)."""
    return f"{PREFIX}:{{mm:{mode}}}:lease"


def mm_party_tickets(party_id: str) -> str:  # set: a party's tickets (any mode), expiring
    return f"{PREFIX}:mm:party:{party_id}"


def mm_modes() -> str:  # sorted set: mode -> last queued (ms); a day's quiet drops it
    return f"{PREFIX}:mm:modes"


def board_ratings(board_id: str, period_id: str) -> str:
    """Hash: player id -> "mu sigma games", the ratings a rating board (``ratings:<mode>``)
    shows; beside the board's own keys under its hash tag, so one script rates a match
    and moves the board together."""
    return f"{PREFIX}:lb:{{{board_id}:{period_id}}}:ratings"


def board_rated(board_id: str, period_id: str) -> str:
    """Sorted set: matches whose result already moved a rating board's ratings -> when
    (ms), so a result job redone after a worker died rates the match once."""
    return f"{PREFIX}:lb:{{{board_id}:{period_id}}}:rated"
