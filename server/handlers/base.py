"""What every handler receives: the request's fields, checked on access, and its context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import msgpack

from server.errors import BadRequest
from server.identity import Identity
from server.protocol import FeedEntry, Format, Message, Preencoded
from server.services import Services

T = TypeVar("T")


class SocketChannels(Protocol):
    """The asking socket's subscriptions, kept by the transport."""

    async def join(self, channel: str) -> None:
        """Deliver the channel's pushes to this socket (a chat room)."""

    async def leave(self, channel: str) -> None:
        """Stop delivering the channel (a chat room, or a match the player left)."""

    def joined(self) -> set[str]:
        """The channels joined with ``join`` and not left."""


@dataclass(frozen=True, slots=True)
class OpContext:
    """Who is asking, the services they may use, and their socket's subscriptions."""

    services: Services
    identity: Identity
    session_hash: str
    channels: SocketChannels

    @property
    def player_id(self) -> str:
        return self.identity.player_id

    @property
    def player_name(self) -> str:
        return self.identity.name


class Request:
    """A request's fields with typed accessors that raise BAD_REQUEST naming the field."""

    __slots__ = ("fields", "format")

    def __init__(self, fields: Message, fmt: Format) -> None:
        self.fields = fields
        self.format = fmt  # the frame's encoding, which its reply will use

    def _get(self, name: str, kind: type[T], kind_name: str, default: Any) -> T:
        value = self.fields.get(name, default)
        if value is _REQUIRED:
            raise BadRequest(f"{name}: required")
        # bool is an int in Python; on the wire it is not a number.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise BadRequest(f"{name}: must be {kind_name}")
        return value

    def optional_string(self, name: str, *, max_len: int) -> str | None:
        if self.fields.get(name) is None:
            return None
        return self.string(name, min_len=1, max_len=max_len)

    def string(self, name: str, *, min_len: int = 0, max_len: int, default: Any = None) -> str:
        value = self._get(name, str, "a string", _REQUIRED if default is None else default)
        if not min_len <= len(value) <= max_len:
            raise BadRequest(f"{name}: must be {min_len} to {max_len} characters")
        return value

    def integer(
        self, name: str, *, min_value: int, max_value: int, default: int | None = None
    ) -> int:
        value = self._get(name, int, "an integer", _REQUIRED if default is None else default)
        if not min_value <= value <= max_value:
            raise BadRequest(f"{name}: must be between {min_value} and {max_value}")
        return value

    def flag(self, name: str, *, default: bool | None = None) -> bool:
        return self._get(name, bool, "true or false", _REQUIRED if default is None else default)

    def string_list(self, name: str, *, max_items: int, max_len: int) -> list[str]:
        value = self._get(name, list, "a list of strings", _REQUIRED)
        if len(value) > max_items:
            raise BadRequest(f"{name}: at most {max_items} items")
        if not all(isinstance(item, str) and len(item) <= max_len for item in value):
            raise BadRequest(f"{name}: must be strings of at most {max_len} characters")
        return list(value)


_REQUIRED: Any = object()


def feed_entries(entries: list[FeedEntry], fmt: Format) -> Any:
    """Feed entries as a reply field: the stored push bytes as they are for msgpack."""
    if fmt is Format.MSGPACK:
        header = msgpack.Packer().pack_array_header(len(entries))
        return Preencoded(header + b"".join(entry.push for entry in entries))
    return [msgpack.unpackb(entry.push) for entry in entries]


Handler = Callable[[OpContext, Request], Awaitable[Message | None]]
