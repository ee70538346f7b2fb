"""ping, session.get, presence.get, stats.get, watch, and the pushes about the session."""

from __future__ import annotations

from server.protocol import Op
from server.schema.build import array, boolean, integer, obj, string
from server.schema.spec import Area, OpSpec

SYSTEM = Area(
    name="system",
    ops=(
        OpSpec(
            Op.PING,
            "Round trip; the server's clock.",
            result=obj({"server_time_ms": integer(0, description="Unix time in ms")}),
        ),
        OpSpec(
            Op.PRESENCE_GET,
            "Which of these players are online.",
            request=obj({"player_ids": array(string(0, 64), max_items=100)}),
            result=obj(
                {
                    "online": array(string()),
                    "players": array(obj({"player_id": string(), "online": boolean()})),
                }
            ),
        ),
    ),
)
