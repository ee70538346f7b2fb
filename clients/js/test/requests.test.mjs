// Requests and their results or errors, against a real Arena (started with
// ARENA_RATE_LIMITS=lb.submit=1/1 by tests/test_js_client.py).

import assert from "node:assert/strict";
import { test } from "node:test";

import { Arena, ArenaError, guestLogin } from "../arena.js";
import { BASE, WebSocket, player, recordingWebSocket } from "./helpers.mjs";

test("a request resolves to its result, without rid and ok", { timeout: 20000 }, async (t) => {
  const { arena } = await player(t);
  const pong = await arena.request("ping");
  assert.equal(typeof pong.server_time_ms, "number");
  assert.deepEqual(Object.keys(pong), ["server_time_ms"]);
});

test("an error reply rejects with its code, message, detail and op", { timeout: 20000 }, async (t) => {
  const { arena } = await player(t);
  const unknown = await arena.request("lb.top", { board: "no-such-board" }).catch((e) => e);
  assert.ok(unknown instanceof ArenaError);
  assert.equal(unknown.code, "UNKNOWN_BOARD");
  assert.equal(unknown.op, "lb.top");
  assert.equal(unknown.detail.code, "UNKNOWN_BOARD");
  assert.ok(unknown.message.length > 0);
  assert.equal(unknown.retryAfterMs, null);

  const noOp = await arena.request("no.such.op").catch((e) => e);
  assert.equal(noOp.code, "UNKNOWN_OP");
});

test("a rate limit rejects with RATE_LIMITED and how long to wait", { timeout: 20000 }, async (t) => {
  const { arena } = await player(t);
  await arena.request("lb.submit", { board: "global", score: 5 });
  const limited = await arena.request("lb.submit", { board: "global", score: 6 }).catch((e) => e);
  assert.equal(limited.code, "RATE_LIMITED");
  assert.ok(limited.retryAfterMs > 0 && limited.retryAfterMs <= 1000, `retryAfterMs ${limited.retryAfterMs}`);
  assert.equal(limited.retry_after_ms, limited.retryAfterMs); // the spelling, the wire's
});

test("a request out of time rejects with TIMEOUT, and the socket goes on", { timeout: 20000 }, async (t) => {
  const { arena } = await player(t);
  const late = await arena.request("ping", {}, { timeoutMs: 0 }).catch((e) => e);
  assert.equal(late.code, "TIMEOUT");
  assert.equal(late.op, "ping");
  assert.equal(typeof (await arena.request("ping")).server_time_ms, "number"); // the socket goes on
});

test("a fire-and-forget request's failure comes as client.error", { timeout: 20000 }, async (t) => {
  const { arena } = await player(t);
  const failure = arena.nextPush("client.error");
  assert.equal(arena.send("lb.top", { board: "no-such-board" }), true);
  const { error } = await failure;
  assert.ok(error instanceof ArenaError);
  assert.equal(error.code, "UNKNOWN_BOARD");
});

test("requests before connect and after close reject with CLOSED", { timeout: 20000 }, async () => {
  const login = await guestLogin(BASE, { name: "carol" });
  const arena = new Arena(BASE, { token: login.token, WebSocket });
  assert.equal((await arena.request("ping").catch((e) => e)).code, "CLOSED");
  await arena.connect();
  const waiting = arena.request("ping", {}, { timeoutMs: 5000 });
  const closed = arena.nextPush("client.close");
  await arena.close();
  const close = await closed;
  assert.equal(close.final, true);
  // The reply to a request in flight may have come before the close: either is honest.
  const outcome = await waiting.then((r) => r, (e) => e);
  assert.ok(outcome.code === "CLOSED" || typeof outcome.server_time_ms === "number");
  assert.equal((await arena.request("ping").catch((e) => e)).code, "CLOSED");
  assert.equal(arena.send("ping"), false);
});

test("a request made while the socket is closing waits for the reconnect that follows", { timeout: 20000 }, async (t) => {
  const { WebSocket: Recording, sockets } = recordingWebSocket();
  const { arena } = await player(t, "closing", { WebSocket: Recording, backoff: { initialMs: 10 } });
  const reconnected = arena.nextPush("client.reconnected");
  sockets[0].close(4000, "going away"); // CLOSING until the server's close frame comes back
  assert.equal(sockets[0].readyState, 2);
  assert.equal(arena.connected, true); // no close event yet
  const pong = await arena.request("ping");
  assert.equal(typeof pong.server_time_ms, "number");
  await reconnected;
  assert.equal(sockets.length, 2);
  assert.ok(sockets[1].sent.some((frame) => JSON.parse(frame).op === "ping"), "sent on the new socket");

  // Without reconnecting the close is final: CLOSED at once.
  const { WebSocket: Once, sockets: once } = recordingWebSocket();
  const { arena: single } = await player(t, "single", { WebSocket: Once, reconnect: false });
  once[0].close(4000, "going away");
  assert.equal((await single.request("ping").catch((e) => e)).code, "CLOSED");
});
