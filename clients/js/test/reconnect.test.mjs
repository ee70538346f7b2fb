// A reconnect mid-match: the follower's socket is cut (its TCP connection torn down, as a
// network drop would), the other player goes on sending, and the follower ends with
// every event exactly once, in order: the gap read from the match's feed, live events
// held while it is read. Against a real Arena (ARENA_MODES has a relayed "duel").

import assert from "node:assert/strict";
import { test } from "node:test";

import { compareFeedIds } from "../arena.js";
import { BASE, CuttableWebSocket, deferred, player, recordingWebSocket } from "./helpers.mjs";

// A fetch whose socket-ticket calls wait while `gate.closed`: the test decides when the
// reconnect may happen, instead of guessing how long its pause lasts.
function gatedFetch() {
  const gate = { closed: null };
  const fetchGated = async (url, init) => {
    if (gate.closed !== null && String(url).endsWith("/v1/ws/ticket")) await gate.closed.promise;
    return fetch(url, init);
  };
  return { gate, fetch: fetchGated };
}

// Two players in a relayed match; resolves to its id once both were told it started.
async function startDuel(owner, guest) {
  const { lobby } = await owner.request("lobby.create", { mode: "duel", capacity: 2 });
  await guest.request("lobby.join", { lobby_id: lobby.lobby_id });
  const started = [owner.nextPush("match.started"), guest.nextPush("match.started")];
  await owner.request("lobby.ready", { ready: true });
  await guest.request("lobby.ready", { ready: true });
  const [a, b] = await Promise.all(started);
  assert.equal(a.match_id, b.match_id);
  return a.match_id;
}

