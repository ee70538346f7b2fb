"""The keys of server-run matches: hosting records, leases, inputs, snapshots (see the
package's docstring)."""

from __future__ import annotations

from server.storage.keys.prefix import PREFIX


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
