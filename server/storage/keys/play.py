"""The keys of parties, the matchmaker and ratings (see the package's docstring)."""

from __future__ import annotations

from server.storage.keys.prefix import PREFIX


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
