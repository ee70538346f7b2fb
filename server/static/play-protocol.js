// Arena's wire protocol for a browser: JSON text frames over one WebSocket
// (docs/protocol.md, section 2). Requests carry a rid and resolve with the reply;
// fire-and-forget requests carry none; pushes and rid-less failures go to handlers.

const REQUEST_TIMEOUT_MS = 10000;

// Close codes after which a page must not reconnect on its own (server/protocol.py
// FINAL_CLOSE_CODES, docs/protocol.md's close codes; tests/test_client_limits.py checks
// the two lists agree), each with what the page tells its player.
export const FINAL_CLOSE_CODES = Object.freeze({
  1009: "a message was too big for the server",
  4001: "this player opened another connection (another tab?)",
  4002: "the session was revoked; log in again",
  4003: "the session expired; log in again",
  4004: "kicked by an operator",
  4005: "banned by an operator",
});

// Why a close is final, or null when the page may reconnect after it.
export function finalCloseReason(code) {
  return Object.hasOwn(FINAL_CLOSE_CODES, code) ? FINAL_CLOSE_CODES[code] : null;
}

export class ArenaError extends Error {
  constructor(code, message, retryAfterMs) {
    super(`${code}: ${message}`);
    this.code = code;
    this.detail = message;
    this.retryAfterMs = retryAfterMs ?? null;
  }
}

// The error in a failure reply or an HTTP error body, else `fallback`.
export function errorOf(body, fallback) {
  const e = body && body.error;
  return e && e.code ? new ArenaError(e.code, e.message || "", e.retry_after_ms) : fallback;
}

export class ArenaSocket {
  // ticket: single use, from POST /v1/ws/ticket (play-session.js socketTicket), so the
  // session token never travels in a URL.
  constructor(ticket, handlers) {
    this.handlers = handlers; // open(), push(msg), failure(err), close(event, opened)
    this.nextRid = 1;
    this.pending = new Map();
    this.opened = false;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.ws = new WebSocket(`${scheme}//${location.host}/v1/ws?format=json&ticket=${encodeURIComponent(ticket)}`);
    this.ws.onopen = () => {
      this.opened = true;
      handlers.open();
    };
    this.ws.onmessage = (e) => this.received(e.data);
    this.ws.onclose = (e) => {
      for (const { reject, timer } of this.pending.values()) {
        clearTimeout(timer);
        reject(new ArenaError("DISCONNECTED", "the connection closed"));
      }
      this.pending.clear();
      handlers.close(e, this.opened);
    };
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  received(data) {
    // Binary frames are msgpack: pushes sent before this socket's first (JSON) request.
    // What they carried comes back through notify.list and match.feed.
    if (typeof data !== "string") return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof msg.ev === "string") {
      this.handlers.push(msg);
    } else if (this.pending.has(msg.rid)) {
      const { resolve, reject, timer } = this.pending.get(msg.rid);
      this.pending.delete(msg.rid);
      clearTimeout(timer);
      if (msg.ok) resolve(msg);
      else reject(errorOf(msg, new ArenaError("INTERNAL", "malformed failure")));
    } else if (msg.ok === false) {
      this.handlers.failure(errorOf(msg, new ArenaError("INTERNAL", "malformed failure")));
    }
  }

  request(op, fields = {}) {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject(new ArenaError("DISCONNECTED", "not connected"));
        return;
      }
      const rid = this.nextRid++;
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new ArenaError("TIMEOUT", `no reply to ${op}`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(rid, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ op, rid, ...fields }));
    });
  }

  // Fire-and-forget: no reply; a failure comes back without a rid. False when closed.
  fire(op, fields) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify({ op, ...fields }));
    return true;
  }

  // Close without telling the handlers (logging out).
  close() {
    this.ws.onclose = null;
    this.ws.close(1000);
  }
}
