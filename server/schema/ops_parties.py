"""The parties part of the protocol: its ops, pushes and shapes."""

from __future__ import annotations

from server.schema.spec import Area

PARTIES = Area(name="parties")
