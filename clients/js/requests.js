// Requests on the client's socket and the frames read from it: rids and their replies,
// timeouts, requests that wait for a socket being (re)opened, fire-and-forget sends.
// Arena (arena.js) extends it and keeps the socket's life: `_state` (idle, connecting,
// open, reconnecting, closed), `_ws`, `_closing`, `_reconnect`, `_memory`, `_watch` and
// `_onPush(push)` are its.

import { PushEvents } from "./events.js";
import { ArenaError } from "./http.js";
import { closeReason, toBytes } from "./link.js";

const OPEN = 1; // WebSocket.OPEN, in browsers and the ws package alike

export class SocketRequests extends PushEvents {
  constructor(requestTimeoutMs, codec) {
    super(requestTimeoutMs);
    this._requestTimeoutMs = requestTimeoutMs;
    this._codec = codec; // null: JSON text frames; else {encode, decode}: binary frames
    this._rid = 0;
    this._pending = new Map(); // rid -> {op, settle(reply), fail(error)}
    this._openWaiters = new Set(); // requests (and connect() calls) waiting for a socket
  }

  // Send a request and wait for its reply: the result (without rid and ok), or an
  // ArenaError (the server's code; CLOSED when the socket closed first; TIMEOUT after
  // timeoutMs, null: never; 0 or less: at once, nothing sent). While the client
  // reconnects (or its socket is closing and a reconnect will follow), a request waits
  // for the new socket (within its timeout).
  request(op, fields = {}, { timeoutMs = this._requestTimeoutMs } = {}) {
    return this._request(op, fields, timeoutMs, true);
  }

  // `waits`: whether the request may wait for a socket to (re)open. The client's own
  // requests (a restore's, a heartbeat's ping) belong to the socket open now: they
  // reject with CLOSED at once instead.
  _request(op, fields, timeoutMs, waits) {
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
      const state = this._state;
      // A socket closing (before its close event) is followed by a reconnect unless
      // the client is being closed or does not reconnect; a final close code rejects
      // the waiters then (_end).
      const reopening = state === "open" && !this._writable() && this._reconnect && !this._closing;
      if (state === "open" && !reopening) go();
      else if (waits && (reopening || state === "connecting" || state === "reconnecting")) {
        waiter = { resolve: go, reject: (err) => fail(new ArenaError("CLOSED", err.message, { op, closeCode: err.closeCode })) };
        this._openWaiters.add(waiter);
      } else if (state === "open" || state === "connecting" || state === "reconnecting") {
        fail(new ArenaError("CLOSED", "the socket is closed", { op }));
      } else fail(new ArenaError("CLOSED", state === "idle" ? "not connected: call connect() first" : "the client is closed", { op }));
    });
  }

  // Fire-and-forget (no rid): no reply on success; a failure comes as a "client.error"
  // event. False when no socket is open (nothing was sent).
  send(op, fields = {}) {
    return this._write({ op, ...fields });
  }

  _writable() {
    return this._ws !== null && this._ws.readyState === OPEN;
  }

  _write(message) {
    if (!this._writable()) return false;
    try {
      this._ws.send(this._codec === null ? JSON.stringify(message) : this._codec.encode(message));
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

  // The socket closed: the requests in flight on it reject (they may have taken effect).
  _failPending(code) {
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const { op, fail } of pending) {
      fail(new ArenaError("CLOSED", `the socket closed before the reply (${closeReason(code)})`, { op, closeCode: code }));
    }
  }
}
