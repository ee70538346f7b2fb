// follow() and unfollow(): what settles their promises, what is told (client.caughtup),
// and what a follow() sends, against a real Arena. Matches the player is in no match of
// answer NOT_IN_MATCH: enough to see a catch-up's read go out and come back.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Arena } from "../arena.js";
import { BASE, CuttableWebSocket, WebSocket, player, recordingWebSocket, settledNow } from "./helpers.mjs";

const M1 = "00000000000000a1";
const M2 = "00000000000000a2";

function caughtUp(arena) {
  const told = [];
  arena.on("client.caughtup", ({ match_id, error }) => told.push([match_id, error?.code ?? null]));
  return told;
}

test("unfollow() rejects the follow() waiting with UNFOLLOWED and tells nothing of the match", { timeout: 20000 }, async (t) => {
  const { arena } = await player(t, "unfollower");
  const told = caughtUp(arena);
  const first = arena.follow(M1); // its read goes out at once
  arena.unfollow(M1); // before the reply
  const second = arena.follow(M2); // read after M1's, by the same restore
  const unfollowed = await first.catch((e) => e);
  assert.equal(unfollowed.code, "UNFOLLOWED");
  assert.equal((await second.catch((e) => e)).code, "NOT_IN_MATCH");
  // M1's read came back (NOT_IN_MATCH) before M2's: forgotten, not told, not twice.
  assert.deepEqual(told, [[M2, "NOT_IN_MATCH"]]);
  assert.deepEqual(arena.following, []);
});

test("follow() while connected reads that match only: the chat rooms are not joined again", { timeout: 20000 }, async (t) => {
  const { WebSocket: Recording, sockets } = recordingWebSocket();
  const { arena } = await player(t, "roomy", { WebSocket: Recording });
  await arena.request("chat.join", { room: "general" });
  assert.equal((await arena.follow(M1).catch((e) => e)).code, "NOT_IN_MATCH");
  const ops = sockets[0].sent.map((frame) => JSON.parse(frame).op);
  assert.deepEqual(ops.filter((op) => op === "chat.join" || op === "match.feed"), ["chat.join", "match.feed"]);
});

test("follow() on a closed client rejects with CLOSED at once; a refused first connect closes it", { timeout: 20000 }, async (t) => {
  const { arena } = await player(t, "closer");
  await arena.close();
  assert.equal((await settledNow(arena.follow(M1))).code, "CLOSED");

  // The session is gone (a refused ticket): a follow() waiting for the socket is told.
  const stranger = new Arena(BASE, { token: "not-a-token", WebSocket });
  const early = stranger.follow(M1);
  assert.equal((await stranger.connect().catch((e) => e)).code, "UNAUTHORIZED");
  assert.equal((await settledNow(early)).code, "CLOSED");
  assert.equal((await settledNow(stranger.follow(M2))).code, "CLOSED");
});

test("a catch-up cut by a drop: an ended following is told then, the rest after the next socket's restore", { timeout: 20000 }, async (t) => {
  let cutAt = M2; // the socket is cut as M2's read would go out (no reply can come)
  class CutOnRead extends CuttableWebSocket {
    send(data) {
      const message = JSON.parse(data);
      if (message.op === "match.feed" && message.match_id === cutAt) {
        cutAt = null;
        this.terminate();
        return;
      }
      super.send(data);
    }
  }
  const { WebSocket: Recording, sockets } = recordingWebSocket(CutOnRead);
  const { arena } = await player(t, "cut", { WebSocket: Recording, backoff: { initialMs: 10 } });
  const order = [];
  arena.on("client.reconnected", () => order.push("reconnected"));
  arena.on("client.caughtup", ({ match_id, error }) => order.push(`${match_id} ${error?.code}`));
  const first = arena.follow(M1);
  const second = arena.follow(M2);
  assert.equal((await second.catch((e) => e)).code, "NOT_IN_MATCH");
  // M1's following ended (NOT_IN_MATCH) before the drop: no later restore reads it again.
  assert.equal((await settledNow(first)).code, "NOT_IN_MATCH");
  assert.deepEqual(order, [`${M1} NOT_IN_MATCH`, "reconnected", `${M2} NOT_IN_MATCH`]);
  assert.equal(sockets.length, 2);
});
