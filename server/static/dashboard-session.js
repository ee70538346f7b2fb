// The dashboard's read-only spectator session on Arena's one client (/client/arena.js):
// a spectator login, then the client's socket, which comes back by itself after a drop
// (backoff with jitter, on the same session). When the session ends (expired, or its
// socket ticket refused) a fresh spectator login starts another: it is cheap. Any other
// final close (kicked, banned, replaced) stops here, saying why.

import { Arena, FINAL_CLOSE_CODES, isFinalClose, spectatorLogin } from "/client/arena.js";
import { setStatus } from "./dashboard-page.js";

const LOGIN_RETRY_FIRST_MS = 500;
const LOGIN_RETRY_MAX_MS = 10000;
const WATCHED = ["watch.lobby", "watch.match", "watch.score", "watch.activity"];

let arena = null; // the live session's client; null between sessions
let failures = 0; // sessions that ended before the page went live, in a row

// Log in and connect, for as long as the page is open. `page`: open() each time a socket
// opens (the first and each after a drop: watch and read again), close() when one
// closes, push(msg) for the watch.* pushes.
export function watchArena(page) {
  start(page);
}

// The page has its picture.
export function markLive() {
  failures = 0;
  setStatus("live", "live");
}

export function request(op, fields = {}) {
  if (arena === null) return Promise.reject(new Error(`${op}: not connected`));
  return arena.request(op, fields);
}

function retryIn(delayMs) {
  setStatus("offline", `reconnecting in ${Math.ceil(delayMs / 1000)} s`);
}

// A new session after a jittered backoff that grows until the page is live again.
function startLater(page) {
  const base = Math.min(LOGIN_RETRY_MAX_MS, LOGIN_RETRY_FIRST_MS * 2 ** failures++);
  const delay = Math.round(base * (0.5 + Math.random() / 2));
  retryIn(delay);
  setTimeout(() => start(page), delay);
}

async function start(page) {
  setStatus("connecting", "connecting…");
  let token;
  try {
    ({ token } = await spectatorLogin(location.origin));
  } catch (err) {
    // The server is away (or refusing): the client cannot help before there is a session.
    console.warn("dashboard:", err.message);
    startLater(page);
    return;
  }
  // The dashboard waits for its server for as long as it is open.
  const mine = new Arena(location.origin, { token, backoff: { giveUpAfterMs: Infinity } });
  arena = mine;
  for (const ev of WATCHED) mine.on(ev, (push) => page.push(push));
  mine.on("client.open", () => page.open());
  mine.on("client.reconnecting", ({ delayMs }) => retryIn(delayMs));
  mine.on("client.close", (event) => {
    if (arena !== mine) return;
    page.close();
    if (!event.final) {
      setStatus("offline", "reconnecting…");
      return;
    }
    arena = null;
    if (!isFinalClose(event.code) || event.code === 4003) {
      startLater(page); // the session ended (expired, or its ticket refused): a new one
    } else {
      const why = FINAL_CLOSE_CODES[event.code];
      setStatus("offline", `disconnected: ${why}; reload the page to watch again`);
    }
  });
  mine.connect().catch((err) => {
    // The first socket did not open (the client reconnects only once one has).
    if (arena !== mine) return;
    console.warn("dashboard:", err.message);
    arena = null;
    startLater(page);
  });
}
