// This tab's session over its life: log in, hand the session to Arena's client
// (/client/arena.js), pick up where the tab was (a match from its feed, a lobby seat),
// route the pushes, and after a final close log in again or stop, as the close code says
// (docs/protocol.md). The client reconnects with backoff and catches followed matches up
// by itself; this page only says what the player sees meanwhile.

import { Arena, ArenaError, FINAL_CLOSE_CODES, isFinalClose } from "/client/arena.js";
import { newGame } from "./play-game.js";
import { showLobby } from "./play-lobby.js";
import {
  caughtUp,
  feedTrimmed,
  fetchRank,
  follow,
  onMatchPush,
  setPhase,
  startMatch,
  waitForFeed,
} from "./play-match.js";
import { showError, status } from "./play-screen.js";
import { guestLogin, revokeSession, tab } from "./play-session.js";
import { state } from "./play-state.js";

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 8000;

// The pushes this page reads (session.replaced: the 4001 close says it).
const PUSHES = [
  "lobby.updated",
  "lobby.closed",
  "match.started",
  "match.event",
  "match.state",
  "match.left",
  "match.ended",
  "match.resync",
  "notify",
  "server.shutdown",
];

export async function login(name) {
  const body = await guestLogin(name);
  state.names[body.player_id] = body.name;
}

async function loginAgain() {
  // An ended session: the same name (so the same device id) is the same player.
  const name = tab.get("name");
  tab.set("token", null);
  if (!name) {
    setPhase("login");
    return;
  }
  try {
    await login(name);
    connect();
  } catch (err) {
    showError(err);
    setPhase("login");
  }
}

// A client for the tab's session (a button's "connect again" drops the last one first).
// It reconnects by itself; only a first connect that fails is tried again from here.
export function connect() {
  drop();
  const token = tab.get("token");
  if (!token) {
    setPhase("login");
    return;
  }
  // A page waits for its server for as long as it is open.
  const arena = new Arena(location.origin, { token, backoff: { giveUpAfterMs: Infinity } });
  state.arena = arena;
  const mine = (fn) => (event) => state.arena === arena && fn(event);
  for (const ev of PUSHES) arena.on(ev, mine(onPush));
  arena.on("client.open", mine(() => opened(arena)));
  arena.on("client.reconnecting", mine(() => status("Connection lost; reconnecting…")));
  arena.on("client.close", mine((event) => closed(event)));
  arena.on("client.caughtup", mine(caughtUp));
  arena.on("client.feedtrimmed", mine(feedTrimmed));
  const match = tab.get("match");
  if (match && !state.game) state.game = newGame(match); // a reload: rebuilt from the feed
  // Followed before the socket opens: its live pushes wait for the feed from the start.
  if (state.game) follow(state.game, arena);
  else if (state.phase !== "playing" && state.phase !== "ended") setPhase("connecting");
  status("Connecting…");
  arena.connect().then(
    () => (state.retryMs = FIRST_RETRY_MS),
    mine((err) => {
      if (err.status === 401 || err.status === 403) {
        loginAgain(); // the session is gone
        return;
      }
      status(`Cannot reach the server (${err.code}); reconnecting…`);
      state.retryTimer = setTimeout(connect, state.retryMs);
      state.retryMs = Math.min(state.retryMs * 2, MAX_RETRY_MS);
    }),
  );
}

function drop() {
  clearTimeout(state.retryTimer);
  const arena = state.arena;
  state.arena = null;
  if (arena) arena.close();
}

// Each socket's open, the first and each after a drop: who I am, my lobby seat, my notes.
async function opened(arena) {
  // The client catches the followed match up on every new socket ("client.caughtup").
  const game = state.game;
  if (game && arena.following.includes(game.matchId)) waitForFeed(game);
  try {
    const me = await arena.request("session.get");
    tab.set("name", me.name);
    state.names[me.player_id] = me.name;
    if (!state.game || !state.game.catchingUp) status("Connected");
    if (!state.game) await resumeLobby(arena);
    const { notes } = await arena.request("notify.list");
    for (const note of notes) onNote(note);
  } catch (err) {
    if (err.code !== "CLOSED") showError(err);
  }
}

async function resumeLobby(arena) {
  const lobbyId = tab.get("lobby_id");
  if (lobbyId) {
    try {
      // Joining the lobby one sits in just returns it (the seat outlives a reload).
      showLobby((await arena.request("lobby.join", { lobby_id: lobbyId })).lobby);
      return;
    } catch (err) {
      tab.set("lobby_id", null);
      if (err.code !== "LOBBY_NOT_FOUND" && err.code !== "LOBBY_FULL") showError(err);
    }
  }
  if (!state.game) setPhase("home");
}

function closed(event) {
  if (!event.final) {
    status(`Connection lost (${event.code}); reconnecting…`);
    return;
  }
  state.arena = null;
  if (!isFinalClose(event.code) || event.code === 4003) {
    // Expired (4003), or its socket ticket refused (the client never gives up
    // otherwise): the session is gone. The same name logs in as the same player: a new
    // session, not a reconnect.
    loginAgain();
    return;
  }
  // Final (docs/protocol.md): say why and stay put; a person decides what comes next.
  showError(new ArenaError(String(event.code), FINAL_CLOSE_CODES[event.code]));
  status("");
  if (event.code === 4002 || event.code === 4005) {
    tab.set("token", null); // revoked: this session will not come back
    setPhase("login");
  } else {
    setPhase("replaced"); // its button connects again, when the player chooses
  }
}

export async function logout() {
  const token = tab.get("token");
  drop();
  state.game = null;
  for (const key of ["token", "player_id", "match", "lobby_id"]) tab.set(key, null);
  setPhase("login");
  status("");
  if (token) await revokeSession(token);
}

// --- pushes

function onPush(msg) {
  switch (msg.ev) {
    case "lobby.updated":
      showLobby(msg.lobby);
      break;
    case "lobby.closed":
      if (state.phase === "lobby") {
        tab.set("lobby_id", null);
        status("The lobby was closed.");
        setPhase("home");
      }
      break;
    case "match.started":
      startMatch({
        match_id: msg.match_id,
        players: msg.players,
        mode: msg.mode,
        authoritative: msg.authoritative === true,
      });
      break;
    case "match.event":
    case "match.state":
    case "match.left":
    case "match.ended":
    case "match.resync":
      onMatchPush(msg);
      break;
    case "notify":
      onNote(msg);
      break;
    case "server.shutdown":
      status("The server is restarting; reconnecting…");
      break;
    default:
      break;
  }
}

function onNote(note) {
  if (note.kind === "match.result" && note.data && note.data.match_id) {
    state.resultsIn.add(note.data.match_id);
    tab.set("results_in", Array.from(state.resultsIn).slice(-20));
    const game = state.game;
    if (game && game.ended && game.matchId === note.data.match_id) fetchRank(game);
  }
  if (state.arena) state.arena.request("notify.ack", { id: note.id }).catch(() => null);
}
