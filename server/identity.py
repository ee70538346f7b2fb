"""Who holds a socket: known to the transport that opened it and to the handlers it calls."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Identity:
    """Who holds a socket. The name is kept current: a rename reaches the live socket."""

    player_id: str
    name: str
    spectator: bool = False  # a read-only session: no presence, no seat, reads only
