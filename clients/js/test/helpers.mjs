// What the client's tests share: the Arena they run against (ARENA_URL, started by
// tests/test_js_client.py or by hand), a WebSocket for Node, and players.
//
// 'ws' and '@msgpack/msgpack' are test-only: resolved through require, which honours
// NODE_PATH (the Python test points it at .venv/node/node_modules) and the package's own
// devDependencies (npm install in clients/js).

import assert from "node:assert/strict";
import { createRequire } from "node:module";

import { Arena, guestLogin } from "../arena.js";

const require = createRequire(import.meta.url);

export const BASE = process.env.ARENA_URL;
assert.ok(BASE, "ARENA_URL names the Arena to test against (tests/test_js_client.py sets it)");

// Node 22 has a WebSocket of its own; Node 18 and 20 take the ws package's.
export const WebSocket = globalThis.WebSocket ?? require("ws");

// The ws package's, whose terminate() tears the TCP connection down as a network drop
// would (a standard WebSocket can only close politely): for the tests that cut links.
export const CuttableWebSocket = require("ws");

export function msgpack() {
  return require("@msgpack/msgpack");
}

// A WebSocket class that keeps every socket it opens (to cut one, or look at its frames).
export function recordingWebSocket(Base = WebSocket) {
  const sockets = [];
  class Recording extends Base {
    constructor(...args) {
      super(...args);
      this.sent = [];
      sockets.push(this);
    }

    send(data) {
      this.sent.push(data);
      super.send(data);
    }
  }
  return { WebSocket: Recording, sockets };
}

let players = 0;

// A logged-in player with a connected client; closed by the caller (t.after).
export async function player(t, name = `p${++players}`, options = {}) {
  const login = await guestLogin(BASE, { name });
  const arena = new Arena(BASE, { token: login.token, WebSocket, ...options });
  await arena.connect();
  t.after(() => arena.close());
  return { login, arena };
}

// A promise with its resolve at hand.
export function deferred() {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

// What `promise` came to by the time the event loop turns once more: {value}, the error
// it rejected with, or "pending" (for what must settle at once, not in a while).
export function settledNow(promise) {
  const turn = new Promise((resolve) => setImmediate(() => resolve("pending")));
  return Promise.race([promise.then((value) => ({ value }), (err) => err), turn]);
}
