// The client's socket link: opening it with a ticket, how it closed (the close codes that
// forbid coming back), and opening it again with backoff. docs/protocol.md, sections 2
// and 11; client_sim/link.py is the Python client's.

import { ArenaError, socketTicket, socketUrl } from "./http.js";

// Close codes after which the client must not reconnect on its own with the same session
// (server/protocol.py FINAL_CLOSE_CODES; tests/test_js_client.py keeps them equal), each
// with what an app may tell its player.
export const FINAL_CLOSE_CODES = Object.freeze({
  1009: "a message was too big for the server",
  4001: "this player opened another connection",
  4002: "the session was revoked; log in again",
  4003: "the session expired; log in again",
  4004: "kicked by an operator",
  4005: "banned by an operator",
});

export function isFinalClose(code) {
  return Object.hasOwn(FINAL_CLOSE_CODES, code);
}

// A close code as a person reads it.
export function closeReason(code) {
  if (code === null || code === undefined || code === 1006) return "the link dropped";
  return isFinalClose(code) ? `${code}: ${FINAL_CLOSE_CODES[code]}` : `code ${code}`;
}

const HANDSHAKE_TIMEOUT_MS = 10000;

export function toBytes(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

// Get a socket ticket and open a socket on the session `token` names; resolves once it
// is open. A JSON client asks for its first pushes (sent before any request) as text too.
export async function openSocket(baseUrl, token, { WebSocket, binary, fetch }) {
  const ticket = await socketTicket(baseUrl, token, { fetch });
  const url = socketUrl(baseUrl, binary ? { ticket } : { ticket, format: "json" });
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  ws.onerror = () => {}; // a close event follows; the ws package throws without a listener
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.onopen = ws.onclose = null;
      ws.close();
      reject(new ArenaError("TIMEOUT", "the socket did not open in time"));
    }, HANDSHAKE_TIMEOUT_MS);
    ws.onopen = () => {
      clearTimeout(timer);
      resolve();
    };
    ws.onclose = (event) => {
      clearTimeout(timer);
      reject(new ArenaError("CLOSED", `the socket closed as it opened (${closeReason(event.code)})`, { closeCode: event.code }));
    };
  });
  return ws;
}

// Open a new socket with `open()` after doubling pauses from backoff.initialMs up to
// backoff.maxMs, each jittered to half to all of it (a RATE_LIMITED ticket waits its
// retry_after_ms at least), until backoff.giveUpAfterMs has passed. Resolves to
// {ws, attempt}; {refused} when the ticket was refused (401/403: the session is gone);
// {} when it gave up or `closing()` came true.
export async function reopen(open, backoff, { closing, attempting, pause }) {
  const { initialMs, maxMs, giveUpAfterMs } = backoff;
  const deadline = Date.now() + giveUpAfterMs;
  let delay = initialMs;
  let floor = 0;
  for (let attempt = 1; !closing() && Date.now() <= deadline; attempt++) {
    const delayMs = Math.max(floor, Math.round(delay * (0.5 + Math.random() / 2)));
    attempting(attempt, delayMs);
    await pause(delayMs);
    if (closing()) break;
    delay = Math.min(delay * 2, maxMs);
    try {
      return { ws: await open(), attempt };
    } catch (err) {
      if (err.status === 401 || err.status === 403) return { refused: err };
      floor = err.code === "RATE_LIMITED" ? (err.retryAfterMs ?? 0) : 0;
    }
  }
  return {};
}

// A link that died silently (a laptop asleep, a NAT that forgot it) shows no close for
// minutes, and a browser cannot see the server's WebSocket pings. So after `idleMs`
// without a frame, `ping()` (a ping request) must be answered, else `dead()`: the
// client drops the socket and reconnects. Returns {seen() on every frame, stop()}.
export function watchLink({ idleMs, ping, dead }) {
  let last = Date.now();
  let stopped = false;
  let timer = null;
  const check = async () => {
    if (stopped) return;
    if (Date.now() - last >= idleMs) {
      try {
        await ping();
      } catch (err) {
        if (!stopped && err.code === "TIMEOUT") {
          dead();
          return;
        }
      }
    }
    if (!stopped) timer = setTimeout(check, Math.max(0, last + idleMs - Date.now()));
  };
  timer = setTimeout(check, idleMs);
  return {
    seen() {
      last = Date.now();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
