"""Typed keys for what the application holds; ``app.create_app`` fills them."""

from __future__ import annotations

import asyncio

from aiohttp import web

from server.connection import SocketRegistry
from server.hub import Hub
from server.metrics import Metrics
from server.services import Services
from server.settings import Settings
from server.storage.mux import Commands
from server.storage.pubsub import Subscriptions

SETTINGS = web.AppKey("settings", Settings)
MUX = web.AppKey("mux", Commands)  # the pipelined client every command goes through
SERVICES = web.AppKey("services", Services)
REGISTRY = web.AppKey("registry", SocketRegistry)
HUB = web.AppKey("hub", Hub)
SUBSCRIBER: web.AppKey[Subscriptions] = web.AppKey("subscriber")  # the node's pub/sub
METRICS = web.AppKey("metrics", Metrics)  # recorders and the /metrics registry
# Set when the node starts stopping: the result workers stop taking jobs at once,
# while the sockets are still being told, instead of after.
STOPPING = web.AppKey("stopping", asyncio.Event)