// The match pushes `arena` hands on (those with a feed id), and a wait for the n-th event.
function collect(arena, matchId) {
  const pushes = [];
  const events = [];
  const waits = [];
  arena.on("*", (push) => {
    if (push.match_id !== matchId || typeof push.id !== "string") return;
    pushes.push(push);
    if (push.ev !== "match.event") return;
    events.push(push.data);
    for (const wait of waits.filter((w) => events.length >= w.count)) wait.resolve();
  });
  // Fails after withinMs saying what came, rather than leaving the test to time out.
  const until = (count, withinMs = 8000) => {
    if (events.length >= count) return Promise.resolve();
    const wait = { count, ...deferred() };
    waits.push(wait);
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${count} events wanted, got ${JSON.stringify(events)}`)), withinMs);
    });
    return Promise.race([wait.promise, late]).finally(() => clearTimeout(timer));
  };
  return { pushes, events, until };
}

test("a cut socket comes back, catches the match up from its feed, misses and doubles nothing", { timeout: 20000 }, async (t) => {
  const { WebSocket, sockets } = recordingWebSocket(CuttableWebSocket);
  const { gate, fetch } = gatedFetch();
  const { arena: follower } = await player(t, "follower", { WebSocket, fetch, backoff: { initialMs: 20, maxMs: 100 } });
  const { arena: sender } = await player(t, "sender");
  await follower.request("chat.join", { room: "general" });
  const matchId = await startDuel(sender, follower);
  assert.deepEqual(follower.following, [matchId]);
  const got = collect(follower, matchId);
  const send = (seq) => sender.request("match.send", { match_id: matchId, type: "move", data: seq });

  for (let seq = 0; seq < 10; seq++) await send(seq);
  await got.until(10);

  // The link drops: no close frame, no close code (1006), a reason to come back.
  gate.closed = deferred();
  const closed = follower.nextPush("client.close");
  const reconnecting = follower.nextPush("client.reconnecting");
  sockets.at(-1).terminate();
  const close = await closed;
  assert.equal(close.final, false);
  assert.equal((await reconnecting).attempt, 1);
  const waiting = await follower.request("ping", {}, { timeoutMs: 50 }).catch((e) => e);
  assert.equal(waiting.code, "TIMEOUT"); // a request waits for the new socket, within its time

  for (let seq = 10; seq < 20; seq++) await send(seq); // while the follower is away
  assert.equal(got.events.length, 10);

  // Back: events go on while the feed is read (held, then handed on after the gap).
  const reconnected = follower.nextPush("client.reconnected");
  gate.closed.resolve();
  const playing = (async () => {
    for (let seq = 20; seq < 40; seq++) await send(seq);
  })();
  await reconnected;
  await playing;
  await got.until(40);

  assert.deepEqual(got.events, [...Array(40).keys()]);
  const ids = got.pushes.map((p) => p.id);
  for (let i = 1; i < ids.length; i++) assert.ok(compareFeedIds(ids[i - 1], ids[i]) < 0, `${ids[i - 1]} then ${ids[i]}`);
  assert.equal(follower.reconnects, 1);
  assert.equal(sockets.length, 2);

  // The chat room joined before the drop was joined again on the new socket.
  await follower.request("ping"); // after the rejoin, which went first on the socket
  const hello = follower.nextPush("chat.message", { filter: (p) => p.text === "welcome back" });
  await sender.request("chat.send", { room: "general", text: "welcome back" });
  assert.equal((await hello).from, sender.playerId);
});

test("a reconnect whose ticket is refused (the session revoked meanwhile) ends the client", { timeout: 20000 }, async (t) => {
  const { WebSocket, sockets } = recordingWebSocket(CuttableWebSocket);
  const { gate, fetch } = gatedFetch();
  const { arena, login } = await player(t, "revoked", { WebSocket, fetch, backoff: { initialMs: 20 } });
  gate.closed = deferred();
  const dropped = arena.nextPush("client.close");
  sockets.at(-1).terminate();
  assert.equal((await dropped).final, false);

  const resp = await globalThis.fetch(`${BASE}/v1/session`, { method: "DELETE", headers: { Authorization: `Bearer ${login.token}` } });
  assert.equal(resp.status, 200);
  const ended = arena.nextPush("client.close");
  gate.closed.resolve();
  const close = await ended;
  assert.equal(close.final, true);
  assert.match(close.reason, /UNAUTHORIZED/);
  assert.equal(arena.connected, false);
  assert.equal(arena.reconnects, 0);
  assert.equal((await arena.request("ping").catch((e) => e)).code, "CLOSED");
});

test("a client that lost its memory (a reloaded page) follows the match from its feed, then live", { timeout: 20000 }, async (t) => {
  const { arena: first, login } = await player(t, "reloaded");
  const { arena: sender } = await player(t, "sender2");
  const matchId = await startDuel(sender, first);
  const send = (seq) => sender.request("match.send", { match_id: matchId, type: "move", data: seq });
  for (let seq = 0; seq < 5; seq++) await send(seq);

  // A new client on the same session, knowing only the match id: it replaces the first.
  const { WebSocket, sockets } = recordingWebSocket();
  const { Arena } = await import("../arena.js");
  const again = new Arena(BASE, { token: login.token, WebSocket });
  t.after(() => again.close());
  const got = collect(again, matchId);
  const caughtUp = again.follow(matchId, null, { keyframe: true }); // before connect: read once open
  await again.connect();
  await caughtUp;
  assert.deepEqual(got.events, [0, 1, 2, 3, 4]);
  const reads = sockets[0].sent.map((frame) => JSON.parse(frame)).filter((m) => m.op === "match.feed");
  assert.equal(reads[0].keyframe, true); // nothing seen: from the newest keyframe (none here: the start)
  assert.equal(reads[0].after, undefined);

  for (let seq = 5; seq < 8; seq++) await send(seq);
  await got.until(8);
  assert.deepEqual(got.events, [0, 1, 2, 3, 4, 5, 6, 7]);

  // A match it is no player of: the following ends with the server's code.
  const refused = await again.follow("0123456789abcdef").catch((e) => e);
  assert.equal(refused.code, "NOT_IN_MATCH");
  assert.deepEqual(again.following, [matchId]);
});
