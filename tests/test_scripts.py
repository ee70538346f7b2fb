"""Every Lua script compiles on the real Redis and states its contract."""

from __future__ import annotations

from importlib import resources

import pytest
import redis as redis_sync

LUA = resources.files("server.storage").joinpath("lua")
SCRIPTS = sorted(p.name for p in LUA.iterdir() if p.name.endswith(".lua"))


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_compiles_and_has_a_keys_argv_header(
    name: str, redis_client: redis_sync.Redis
) -> None:
    source = LUA.joinpath(name).read_text()
    header = source.split("\n\n")[0] + "\n" + source
    assert "-- KEYS[" in header, name
    assert "-- Returns" in header, name
    assert redis_client.script_load(source)  # raises if Redis cannot compile it
