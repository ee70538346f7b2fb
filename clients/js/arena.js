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
import { FINAL_CLOSE_CODES, closeReason, isFinalClose, openSocket, reopen, watchLink } from "./link.js";
import { SessionMemory } from "./memory.js";
import { SocketRequests } from "./requests.js";
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

// Requests, sends and the frames read are requests.js's (SocketRequests).
export class Arena extends SocketRequests {
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
    super(requestTimeoutMs, codec);
    if (typeof token !== "string" || token === "") throw new TypeError("Arena: options.token is required");
    if (typeof WebSocket !== "function") {
      throw new TypeError("Arena: no WebSocket here (Node before 22): pass { WebSocket } from the 'ws' package");
    }
    this.baseUrl = trimBase(baseUrl);
    this.playerId = playerId; // learnt from session.get on the first connect when not given
    this.closeCode = null; // the close code that ended the client for good
    this.reconnects = 0;
    this._token = token;
    this._WebSocket = WebSocket;
    this._reconnect = reconnect;
    this._backoff = { initialMs: 250, maxMs: 5000, giveUpAfterMs: 60000, ...backoff };
    this._heartbeatMs = heartbeatMs; // null: no pings of the client's own
    this._watch = null;
    this._fetch = fetch;
    this._warn = warn;
    this._ws = null;
    this._state = "idle"; // idle, connecting, open, reconnecting, closed
    this._closing = false;
    this._life = 0; // grows with every close()
    this._epoch = 0; // grows with every socket opened and closed: a restore's own is alive
    this._ended = []; // close() promises
    this._wake = null; // cuts a reconnect's pause short (close())
    this._memory = new SessionMemory();
    this._restorer = new Restorer(this._memory, {
      request: (op, fields) => this._request(op, fields, this._requestTimeoutMs, false),
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
  // (UNAUTHORIZED: the session is gone, and the client closed; NETWORK or CLOSED: the
  // server is away, try again).
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
      // A refused ticket (401/403: the session is gone) ends the client, as it does
      // when reconnecting: what waits for a socket (follow()) is told CLOSED.
      this._failOpenWaiters(err);
      if (this._closing || err.status === 401 || err.status === 403) this._end(null);
      else this._state = "idle";
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

  _pingTimeoutMs() {
    const requestMs = this._requestTimeoutMs;
    return requestMs === null || requestMs <= 0 ? this._heartbeatMs : Math.min(this._heartbeatMs, requestMs);
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
        // Its own timeout: no longer than the pause between pings, and one even when
        // requests never time out (requestTimeoutMs null), or a dead link stays unseen.
        ping: () => this._request("ping", {}, this._pingTimeoutMs(), false),
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

  // --- catching up (restore.js) -----------------------------------------------------

  // Follow a match: its pushes are handed on once each, in feed order, and after a
  // reconnect it is caught up from its feed. `after`: the last feed id already handled
  // (null: read the feed from its start; with `keyframe`, from the newest synced-state
  // keyframe instead, as a reloaded page wants). The feed is read now when connected,
  // else once the socket opens, live pushes of the match held meanwhile. Resolves once
  // it is read and the held pushes are handed on; rejects with the ArenaError that
  // ended the following (NOT_IN_MATCH), UNFOLLOWED (unfollow() came first), or CLOSED
  // (at once when the client is closed). A catch-up cut by a drop of the socket is done
  // again by the next socket's restore: the promise settles only then.
  follow(matchId, after = null, { keyframe = false } = {}) {
    if (this._state === "closed") {
      const closed = Promise.reject(new ArenaError("CLOSED", "the client is closed", { closeCode: this.closeCode }));
      closed.catch(() => {}); // a caller that does not wait is not told of an unhandled rejection
      return closed;
    }
    return this._restorer.follow(matchId, after, keyframe);
  }

  // Stop following a match: no catch-up for it after a reconnect; follow() promises
  // still waiting for its catch-up reject with UNFOLLOWED.
  unfollow(matchId) {
    this._restorer.unfollow(matchId);
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
