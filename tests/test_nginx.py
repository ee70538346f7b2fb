"""Arena behind Debian's nginx, configured by docs/nginx/arena.conf, the file a deployment
copies: a player whose node dies comes back through nginx to another node, on the same
session and in the same lobby seat.

nginx runs as this test's own child (its own prefix, port and logs); a machine without
/usr/sbin/nginx fails here, it never skips (`make test` installs Debian's nginx).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pwd
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Self

import aiohttp
import pytest
import redis as redis_sync

from client_sim.client import ArenaClient, Backoff
from client_sim.login import Login
from server.embedded_redis import ChildProcess, free_port
from server.protocol import Message
from server.storage import keys
from server.storage.socket_commands import SocketRef
from tests.conftest import SpawnNode
from tests.helpers import eventually, http_json, login
from tests.nodes import NodeProcess

NGINX = Path("/usr/sbin/nginx")
SITE = Path(__file__).resolve().parent.parent / "docs" / "nginx" / "arena.conf"
LISTEN = re.compile(r"^(\s*)listen 80;\n", re.MULTILINE)
UPSTREAM_SERVER = re.compile(r"^(\s*)server 127\.0\.0\.1:\d+([^;\n]*);\n", re.MULTILINE)
CONN_LIMIT = re.compile(r"(limit_conn arena_per_address )\d+;")
LOG_FOLDER = "/var/log/nginx/"
# Fast reconnects, so the test does not wait on the client's default backoff.
BACKOFF = Backoff(first_s=0.05, max_s=0.5, give_up_after_s=10.0)
# Short leases, so that a seat left behind is freed within the test: the lobby grace
# after the drop, plus up to the presence TTL when the player's node died.
FAST = {
    "ARENA_SHUTDOWN_GRACE": "2",
    "ARENA_WORKERS": "0",
    "ARENA_LOBBY_GRACE": "1",
    "ARENA_PRESENCE_INTERVAL": "0.2",
    "ARENA_PRESENCE_TTL": "1",
}
Nodes = dict[str, NodeProcess]


def site_config(
    listen_port: int, node_ports: list[int], log_folder: Path, conn_limit: int | None = None
) -> str:
    """docs/nginx/arena.conf with this test's addresses: its one ``listen`` line and its
    upstream's ``server`` lines (their parameters kept), and its logs in ``log_folder``;
    with ``conn_limit``, its per-address connection limit (a test cannot open 256 sockets
    cheaply). Nothing else is changed."""
    text = SITE.read_text().replace(LOG_FOLDER, f"{log_folder}/")
    if conn_limit is not None:
        assert len(CONN_LIMIT.findall(text)) == 1, f"{SITE}: expected one limit_conn line"
        text = CONN_LIMIT.sub(rf"\g<1>{conn_limit};", text)
    assert len(LISTEN.findall(text)) == 1, f"{SITE}: expected one 'listen 80;' line"
    servers = list(UPSTREAM_SERVER.finditer(text))
    assert servers, f"{SITE}: no 'server 127.0.0.1:PORT' lines in the upstream"
    assert all(a.end() == b.start() for a, b in itertools.pairwise(servers)), (
        f"{SITE}: the upstream's server lines must be together"
    )
    indent, parameters = servers[0].group(1), servers[0].group(2)
    nodes = "".join(f"{indent}server 127.0.0.1:{port}{parameters};\n" for port in node_ports)
    text = text[: servers[0].start()] + nodes + text[servers[-1].end() :]
    return LISTEN.sub(rf"\g<1>listen 127.0.0.1:{listen_port};\n", text)


def main_config(prefix: Path, site: Path) -> str:
    """The smallest nginx.conf around the site file: everything nginx writes stays in
    ``prefix``. As root, the workers stay root too (nginx's default user could not reach
    a private temp folder)."""
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    temp = "".join(
        f"    {kind}_temp_path {prefix / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} info;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    access_log {prefix / 'access.log'};\n"
        f"{temp}"
        f"    include {site};\n"
        "}\n"
    )


def require_nginx() -> None:
    if not NGINX.is_file():
        pytest.fail(f"{NGINX} is missing: install Debian's nginx (make test does it)")


class NginxProcess(ChildProcess):
    """Debian's nginx in the foreground, as this process's child, on a free loopback port."""

    def __init__(
        self, prefix: Path, node_ports: list[int], *, conn_limit: int | None = None
    ) -> None:
        self.prefix = prefix
        self.node_ports = node_ports
        self.conn_limit = conn_limit
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, timeout_s: float = 10.0) -> Self:
        require_nginx()
        self.prefix.mkdir(parents=True, exist_ok=True)
        site = self.prefix / "arena.conf"
        site.write_text(site_config(self.port, self.node_ports, self.prefix, self.conn_limit))
        conf = self.prefix / "nginx.conf"
        conf.write_text(main_config(self.prefix, site))
        with (self.prefix / "stderr.log").open("ab") as stderr:
            self.process = subprocess.Popen(
                [NGINX, "-p", str(self.prefix), "-c", str(conf), "-e",
                 str(self.prefix / "error.log"), "-g", "daemon off;"],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                process_group=0,  # the master and its worker: killed together if need be
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}:\n{self.logs()}")
            try:
                # Through nginx to a node: the whole path answers.
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nginx not answering on {self.port} in {timeout_s}s:\n{self.logs()}")

    def access_log(self) -> str:
        """What the site's own access log holds (docs/nginx/arena.conf names it)."""
        path = self.prefix / "arena.access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        stderr = self.prefix / "stderr.log"
        return (stderr.read_text(errors="replace") if stderr.exists() else "") + self.error_log()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # the master stops its worker, then itself
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def behind_nginx(spawn_node: SpawnNode, tmp_path: Path) -> Iterator[tuple[NginxProcess, Nodes]]:
    """Two real nodes, named node-a and node-b, and nginx in front of them."""
    require_nginx()  # before starting anything
    nodes = {name: spawn_node(ARENA_NODE_ID=name, **FAST) for name in ("node-a", "node-b")}
    with NginxProcess(tmp_path / "nginx", [node.port for node in nodes.values()]) as nginx:
        yield nginx, nodes


