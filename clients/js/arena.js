// Arena's JavaScript client: one ES module for browsers and Node 18+, no dependencies.
//
//   import { Arena, guestLogin } from "/client/arena.js";
//   const login = await guestLogin("https://arena.example", { name: "alice" });
//   const arena = new Arena("https://arena.example", { token: login.token });
//   arena.on("match.event", (push) => console.log(push.data));
//   await arena.connect();
//   console.log(await arena.request("ping"));
//
// The wire protocol is docs/protocol.md; the rules for reconnecting and catching a
// followed match up from its feed are the Python reference client's (client_sim/), ported
// in feed.js and memory.js. README.md says how to use it.

import { FEED_PAGE_MAX, compareFeedIds } from "./feed.js";
import { ArenaError, guestLogin, newDeviceId, socketTicket, spectatorLogin, trimBase } from "./http.js";
import { FINAL_CLOSE_CODES, closeReason, isFinalClose, openSocket, reopen, toBytes, watchLink } from "./link.js";
import { PushEvents } from "./events.js";
import { SessionMemory } from "./memory.js";
import { Restorer } from "./restore.js";

export {
  ArenaError,
  FEED_PAGE_MAX,
  FINAL_CLOSE_CODES,
  closeReason,
  compareFeedIds,
  guestLogin,
  isFinalClose,
  newDeviceId,
  socketTicket,
  spectatorLogin,
};

export const VERSION = "0.1.0";

const OPEN = 1; // WebSocket.OPEN, in browsers and the ws package alike

export class Arena extends PushEvents {
  constructor(baseUrl, options = {}) {
    const {
      token,
      codec = null,
      WebSocket = globalThis.WebSocket,
      reconnect = true,
      backoff = {},
      requestTimeoutMs = 10000,
      heartbeatMs = 20000,
      playerId = null,
      fetch = undefined,
      warn = (...args) => console.warn(...args),
    } = options;
    super(requestTimeoutMs);
    if (typeof token !== "string" || token === "") throw new TypeError("Arena: options.token is required");
    if (typeof WebSocket !== "function") {
      throw new TypeError("Arena: no WebSocket here (Node before 22): pass { WebSocket } from the 'ws' package");
    }
    this.baseUrl = trimBase(baseUrl);
    this.playerId = playerId; // learnt from session.get on the first connect when not given
    this.closeCode = null; // the close code that ended the client for good
    this.reconnects = 0;
    this._token = token;
    this._codec = codec; // null: JSON text frames; else {encode, decode}: binary frames
    this._WebSocket = WebSocket;
    this._reconnect = reconnect;
    this._backoff = { initialMs: 250, maxMs: 5000, giveUpAfterMs: 60000, ...backoff };
    this._requestTimeoutMs = requestTimeoutMs;
    this._heartbeatMs = heartbeatMs; // null: no pings of the client's own
    this._watch = null;
    this._fetch = fetch;
    this._warn = warn;
    this._ws = null;
    this._state = "idle"; // idle, connecting, open, reconnecting, closed
    this._closing = false;
    this._life = 0; // grows with every close()
    this._epoch = 0; // grows with every socket opened and closed: a restore's own is alive
    this._rid = 0;
    this._pending = new Map(); // rid -> {op, settle(reply), fail(error)}
    this._openWaiters = new Set(); // requests waiting for the socket to (re)open
    this._ended = []; // close() promises
    this._wake = null; // cuts a reconnect's pause short (close())
    this._memory = new SessionMemory();
    this._restorer = new Restorer(this._memory, {
      request: (op, fields) => this.request(op, fields),
      handOn: (push) => this._handOn(push),
      onPush: (push) => this._onPush(push),
      emit: (event) => this._emit(event),
      warn: (...args) => this._warn(...args),
      socket: () => (this._state === "open" ? this._epoch : null),
      closing: () => this._closing,
    });
  }

  get connected() {
    return this._state === "open";
  }

  // The lobby as last told (a reply or lobby.updated, newest rev); null: in none.
  get lobby() {
    return this._memory.lobby;
  }

  // The chat rooms joined (request("chat.join")): joined again after a reconnect.
  get rooms() {
    return [...this._memory.rooms];
  }

  // The matches followed: caught up from their feeds after a reconnect.
  get following() {
    return this._memory.following.matches();
  }

  // --- the socket's life ------------------------------------------------------------

