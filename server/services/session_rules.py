"""What a login and a ban accept: device ids, device secrets, names, ban durations.
Each validator returns the value to use or raises BadRequest saying what is accepted."""

from __future__ import annotations

from server.errors import BadRequest
from server.text import clean_text

DEVICE_ID_MIN, DEVICE_ID_MAX = 8, 128
NAME_MIN, NAME_MAX = 1, 24
BAN_MAX_S = 10 * 365 * 86400


def validate_device_secret(secret: object) -> str | None:
    """None when absent (a first login); a string otherwise."""
    if secret is None:
        return None
    if not isinstance(secret, str):
        raise BadRequest("device_secret: must be a string")
    return secret


def validate_ban_duration(duration_s: object) -> int | None:
    """None: until unbanned; else whole seconds, 1 to 10 years."""
    if duration_s is None:
        return None
    if not isinstance(duration_s, int) or isinstance(duration_s, bool):
        raise BadRequest("duration_s: must be a whole number of seconds")
    if not 1 <= duration_s <= BAN_MAX_S:
        raise BadRequest(f"duration_s: must be 1 to {BAN_MAX_S} (10 years)")
    return duration_s


def validate_device_id(device_id: object) -> str:
    if not isinstance(device_id, str):
        raise BadRequest("device_id: must be a string")
    if not DEVICE_ID_MIN <= len(device_id) <= DEVICE_ID_MAX:
        raise BadRequest(f"device_id: must be {DEVICE_ID_MIN} to {DEVICE_ID_MAX} characters")
    if not device_id.isprintable() or not device_id.isascii():
        raise BadRequest("device_id: must be printable ASCII")
    return device_id


def validate_name(name: object) -> str:
    """Player names: NFC, trimmed, then 1 to 24 characters under the rules of server.text.
    Names need not be unique: the player id is who a player is."""
    return clean_text(name, field="name", min_len=NAME_MIN, max_len=NAME_MAX)