def node_of(redis_client: redis_sync.Redis, player: Login) -> str:
    """The node holding the player's live socket, as recorded in Redis."""
    raw = redis_client.get(keys.live_socket(player.player_id))
    assert isinstance(raw, bytes), f"{player.name} holds no live socket"
    return SocketRef.decode(raw.decode()).node_id


async def back_on(
    client: ArenaClient, player: Login, node: str, redis_client: redis_sync.Redis
) -> None:
    """Wait for the client's reconnect; it runs the player's session on ``node`` now."""

    async def reconnected() -> bool:
        return client.reconnects == 1

    await eventually(reconnected, within_s=10)
    session = await client.request("session.get")
    assert session["player_id"] == player.player_id  # the same session, the same player
    assert node_of(redis_client, player) == node


async def nginx_skips_the_dead_node(nginx: NginxProcess) -> None:
    """New requests through nginx keep working; nginx found the dead node and moved on."""
    for _ in range(6):
        status, _ = await http_json("GET", nginx.url + "/readyz")
        assert status == 200
        if "Connection refused) while connecting to upstream" in nginx.error_log():
            return
    raise AssertionError(f"nginx never tried the dead node:\n{nginx.error_log()}")


async def lobby_update(
    client: ArenaClient, holds: Callable[[set[str], set[str]], bool], within_s: float
) -> Message:
    """The first ``lobby.updated`` for which ``holds(members, ready)`` (earlier ones skipped)."""
    async with asyncio.timeout(within_s):
        while True:
            lobby: Message = (await client.next_push("lobby.updated", timeout=None))["lobby"]
            members = {m["player_id"] for m in lobby["members"]}
            if holds(members, {m["player_id"] for m in lobby["members"] if m["ready"]}):
                return lobby


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
async def test_a_player_whose_node_dies_comes_back_through_nginx_to_their_seat(
    behind_nginx: tuple[NginxProcess, Nodes],
    redis_client: redis_sync.Redis,
    sig: signal.Signals,
) -> None:
    nginx, nodes = behind_nginx
    alice, bob = await login(nginx.url, "alice"), await login(nginx.url, "bob")
    carol = await login(nginx.url, "carol")
    async with (
        await ArenaClient.connect(nginx.url, alice.token, reconnect=BACKOFF) as alices,
        await ArenaClient.connect(nginx.url, bob.token, reconnect=BACKOFF) as bobs,
    ):
        lobby = (await alices.request("lobby.create", mode="duel", capacity=3))["lobby"]
        lobby_id = lobby["lobby_id"]
        await bobs.request("lobby.join", lobby_id=lobby_id)
        doomed = node_of(redis_client, alice)
        (survivor,) = set(nodes) - {doomed}
        bob_was_on = node_of(redis_client, bob)
        # Carol sits on the same node as Alice, but will not come back: her seat shows
        # what happens to a seat whose player does not return.
        async with await ArenaClient.connect(nodes[doomed].url, carol.token) as carols:
            await carols.request("lobby.join", lobby_id=lobby_id)
            everyone = {alice.player_id, bob.player_id, carol.player_id}
            # Past the pushes of the joins.
            await lobby_update(bobs, lambda members, _: members == everyone, within_s=5)

            nodes[doomed].signal(sig)
            if sig is signal.SIGTERM:
                assert (await alices.next_push("server.shutdown"))["reconnect"] is True
            await back_on(alices, alice, survivor, redis_client)
            if bob_was_on == doomed:
                await back_on(bobs, bob, survivor, redis_client)
            else:
                assert bobs.reconnects == 0  # his node never went away
            await nginx_skips_the_dead_node(nginx)

            # Carol's seat is freed once her lease lapses; Alice's, kept by the node she
            # came back to, is not.
            two = {alice.player_id, bob.player_id}
            await lobby_update(bobs, lambda members, _: members == two, within_s=6)
        seated = (await alices.request("lobby.get", lobby_id=lobby_id))["lobby"]
        assert {m["player_id"] for m in seated["members"]} == two
        # And it is a live seat: her Ready reaches Bob.
        await alices.request("lobby.ready", ready=True)
        update = await lobby_update(bobs, lambda _, ready: alice.player_id in ready, within_s=5)
        assert update["lobby_id"] == lobby_id
    if sig is signal.SIGTERM:
        assert await asyncio.to_thread(nodes[doomed].wait, 10) == 0  # a clean stop


