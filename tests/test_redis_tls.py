"""rediss://: Arena over TLS to Redis, as managed Redis services ask for, end to end."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.embedded_redis import free_port
from tests.conftest import StartArena
from tests.helpers import ANY_RESULTS, http_json, start_match


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server speaking TLS only, with a certificate for 127.0.0.1 made here; its
    rediss:// URL, naming the certificate as the CA to trust."""
    openssl = shutil.which("openssl")
    assert openssl is not None, "openssl is needed to make the test's certificate"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(cert), "--tls-key-file", str(key),
         "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        context = ssl.create_default_context(cafile=str(cert))
        deadline = time.monotonic() + 10
        while True:
            try:
                with (
                    socket.create_connection(("127.0.0.1", port), timeout=0.5) as raw,
                    context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
                ):
                    tls.sendall(b"PING\r\n")
                    if tls.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}"
    finally:
        server.kill()
        server.wait()


async def test_a_whole_match_runs_over_tls_to_redis(
    start_arena: StartArena, tls_redis: str
) -> None:
    # A worker too: its blocking takes go through redis-py's own TLS connection.
    arena = await start_arena(redis_url=tls_redis, workers=1, modes=ANY_RESULTS)
    match_id, clients, players = await start_match([arena], 2)
    try:
        await clients[0].send("match.send", match_id=match_id, type="move", data=3)
        assert (await clients[1].next_push("match.event"))["data"] == 3  # pub/sub over TLS
        scores = {players[0].player_id: 9, players[1].player_id: 1}
        await clients[0].request("match.result", match_id=match_id, scores=scores)
        await clients[0].next_push("notify", timeout=10)  # the worker applied it
        rank = await clients[0].request("lb.rank", board="global")
        assert rank == {"rank": 1, "score": 9}
    finally:
        for client in clients:
            await client.close()


async def test_a_certificate_nobody_vouches_for_is_refused(
    start_arena: StartArena, tls_redis: str
) -> None:
    """Without the CA, the server cannot verify Redis: requests fail UNAVAILABLE, safely."""
    untrusted = tls_redis.split("?")[0]
    arena = await start_arena(redis_url=untrusted, redis_timeout_s=1.0, redis_wait_s=0)
    body = {"device_id": "device-untrusted", "name": "mallory"}
    status, reply = await http_json("POST", arena + "/v1/auth/guest", json=body)
    assert (status, reply["error"]["code"]) == (503, "UNAVAILABLE")
    assert (await http_json("GET", arena + "/readyz"))[0] == 503
