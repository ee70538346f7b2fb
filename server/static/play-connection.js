// This tab's connection to Arena over its life: log in, connect, pick up where the tab
// was (a match from its feed, a lobby seat), route the pushes, and after a close
// reconnect, log in again or stop, as the close code says (docs/protocol.md).

import { newGame } from "./play-game.js";
import { showLobby } from "./play-lobby.js";
import { catchUp, fetchRank, onMatchPush, setPhase, startMatch } from "./play-match.js";
import { ArenaError, ArenaSocket, finalCloseReason } from "./play-protocol.js";
import { showError, status } from "./play-screen.js";
import { guestLogin, revokeSession, sessionAlive, socketTicket, tab } from "./play-session.js";
import { state } from "./play-state.js";

export async function login(name) {
  const body = await guestLogin(name);
  state.names[body.player_id] = body.name;
}

async function loginAgain() {
  // An expired session: the same name (so the same device id) is the same player.
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

let attempts = 0; // the latest connect() wins; an older one still asking for a ticket gives up

function retryLater(reason) {
  status(`${reason}; reconnecting…`);
  state.retryTimer = setTimeout(connect, state.retryMs);
  state.retryMs = Math.min(state.retryMs * 2, 8000);
}

export async function connect() {
  clearTimeout(state.retryTimer);
  const attempt = ++attempts;
  const token = tab.get("token");
  if (!token) {
    setPhase("login");
    return;
  }
  // The socket URL carries a single-use ticket, never the token (URLs end up in logs).
  let ticket;
  try {
    ticket = await socketTicket(token);
  } catch (err) {
    if (attempt === attempts) retryLater(`Cannot reach the server (${err.code})`);
    return;
  }
  if (attempt !== attempts) return;
  if (ticket === null) {
    loginAgain(); // the session is gone
    return;
  }
  const match = tab.get("match");
  if (match && !state.game) state.game = newGame(match); // a reload: rebuilt from the feed
  if (state.game) {
    // Live pushes wait until the feed is read: the new socket follows from now on.
    state.game.catchingUp = true;
    state.game.held = [];
  }
  if (state.phase !== "playing" && state.phase !== "ended") setPhase("connecting");
  status("Connecting…");
  const sock = new ArenaSocket(ticket, {
    open: () => opened(sock),
    push: (msg) => onPush(msg),
    failure: (err) => showError(err),
    close: (event, wasOpen) => closed(sock, event, wasOpen),
  });
  state.sock = sock;
}

async function opened(sock) {
  state.retryMs = 500;
  try {
    // The first request: pushes come as JSON from here on.
    const me = await sock.request("session.get");
    tab.set("name", me.name);
    state.names[me.player_id] = me.name;
    status("Connected");
    await resume(sock);
    const { notes } = await sock.request("notify.list");
    for (const note of notes) onNote(note);
  } catch (err) {
    if (err.code !== "DISCONNECTED") showError(err);
  }
}

async function resume(sock) {
  const match = tab.get("match");
  if (match) {
    if (!state.game || state.game.matchId !== match.match_id) state.game = newGame(match);
    await catchUp(state.game, sock);
    return;
  }
  const lobbyId = tab.get("lobby_id");
  if (lobbyId) {
    try {
      // Joining the lobby one sits in just returns it (the seat outlives a reload).
      showLobby((await sock.request("lobby.join", { lobby_id: lobbyId })).lobby);
      return;
    } catch (err) {
      tab.set("lobby_id", null);
      if (err.code !== "LOBBY_NOT_FOUND" && err.code !== "LOBBY_FULL") showError(err);
    }
  }
  setPhase("home");
}

async function closed(sock, event, wasOpen) {
  if (state.sock !== sock) return;
  state.sock = null;
  const why = finalCloseReason(event.code);
  if (event.code === 4003) {
    loginAgain(); // the same name logs in as the same player: a new session, not a reconnect
    return;
  }
  if (why !== null) {
    // Final (docs/protocol.md): say why and stay put; a person decides what comes next.
    showError(new ArenaError(String(event.code), why));
    status("");
    if (event.code === 4002 || event.code === 4005) {
      tab.set("token", null); // revoked: this session will not come back
      setPhase("login");
    } else {
      setPhase("replaced"); // its button connects again, when the player chooses
    }
    return;
  }
  if (!wasOpen) {
    // Refused before the upgrade: an expired token, or the server is away.
    if ((await sessionAlive(tab.get("token"))) === false) {
      loginAgain();
      return;
    }
  }
  retryLater(`Connection lost (${event.code})`);
}

export async function logout() {
  const token = tab.get("token");
  if (state.sock) state.sock.close();
  state.sock = null;
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
      break; // pushes this page does not use (session.replaced: the 4001 close says it)
  }
}

function onNote(note) {
  if (note.kind === "match.result" && note.data && note.data.match_id) {
    state.resultsIn.add(note.data.match_id);
    tab.set("results_in", Array.from(state.resultsIn).slice(-20));
    const game = state.game;
    if (game && game.ended && game.matchId === note.data.match_id) fetchRank(game);
  }
  if (state.sock) state.sock.request("notify.ack", { id: note.id }).catch(() => null);
}