async def test_nginx_hides_metrics_and_admin_and_logs_no_socket_secret(
    spawn_node: SpawnNode, tmp_path: Path
) -> None:
    admin_key = "admin-key-" + "n" * 30
    node = spawn_node(ARENA_ADMIN_KEY=admin_key, **FAST)
    with NginxProcess(tmp_path / "nginx", [node.port]) as nginx:
        async with aiohttp.ClientSession() as http:
            # The node itself serves both; through nginx, neither is there.
            for path, key in (("/metrics", None), ("/v1/admin/stats", admin_key)):
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                async with http.get(node.url + path, headers=headers) as resp:
                    assert resp.status == 200, path
                async with http.get(nginx.url + path, headers=headers) as resp:
                    assert resp.status == 404, path
            async with http.post(
                nginx.url + "/v1/admin/players/x/kick",
                headers={"Authorization": f"Bearer {admin_key}"},
            ) as resp:
                assert resp.status == 404
            # A socket with its token in the query, as browsers open it, and a ticket.
            player = await login(nginx.url, "alice")
            secret = player.token
            async with http.ws_connect(f"{nginx.url}/v1/ws?token={secret}&format=json") as ws:
                await ws.send_json({"op": "ping", "rid": 1})
                assert (await ws.receive_json())["rid"] == 1
            async with http.get(f"{nginx.url}/v1/ws?ticket=ticket-secret-1") as resp:
                assert resp.status in (400, 401)

        async def both_logged() -> bool:
            return nginx.access_log().count("/v1/ws ") == 2

        await eventually(both_logged, within_s=5)
        log = nginx.access_log()
        assert secret not in log
        assert "ticket-secret-1" not in log
        assert "?" not in log
        assert '"GET /v1/ws HTTP/1.1" 101' in log


async def test_nginx_limits_the_connections_of_one_address(
    spawn_node: SpawnNode, tmp_path: Path
) -> None:
    node = spawn_node(**FAST)
    with NginxProcess(tmp_path / "nginx", [node.port], conn_limit=3) as nginx:
        players = [await login(nginx.url, f"p{i}") for i in range(4)]
        async with aiohttp.ClientSession() as http:
            sockets = [
                await http.ws_connect(
                    f"{nginx.url}/v1/ws", headers={"Authorization": f"Bearer {p.token}"}
                )
                for p in players[:3]
            ]
            try:
                # A fourth connection from the same address while three are open: refused.
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http.ws_connect(
                        f"{nginx.url}/v1/ws",
                        headers={"Authorization": f"Bearer {players[3].token}"},
                    )
                assert refused.value.status == 429
                # One closes: there is room again.
                await sockets.pop().close()

                async def room_again() -> bool:
                    try:
                        ws = await http.ws_connect(
                            f"{nginx.url}/v1/ws",
                            headers={"Authorization": f"Bearer {players[3].token}"},
                        )
                    except aiohttp.WSServerHandshakeError:
                        return False
                    sockets.append(ws)
                    return True

                await eventually(room_again, within_s=5, every_s=0.1)
            finally:
                for ws in sockets:
                    await ws.close()