  // Get a socket ticket and open the socket; rejects with ArenaError when either fails
  // (UNAUTHORIZED: the session is gone; NETWORK or CLOSED: the server is away).
  async connect() {
    if (this._state === "open") return;
    if (this._state === "connecting" || this._state === "reconnecting") {
      await new Promise((resolve, reject) => this._openWaiters.add({ resolve, reject }));
      return;
    }
    this._closing = false;
    this.closeCode = null;
    this._state = "connecting";
    let ws;
    try {
      ws = await this._openSocket();
    } catch (err) {
      if (this._closing) this._end(null);
      else this._state = "idle";
      this._failOpenWaiters(err);
      throw err;
    }
    if (this._closing) {
      ws.close(1000);
      this._end(null);
      throw new ArenaError("CLOSED", "closed while connecting");
    }
    this._adopt(ws);
    if (this.playerId === null) {
      try {
        this.playerId = (await this.request("session.get")).player_id ?? null;
      } catch {
        // A socket that closed at once says so through client.close.
      }
    }
  }

  // Close for good (no reconnect); resolves once the socket is closed.
  close() {
    this._closing = true;
    this._life += 1; // a reconnect still under way adopts nothing, even after a new connect()
    this._wake?.();
    const ended = new Promise((resolve) => this._ended.push(resolve));
    const ws = this._ws;
    if (ws !== null) {
      ws.close(1000);
    } else if (this._state === "reconnecting") {
      this._emit({ ev: "client.close", code: null, reason: "closed by the client", final: true });
      this._end(null);
    } else if (this._state !== "connecting") {
      this._end(this.closeCode);
    }
    return ended;
  }

  _openSocket() {
    return openSocket(this.baseUrl, this._token, { WebSocket: this._WebSocket, binary: this._codec !== null, fetch: this._fetch });
  }

  // A socket opened: requests go out on it; followed matches are caught up from their
  // feeds (their live pushes held meanwhile) and chat rooms joined again.
  _adopt(ws) {
    this._ws = ws;
    this._epoch += 1;
    this._state = "open";
    ws.onmessage = (event) => {
      if (this._ws === ws) this._received(event.data);
    };
    ws.onclose = (event) => this._closed(ws, event.code, event.reason);
    if (this._heartbeatMs !== null) {
      this._watch = watchLink({
        idleMs: this._heartbeatMs,
        ping: () => this.request("ping"),
        dead: () => {
          // Closing a dead link waits for a close frame that never comes: drop it now.
          ws.onmessage = ws.onclose = null;
          ws.close();
          this._closed(ws, null, "no reply to a ping: the link is dead");
        },
      });
    }
    this._restorer.opened(); // before any frame of the new socket is read
    for (const waiter of this._openWaiters) waiter.resolve();
    this._openWaiters.clear();
    this._emit({ ev: "client.open" });
  }

  _closed(ws, code, reason) {
    if (this._ws !== ws) return;
    this._watch?.stop();
    this._ws = null;
    this._epoch += 1;
    this._failPending(code);
    const final = this._closing || !this._reconnect || isFinalClose(code);
    this._emit({ ev: "client.close", code, reason: reason || closeReason(code), final });
    if (final) {
      this._end(code);
      return;
    }
    this._state = "reconnecting";
    this._reconnectWithBackoff(code);
  }

  // Open a new socket on the same session (link.js reopen: backoff with jitter); a
  // refused ticket (the session is gone) or giving up ends the client.
  async _reconnectWithBackoff(code) {
    const life = this._life;
    const closing = () => this._closing || this._life !== life;
    const outcome = await reopen(() => this._openSocket(), this._backoff, {
      closing,
      attempting: (attempt, delayMs) => this._emit({ ev: "client.reconnecting", attempt, delayMs }),
      pause: (ms) =>
        new Promise((resolve) => {
          const timer = setTimeout(resolve, ms);
          this._wake = () => {
            clearTimeout(timer);
            resolve();
          };
        }),
    });
    this._wake = null;
    if (closing()) {
      outcome.ws?.close(1000); // close() came while it opened
      return;
    }
    if (outcome.ws !== undefined) {
      this.reconnects += 1;
      this._adopt(outcome.ws);
      this._emit({ ev: "client.reconnected", attempt: outcome.attempt });
      return;
    }
    const { refused } = outcome;
    if (refused !== undefined) {
      // No socket closed with a code here: the ticket's HTTP status says why.
      this._emit({ ev: "client.close", code: null, reason: `the session is gone (${refused.code})`, final: true, status: refused.status });
    } else {
      this._emit({ ev: "client.close", code, reason: "gave up reconnecting", final: true });
    }
    this._end(code);
  }

  _end(code) {
    this._state = "closed";
    this.closeCode = code;
    this._failOpenWaiters(new ArenaError("CLOSED", `the client is closed (${closeReason(code)})`, { closeCode: code }));
    const closed = new ArenaError("CLOSED", "the client is closed", { closeCode: code });
    this._failWaiters(closed);
    this._restorer.closed(closed);
    for (const resolve of this._ended.splice(0)) resolve();
  }

  _failOpenWaiters(err) {
    for (const waiter of this._openWaiters) waiter.reject(err);
    this._openWaiters.clear();
  }

