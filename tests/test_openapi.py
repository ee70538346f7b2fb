"""The OpenAPI document of the HTTP routes: a valid document, in step with the app's router,
and true to what a real Arena answers on every route it names (tests/contract_http.py)."""

from __future__ import annotations

import json as jsonlib
import re
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from openapi_spec_validator import validate

from server.app import create_app
from server.embedded_redis import RedisProcess
from server.schema.http_routes_admin import ROUTES
from server.schema.openapi import openapi_document
from server.schema.published import openapi, version
from tests.conftest import StartArena, settings_for_test
from tests.contract_http import HttpContract, check_http
from tests.helpers import new_device

ADMIN_KEY = "admin-" + "k" * 32
SERVER_KEY = "server-" + "k" * 32
PAGES = ("/", "/play")  # and /static/...: pages, not the API


def test_the_document_passes_the_openapi_validator() -> None:
    validate(openapi_document(version()))


def test_every_route_the_app_serves_is_documented_and_no_other(
    redis_server: RedisProcess,
) -> None:
    app = create_app(settings_for_test(redis_url=redis_server.url))
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD"
        and route.resource is not None
        and route.resource.canonical not in PAGES
        and not route.resource.canonical.startswith("/static")
    }
    paths = openapi_document(version())["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert sorted(served - documented) == [], "served, not documented"
    assert sorted(documented - served) == [], "documented, not served"


def test_each_route_names_the_parameters_of_its_path() -> None:
    for route in ROUTES:
        in_path = set(re.findall(r"\{([^{}]+)\}", route.path))
        described = {p.name for p in route.params if p.where == "path"}
        assert in_path == described, route.path
        assert all(p.required for p in route.params if p.where == "path"), route.path


def test_the_contract_finds_drift() -> None:
    """Each kind of drift is flagged, so an empty answer from the tour below means something."""
    entry = {"rank": 1, "player_id": "p", "name": "n", "score": 3}
    top = "http://127.0.0.1:1/v1/leaderboards/global/top?limit=1"
    assert check_http("GET", top, 200, {"entries": [entry]}) == []
    assert check_http("GET", top, 200, {"entries": [{**entry, "extra": 1}]})  # undeclared field
    assert check_http("GET", top, 200, {"entries": [{**entry, "rank": "1"}]})  # wrong type
    assert check_http("GET", "/v1/session", 401, {"error": {"code": "FORBIDDEN", "message": ""}})
    assert check_http("GET", "/v1/session", 401, {"detail": "no"})  # not the error body
    assert check_http("GET", "/v1/session", 201, {})  # a success status not documented
    assert check_http("GET", "/v1/nowhere", 200, {})  # a route missing from the document
    # Failures outside what a route lists still have the one error body.
    internal = {"error": {"code": "INTERNAL", "message": "internal error"}}
    assert check_http("GET", "/v1/leaderboards/{board}/top", 500, internal) == []
    assert check_http("PUT", "/v1/nowhere", 405, {"error": {"code": "BAD_REQUEST"}})
    contract = HttpContract(openapi_document("test"))
    assert contract.template("/v1/ws") == "/v1/ws"
    assert contract.template("/v1/ws/ticket") == "/v1/ws/ticket"
    assert contract.template("/v1/admin/players/ab/ban") == "/v1/admin/players/{player_id}/ban"
    assert contract.template("/v1/leaderboards/a/b/top") is None  # one segment per parameter


@dataclass
class Tour:
    """Calls a real Arena and checks each reply against the document as it goes."""

    base: str
    http: aiohttp.ClientSession
    contract: HttpContract = field(default_factory=lambda: HttpContract(openapi()))
    visited: set[tuple[str, str]] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)

    async def call(
        self,
        method: str,
        path: str,
        expect: int,
        *,
        key: str | None = None,
        json: Any = None,
        data: str | None = None,
    ) -> tuple[Any, aiohttp.ClientResponse]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        if data is not None:
            headers["Content-Type"] = "text/plain"
        async with self.http.request(
            method, self.base + path, headers=headers, json=json, data=data
        ) as resp:
            text = await resp.text()
            is_json = resp.content_type == "application/json"
            body = jsonlib.loads(text) if is_json else None
        template = self.contract.template(path)
        self.visited.add((method, template or path))
        where = f"{method} {path}"
        if resp.status != expect:
            self.violations.append(f"{where}: {resp.status}, not {expect}: {text:.300}")
        if resp.status not in self.contract.statuses(method, template or path):
            self.violations.append(f"{where}: {resp.status} is not among its documented statuses")
        self.violations += self.contract.check(method, self.base + path, resp.status, body)
        return body, resp


