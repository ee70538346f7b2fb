"""Domain rules, free of transport. ``Services`` groups them for the layers above."""

from __future__ import annotations

from dataclasses import dataclass

from server.services.presence import PresenceService
from server.services.sessions import SessionService


@dataclass(frozen=True, slots=True)
class Services:
    sessions: SessionService
    presence: PresenceService