  _failPending(code) {
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const { op, fail } of pending) {
      fail(new ArenaError("CLOSED", `the socket closed before the reply (${closeReason(code)})`, { op, closeCode: code }));
    }
  }

  // --- catching up (restore.js) -----------------------------------------------------

  // Follow a match: its pushes are handed on once each, in feed order, and after a
  // reconnect it is caught up from its feed. `after`: the last feed id already handled
  // (null: read the feed from its start; with `keyframe`, from the newest synced-state
  // keyframe instead, as a reloaded page wants). The feed is read now when connected,
  // else once the socket opens, live pushes of the match held meanwhile. Resolves once
  // it is read and the held pushes are handed on; rejects with the ArenaError that
  // ended the following (NOT_IN_MATCH), or CLOSED.
  follow(matchId, after = null, { keyframe = false } = {}) {
    return this._restorer.follow(matchId, after, keyframe);
  }

  // Stop following a match: no catch-up for it after a reconnect.
  unfollow(matchId) {
    this._restorer.unfollow(matchId);
  }

  // --- requests -------------------------------------------------------------------

  // Send a request and wait for its reply: the result (without rid and ok), or an
  // ArenaError (the server's code; CLOSED when the socket closed first; TIMEOUT after
  // timeoutMs, null: never; 0 or less: at once, nothing sent). While the client
  // reconnects, a request waits for the new socket (within its timeout).
  request(op, fields = {}, { timeoutMs = this._requestTimeoutMs } = {}) {
    return new Promise((resolve, reject) => {
      let rid = null;
      let waiter = null;
      const expire = () => {
        if (rid !== null) this._pending.delete(rid); // a late reply finds no one: dropped
        if (waiter !== null) this._openWaiters.delete(waiter);
        reject(new ArenaError("TIMEOUT", `no reply to ${op} within ${timeoutMs} ms`, { op }));
      };
      const timer = timeoutMs === null ? null : setTimeout(expire, timeoutMs);
      const fail = (err) => {
        clearTimeout(timer);
        reject(err);
      };
      const settle = (reply) => {
        clearTimeout(timer);
        if (reply.ok !== true) {
          reject(ArenaError.fromBody(reply, { op }));
          return;
        }
        const { rid: _rid, ok: _ok, ...result } = reply;
        this._memory.replied(op, fields, result);
        resolve(result);
      };
      const go = () => {
        if (timeoutMs !== null && timeoutMs <= 0) return; // the timer rejects: nothing sent
        rid = ++this._rid;
        this._pending.set(rid, { op, settle, fail });
        const message = { op, rid, ...fields };
        message.op = op; // fields cannot override the envelope (its keys stay first)
        message.rid = rid;
        if (!this._write(message)) {
          this._pending.delete(rid);
          fail(new ArenaError("CLOSED", "the socket is closed", { op }));
        }
      };
      if (this._state === "open") go();
      else if (this._state === "connecting" || this._state === "reconnecting") {
        waiter = { resolve: go, reject: (err) => fail(new ArenaError("CLOSED", err.message, { op, closeCode: err.closeCode })) };
        this._openWaiters.add(waiter);
      } else fail(new ArenaError("CLOSED", this._state === "idle" ? "not connected: call connect() first" : "the client is closed", { op }));
    });
  }

  // Fire-and-forget (no rid): no reply on success; a failure comes as a "client.error"
  // event. False when no socket is open (nothing was sent).
  send(op, fields = {}) {
    return this._write({ op, ...fields });
  }

  _write(message) {
    const ws = this._ws;
    if (ws === null || ws.readyState !== OPEN) return false;
    try {
      ws.send(this._codec === null ? JSON.stringify(message) : this._codec.encode(message));
      return true;
    } catch {
      return false;
    }
  }

  _received(data) {
    this._watch?.seen();
    let message;
    try {
      if (typeof data === "string") message = JSON.parse(data);
      else if (this._codec !== null) message = this._codec.decode(toBytes(data));
      else return; // binary to a JSON client: none come with ?format=json
    } catch {
      return; // a frame that does not decode is skipped, as the reference client does
    }
    if (message === null || typeof message !== "object") return;
    if (typeof message.ev === "string") {
      this._onPush(message);
      return;
    }
    const waiting = Number.isInteger(message.rid) ? this._pending.get(message.rid) : undefined;
    if (waiting !== undefined) {
      this._pending.delete(message.rid);
      waiting.settle(message);
    } else if (message.ok === false && !("rid" in message)) {
      // A fire-and-forget request failed (a late reply to a timed-out request is dropped).
      this._emit({ ev: "client.error", error: ArenaError.fromBody(message) });
    }
  }

  _closedError(event) {
    if (this._state !== "closed" || event.startsWith("client.")) return null;
    return new ArenaError("CLOSED", "the client is closed", { closeCode: this.closeCode });
  }

  _onPush(push) {
    if (this._memory.isNews(push)) {
      this._handOn(push);
      this._memory.handedOn(push);
    }
  }
}