async def test_every_route_answers_as_the_document_says(start_arena: StartArena) -> None:
    base = await start_arena(admin_key=ADMIN_KEY, server_key=SERVER_KEY)
    async with aiohttp.ClientSession() as http:
        tour = Tour(base, http)
        device = new_device()
        first, _ = await tour.call(
            "POST", "/v1/auth/guest", 200, json={"device_id": device, "name": "ann"}
        )
        player, token = first["player_id"], first["token"]
        await tour.call("POST", "/v1/auth/guest", 401, json={"device_id": device, "name": "ann"})
        await tour.call("POST", "/v1/auth/guest", 415, data="{}")
        await tour.call("POST", "/v1/auth/guest", 400, json=[1])
        rotated, _ = await tour.call(
            "POST",
            "/v1/auth/guest/rotate",
            200,
            json={"device_id": device, "device_secret": first["device_secret"]},
        )
        again = {"device_id": device, "name": "ann", "device_secret": rotated["device_secret"]}
        token = (await tour.call("POST", "/v1/auth/guest", 200, json=again))[0]["token"]
        spectator, _ = await tour.call("POST", "/v1/auth/spectator", 200, json={})
        await tour.call("GET", "/v1/session", 200, key=token)
        await tour.call("GET", "/v1/session", 200, key=spectator["token"])
        await tour.call("GET", "/v1/session", 401)
        ticket, _ = await tour.call("POST", "/v1/ws/ticket", 200, key=token)
        await tour.call("GET", f"/v1/ws?ticket={ticket['ticket']}", 400)  # no upgrade asked
        await tour.call("GET", "/v1/presence", 200)

        scores = "/v1/leaderboards/global/scores"
        await tour.call("POST", scores, 200, key=SERVER_KEY, json={"player_id": player, "score": 7})
        await tour.call("POST", scores, 401, json={"player_id": player, "score": 7})
        await tour.call("POST", scores, 403, key="wrong", json={"player_id": player, "score": 7})
        await tour.call("POST", scores, 400, key=SERVER_KEY, json={"player_id": player})
        await tour.call("GET", "/v1/leaderboards/global/top?limit=5", 200)
        await tour.call("GET", "/v1/leaderboards/global/top?limit=0", 400)
        await tour.call("GET", "/v1/leaderboards/nothing/top", 404)
        await tour.call("GET", f"/v1/leaderboards/global/players/{player}", 200)
        await tour.call("GET", "/v1/leaderboards/global/players/nobody", 404)
        result = {"scores": {player: 1}}
        await tour.call("POST", "/v1/matches/m1/result", 404, key=SERVER_KEY, json=result)
        await tour.call("GET", "/v1/stats", 200)
        await tour.call("GET", "/metrics", 200)
        await tour.call("GET", "/healthz", 200)
        await tour.call("GET", "/readyz", 200)

        await tour.call("GET", "/v1/admin/stats", 200, key=ADMIN_KEY)
        await tour.call("GET", "/v1/admin/stats", 401)
        await tour.call("POST", "/v1/admin/lobbies/none/close", 404, key=ADMIN_KEY)
        await tour.call("POST", "/v1/admin/matches/none/end", 404, key=ADMIN_KEY)
        await tour.call("POST", f"/v1/admin/players/{player}/kick", 200, key=ADMIN_KEY)
        await tour.call("POST", "/v1/admin/players/nobody/kick", 404, key=ADMIN_KEY)
        ban = {"duration_s": 600}
        await tour.call("POST", f"/v1/admin/players/{player}/ban", 200, key=ADMIN_KEY, json=ban)
        _, banned = await tour.call("POST", "/v1/auth/guest", 403, json=again)
        assert banned.headers["Retry-After"] == "600"
        await tour.call("POST", f"/v1/admin/players/{player}/unban", 200, key=ADMIN_KEY)
        token = (await tour.call("POST", "/v1/auth/guest", 200, json=again))[0]["token"]
        await tour.call("DELETE", "/v1/session", 200, key=token)
        token = (await tour.call("POST", "/v1/auth/guest", 200, json=again))[0]["token"]
        await tour.call("DELETE", "/v1/sessions", 200, key=token)

        served, _ = await tour.call("GET", "/v1/openapi.json", 200)
        assert served == openapi()
        await tour.call("GET", "/v1/asyncapi.json", 200)
        for name in ("arena.js", "arena.d.ts", "arena-protocol.d.ts"):
            await tour.call("GET", f"/client/{name}", 200)
        await tour.call("GET", "/client/secrets.txt", 404)

        token = (await tour.call("POST", "/v1/auth/guest", 200, json=again))[0]["token"]
        ticket, _ = await tour.call("POST", "/v1/ws/ticket", 200, key=token)
        async with http.ws_connect(f"{base}/v1/ws?ticket={ticket['ticket']}") as socket:
            tour.visited.add(("GET", "/v1/ws"))
            assert not socket.closed  # 101: the upgrade the document promises
    assert tour.violations == [], "\n".join(tour.violations)
    documented = {(m.upper(), p) for p, item in openapi()["paths"].items() for m in item}
    assert sorted(documented - tour.visited) == [], "documented routes the tour never called"


async def test_a_rate_limited_read_answers_as_documented(start_arena: StartArena) -> None:
    base = await start_arena(rate_limits="http.read=2/0.01")
    async with aiohttp.ClientSession() as http:
        tour = Tour(base, http)
        for _ in range(2):
            await tour.call("GET", "/v1/leaderboards/global/top", 200)
        body, resp = await tour.call("GET", "/v1/leaderboards/global/top", 429)
        assert body["error"]["code"] == "RATE_LIMITED"
        assert int(resp.headers["Retry-After"]) * 1000 >= body["error"]["retry_after_ms"]
    assert tour.violations == [], "\n".join(tour.violations)
