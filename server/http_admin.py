"""The admin API, behind ARENA_ADMIN_KEY: stats, closing a lobby, ending a match,
kicking, banning and unbanning a player (docs/operations.md)."""

from __future__ import annotations

from aiohttp import web

from server.appkeys import SERVICES, SETTINGS
from server.errors import NotFound
from server.http_common import read_json_object, require_key
from server.services.session_rules import validate_ban_duration


async def require_admin_key(request: web.Request) -> None:
    """``Authorization: Bearer ARENA_ADMIN_KEY`` (see ``require_key``)."""
    await require_key(
        request,
        request.app[SETTINGS].admin_key,
        kind="admin",
        off="the admin API is off: ARENA_ADMIN_KEY is not set",
    )


async def admin_stats(request: web.Request) -> web.Response:
    await require_admin_key(request)
    return web.json_response(await request.app[SERVICES].admin.stats())


async def admin_close_lobby(request: web.Request) -> web.Response:
    await require_admin_key(request)
    admin = request.app[SERVICES].admin
    return web.json_response(await admin.close_lobby(request.match_info["lobby_id"]))


async def admin_end_match(request: web.Request) -> web.Response:
    await require_admin_key(request)
    admin = request.app[SERVICES].admin
    return web.json_response(await admin.end_match(request.match_info["match_id"]))


async def admin_kick(request: web.Request) -> web.Response:
    await require_admin_key(request)
    player_id = request.match_info["player_id"]
    if not 1 <= len(player_id) <= 64:
        raise NotFound("no such player")
    return web.json_response(await request.app[SERVICES].admin.kick(player_id))


def admin_player_id(request: web.Request) -> str:
    player_id = request.match_info["player_id"]
    if not 1 <= len(player_id) <= 64:
        raise NotFound("no such player")
    return player_id


async def admin_ban(request: web.Request) -> web.Response:
    """``{duration_s?}``: none bans until unbanned."""
    await require_admin_key(request)
    player_id = admin_player_id(request)
    body = await read_json_object(request) if request.body_exists else {}
    duration_s = validate_ban_duration(body.get("duration_s"))
    return web.json_response(await request.app[SERVICES].admin.ban(player_id, duration_s))


async def admin_unban(request: web.Request) -> web.Response:
    await require_admin_key(request)
    player_id = admin_player_id(request)
    return web.json_response(await request.app[SERVICES].admin.unban(player_id))


def add_admin_routes(app: web.Application) -> None:
    app.router.add_get("/v1/admin/stats", admin_stats)
    app.router.add_post("/v1/admin/lobbies/{lobby_id}/close", admin_close_lobby)
    app.router.add_post("/v1/admin/matches/{match_id}/end", admin_end_match)
    app.router.add_post("/v1/admin/players/{player_id}/kick", admin_kick)
    app.router.add_post("/v1/admin/players/{player_id}/ban", admin_ban)
    app.router.add_post("/v1/admin/players/{player_id}/unban", admin_unban)
