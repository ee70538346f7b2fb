"""A port picked for a child process can be bound by someone else before the child binds
it (with pytest-xdist, another worker picking at the same moment): the child moves to
another port, and what answers on the port it ends up on is the child itself."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_sync

from server.embedded_redis import RedisProcess
from tests.nodes import NodeProcess


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port someone else is listening on for the whole test."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_a_redis_whose_port_was_taken_meanwhile_starts_on_another(
    tmp_path: Path, taken_port: int
) -> None:
    redis = RedisProcess(tmp_path / "redis", appendonly=False)
    redis.port = taken_port  # as if another worker bound it right after free_port() said free
    with redis:
        assert redis.port != taken_port
        client = redis_sync.Redis.from_url(redis.url)
        assert redis.process is not None
        assert client.info("server")["process_id"] == redis.process.pid
        client.close()


def test_a_redis_given_a_taken_port_says_so(tmp_path: Path, taken_port: int) -> None:
    # A port asked for is kept: a restart must come back where its clients look.
    with pytest.raises(RuntimeError, match="exited"):
        RedisProcess(tmp_path / "redis", port=taken_port, appendonly=False).start()


def test_a_node_whose_port_was_taken_meanwhile_starts_on_another(
    redis_server: RedisProcess, tmp_path: Path, taken_port: int
) -> None:
    env = {**os.environ, "REDIS_URL": redis_server.url, "ARENA_DATA_DIR": str(tmp_path / "n")}
    node = NodeProcess(env, log_path=tmp_path / "node.log")
    node.port = taken_port
    try:
        node.start()
        assert node.port != taken_port
        assert "is in use by another program" in node.log()
    finally:
        node.kill()
