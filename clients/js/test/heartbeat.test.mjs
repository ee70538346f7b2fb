// A link that dies silently (no close, no frames) is found by the client's own pings
// and replaced; a healthy idle link is not. Against a real Arena.

import assert from "node:assert/strict";
import { test } from "node:test";

import { WebSocket, deferred, player } from "./helpers.mjs";

// Sockets that can go deaf (their frames stop reaching the client, as on a dead link)
// and that tell when they have sent `count` pings.
function deafeningWebSocket() {
  const sockets = [];
  class Deafening extends WebSocket {
    constructor(...args) {
      super(...args);
      this.deaf = false;
      this.pings = 0;
      this.pinged = null; // {count, resolve}
      sockets.push(this);
    }

    set onmessage(fn) {
      super.onmessage = fn === null ? null : (event) => this.deaf || fn(event);
    }

    get onmessage() {
      return super.onmessage;
    }

    send(data) {
      if (JSON.parse(data).op === "ping") this.pings += 1;
      if (this.pinged !== null && this.pings >= this.pinged.count) this.pinged.resolve();
      super.send(data);
    }
  }
  return { WebSocket: Deafening, sockets };
}

test("a silent link is found by a ping left unanswered, and the client reconnects", { timeout: 20000 }, async (t) => {
  const { WebSocket: Deafening, sockets } = deafeningWebSocket();
  const options = { WebSocket: Deafening, heartbeatMs: 100, requestTimeoutMs: 300, backoff: { initialMs: 10 } };
  const { arena } = await player(t, "sleepy", options);

  // Healthy and idle: pings go out and are answered, nothing closes.
  const closes = [];
  arena.on("client.close", (event) => closes.push(event));
  const pinged = deferred();
  sockets[0].pinged = { count: sockets[0].pings + 3, resolve: pinged.resolve };
  await pinged.promise;
  assert.deepEqual(closes, []);

  const reconnected = arena.nextPush("client.reconnected", { timeoutMs: 5000 });
  sockets[0].deaf = true; // the link dies without a word
  await reconnected;
  assert.equal(closes.length, 1);
  assert.equal(closes[0].final, false);
  assert.equal(closes[0].code, null);
  assert.match(closes[0].reason, /ping/);
  assert.equal(sockets.length, 2);
  assert.equal(typeof (await arena.request("ping")).server_time_ms, "number");
});

test("with requests that never time out, the ping still does: a silent link is found", { timeout: 20000 }, async (t) => {
  const { WebSocket: Deafening, sockets } = deafeningWebSocket();
  const options = { WebSocket: Deafening, heartbeatMs: 100, requestTimeoutMs: null, backoff: { initialMs: 10 } };
  const { arena } = await player(t, "insomniac", options);
  const closed = arena.nextPush("client.close", { timeoutMs: 5000 });
  const reconnected = arena.nextPush("client.reconnected", { timeoutMs: 5000 });
  sockets[0].deaf = true;
  assert.match((await closed).reason, /ping/);
  await reconnected;
  assert.equal(sockets.length, 2);
});
