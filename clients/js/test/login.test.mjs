// Logging in over HTTP and opening the socket with a ticket, against a real Arena.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Arena, ArenaError, guestLogin, socketTicket } from "../arena.js";
import { BASE, WebSocket } from "./helpers.mjs";

test("a device logs in again as the same player with its secret, and is refused without it", { timeout: 20000 }, async () => {
  const first = await guestLogin(BASE, { name: "alice" });
  assert.equal(typeof first.token, "string");
  assert.match(first.player_id, /^[0-9a-f]{16}$/);
  assert.equal(typeof first.device_secret, "string"); // issued on the device's first login
  assert.match(first.device_id, /^dev-[0-9a-f]{32}$/); // generated: the caller keeps it

  const again = await guestLogin(BASE, {
    name: "alice2",
    device_id: first.device_id,
    device_secret: first.device_secret,
  });
  assert.equal(again.player_id, first.player_id);
  assert.equal(again.name, "alice2");
  assert.equal(again.device_secret, undefined); // issued once
  assert.notEqual(again.token, first.token);

  const refused = await guestLogin(BASE, { name: "mallory", device_id: first.device_id }).catch((e) => e);
  assert.ok(refused instanceof ArenaError);
  assert.equal(refused.code, "BAD_CREDENTIALS");
  assert.equal(refused.status, 401);
});

test("a bad name is refused with the server's code and message", { timeout: 20000 }, async () => {
  const refused = await guestLogin(BASE, { name: "   " }).catch((e) => e);
  assert.ok(refused instanceof ArenaError);
  assert.equal(refused.code, "BAD_REQUEST");
  assert.match(refused.message, /name/);
  assert.equal(refused.detail.code, "BAD_REQUEST");
});

test("connect opens the socket with a single-use ticket; an unknown token is refused", { timeout: 20000 }, async (t) => {
  const login = await guestLogin(BASE, { name: "bob" });
  const ticket = await socketTicket(BASE, login.token);
  assert.equal(typeof ticket, "string");

  const arena = new Arena(BASE, { token: login.token, WebSocket });
  t.after(() => arena.close());
  await arena.connect();
  assert.equal(arena.connected, true);
  assert.equal(arena.playerId, login.player_id); // learnt from session.get

  const stranger = new Arena(BASE, { token: "not-a-token", WebSocket });
  const refused = await stranger.connect().catch((e) => e);
  assert.ok(refused instanceof ArenaError);
  assert.equal(refused.code, "UNAUTHORIZED");
  assert.equal(stranger.connected, false);
});
