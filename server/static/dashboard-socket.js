// The dashboard's one read-only socket: a spectator login over HTTP, a socket ticket,
// then JSON text frames (docs/protocol.md). Requests carry a rid and resolve with the reply; pushes go
// to the page. A lost socket comes back after a jittered backoff that grows until the
// page says it is live again (markLive); a refused or ended session logs in afresh.

import { setStatus } from "./dashboard-page.js";
import { finalCloseReason } from "./play-protocol.js";

const REQUEST_TIMEOUT_MS = 10000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10000;

let page = null; // open(ws), push(msg), close(): what the page does about the socket
let token = null;
let socket = null;
let nextRid = 1;
const pending = new Map();
let failures = 0;

// Connect, and keep reconnecting for as long as the page is open.
export function watchArena(handlers) {
  page = handlers;
  connect();
}

// The page has its picture: the next loss starts the backoff from the beginning.
export function markLive() {
  failures = 0;
  setStatus("live", "live");
}

async function spectatorLogin() {
  const resp = await fetch("/v1/auth/spectator", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  if (!resp.ok) throw new Error(`spectator login refused: HTTP ${resp.status}`);
  return (await resp.json()).token;
}

// A single-use ticket for the socket URL (the token itself never goes in a URL); null
// when the session is gone.
async function socketTicket() {
  const resp = await fetch("/v1/ws/ticket", {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  if (resp.status === 401) return null;
  if (!resp.ok) throw new Error(`socket ticket refused: HTTP ${resp.status}`);
  return (await resp.json()).ticket;
}

async function connect() {
  setStatus("connecting", "connecting…");
  let ticket = null;
  try {
    if (token === null) token = await spectatorLogin();
    ticket = await socketTicket();
  } catch (err) {
    console.warn("dashboard:", err.message);
    reconnectLater();
    return;
  }
  if (ticket === null) {
    token = null; // the session ended: a fresh spectator login next time
    reconnectLater();
    return;
  }
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/v1/ws?format=json&ticket=${encodeURIComponent(ticket)}`);
  let opened = false;
  ws.onopen = () => {
    opened = true;
    socket = ws;
    page.open(ws);
  };
  ws.onmessage = (event) => onFrame(event.data);
  ws.onclose = (event) => {
    if (socket === ws) socket = null;
    page.close();
    for (const { reject, timer } of pending.values()) {
      clearTimeout(timer);
      reject(new Error("socket closed"));
    }
    pending.clear();
    // A refused ticket fails the upgrade (HTTP 401), so the socket never opens, and an
    // expired session (4003) needs a new one: log in again; a fresh spectator login is
    // cheap. Any other final close (kicked, banned, replaced) stops here, saying why.
    const why = finalCloseReason(event.code);
    if (why !== null && event.code !== 4003) {
      token = null;
      setStatus("offline", `disconnected: ${why}; reload the page to watch again`);
      return;
    }
    if (!opened || event.code === 4003) token = null;
    reconnectLater();
  };
}

function reconnectLater() {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** failures);
  const delay = Math.round(base * (0.5 + Math.random() / 2));
  failures += 1;
  setStatus("offline", `reconnecting in ${Math.ceil(delay / 1000)} s`);
  setTimeout(connect, delay);
}

export function request(op, fields = {}) {
  return new Promise((resolve, reject) => {
    if (socket === null) {
      reject(new Error("not connected"));
      return;
    }
    const rid = nextRid++;
    const timer = setTimeout(() => {
      pending.delete(rid);
      reject(new Error(`${op}: no reply`));
    }, REQUEST_TIMEOUT_MS);
    pending.set(rid, { resolve, reject, timer, op });
    socket.send(JSON.stringify({ op, rid, ...fields }));
  });
}

function onFrame(data) {
  // Replies come as text to our text requests; a binary frame could only be a push
  // sent before our first request, and a spectator gets none then.
  if (typeof data !== "string") return;
  const msg = JSON.parse(data);
  if (msg.rid !== undefined) {
    const waiting = pending.get(msg.rid);
    if (!waiting) return;
    pending.delete(msg.rid);
    clearTimeout(waiting.timer);
    if (msg.ok) waiting.resolve(msg);
    else waiting.reject(new Error(`${waiting.op}: ${msg.error.code} ${msg.error.message}`));
  } else if (msg.ev) {
    page.push(msg);
  }
}
