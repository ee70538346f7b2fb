"""Every Redis key and pub/sub channel Arena uses, and nothing else decides a name.

Secrets never appear in key names in the clear: a session key holds the SHA-256
of its token and a device key the SHA-256 of its device id, so a Redis dump or
`MONITOR` shows nothing a client could log in with.
"""

from __future__ import annotations

PREFIX = "arena"


def device(device_hash: str) -> str:
    """String: the player id a device id (hashed) logs in as."""
    return f"{PREFIX}:device:{device_hash}"


def player(player_id: str) -> str:
    """Hash: a player's profile (name, created_ms)."""
    return f"{PREFIX}:player:{player_id}"


def session(token_hash: str) -> str:
    """Hash with a sliding TTL: one session (player_id, created_ms)."""
    return f"{PREFIX}:session:{token_hash}"


def live_socket(player_id: str) -> str:
    """String: which node and connection hold the player's one live socket."""
    return f"{PREFIX}:live:{player_id}"


def presence() -> str:
    """Sorted set: player id -> the ms timestamp until which they count as online."""
    return f"{PREFIX}:presence"


def nodes() -> str:
    """Sorted set: node id -> the ms timestamp until which the node counts as alive."""
    return f"{PREFIX}:nodes"


def rate_limit(action: str, subject: str) -> str:
    """String: the GCRA state (theoretical arrival time, ms) of one subject's action."""
    return f"{PREFIX}:rate:{action}:{subject}"


def node_channel(node_id: str) -> str:
    """Channel: commands for the sockets one node holds (close, replace)."""
    return f"{PREFIX}:node:{node_id}"
