// Pushes by event name, msgpack frames, and a close that is final, against a real Arena.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Arena, ArenaError } from "../arena.js";
import { BASE, WebSocket, msgpack, player, recordingWebSocket } from "./helpers.mjs";

test("a chat message reaches the listeners and the waiters of another client", { timeout: 20000 }, async (t) => {
  const { arena: alice } = await player(t, "alice");
  const { arena: bob, login: bobLogin } = await player(t, "bob");
  await alice.request("chat.join", { room: "general" });
  assert.deepEqual(alice.rooms, ["general"]);

  const heard = [];
  const stop = alice.on("chat.message", (push) => heard.push(push.text));
  const hello = alice.nextPush("chat.message", { filter: (push) => push.text === "hello" });
  await bob.request("chat.send", { room: "general", text: "hello" });
  const push = await hello;
  assert.equal(push.ev, "chat.message");
  assert.equal(push.from, bobLogin.player_id);
  assert.equal(push.room, "general");
  assert.ok(heard.includes("hello"));

  stop(); // off: the listener hears no more
  const second = alice.nextPush("chat.message", { filter: (p) => p.text === "again" });
  await bob.request("chat.send", { room: "general", text: "again" });
  await second;
  assert.ok(!heard.includes("again"));
});

test("lobby.updated tells the owner who joined, and the client holds the newest lobby", { timeout: 20000 }, async (t) => {
  const { arena: owner } = await player(t, "owner");
  const { arena: guest, login: guestLogin } = await player(t, "guest");
  const { lobby } = await owner.request("lobby.create", { mode: "duel", capacity: 2 });
  assert.equal(owner.lobby.lobby_id, lobby.lobby_id);
  const updated = owner.nextPush("lobby.updated", { filter: (p) => p.lobby.members.length === 2 });
  await guest.request("lobby.join", { lobby_id: lobby.lobby_id });
  const push = await updated;
  assert.equal(push.lobby.members[1].player_id, guestLogin.player_id);
  assert.equal(owner.lobby.rev, push.lobby.rev); // the client keeps the lobby as last told
  assert.ok(push.lobby.rev > lobby.rev);
});

test("a msgpack codec sends and reads binary frames", { timeout: 20000 }, async (t) => {
  const { encode, decode } = msgpack();
  const codec = { encode: (obj) => encode(obj), decode: (bytes) => decode(bytes) };
  const { WebSocket: Recording, sockets } = recordingWebSocket();
  const { arena: packed } = await player(t, "packed", { codec, WebSocket: Recording });
  const { arena: plain } = await player(t, "plain");

  assert.equal(typeof (await packed.request("ping")).server_time_ms, "number");
  assert.ok(sockets[0].sent.length >= 2);
  for (const frame of sockets[0].sent) assert.ok(frame instanceof Uint8Array, "every frame binary");
  assert.equal(decode(sockets[0].sent.at(-1)).op, "ping");

  await packed.request("chat.join", { room: "general" });
  const got = packed.nextPush("chat.message", { filter: (p) => p.text === "über 🎲" });
  await plain.request("chat.send", { room: "general", text: "über 🎲" });
  const push = await got;
  assert.equal(typeof push.ts, "number");
  const error = await packed.request("lb.top", { board: "no-such-board" }).catch((e) => e);
  assert.equal(error.code, "UNKNOWN_BOARD");
});

test("a socket replaced by another of the same player closes for good (4001), no reconnect", { timeout: 20000 }, async (t) => {
  const { arena: first, login } = await player(t, "twice", { backoff: { initialMs: 10 } });
  const closed = first.nextPush("client.close");
  const reconnecting = [];
  first.on("client.reconnecting", (e) => reconnecting.push(e));
  const second = new Arena(BASE, { token: login.token, WebSocket });
  t.after(() => second.close());
  await second.connect();
  const close = await closed;
  assert.deepEqual([close.code, close.final], [4001, true]);
  assert.equal(first.connected, false);
  assert.equal(first.closeCode, 4001);
  const refused = await first.request("ping").catch((e) => e);
  assert.ok(refused instanceof ArenaError);
  assert.equal(refused.code, "CLOSED");
  assert.equal(typeof (await second.request("ping")).server_time_ms, "number");
  assert.deepEqual(reconnecting, []);
});
