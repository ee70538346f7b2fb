// The client's socket link: opening it with a ticket, and how it closed (the close codes
// that forbid coming back). docs/protocol.md, sections 2 and 11.

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
