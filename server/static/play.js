// Arena · Dots: a browser game on Arena's wire protocol (docs/protocol.md), JSON text
// frames only, no build step. Guest login, quick-join, ready, then a race: every player
// moves a dot, the first to touch the numbered ring scores, first to 10 wins. The rules
// are in play-game.js: no game server, every client folds the match's feed the same way,
// and the winner's client reports the result.
//
// A reloaded tab keeps its token (sessionStorage), reconnects, and rebuilds the match by
// reading its feed from the start, merging live events by feed id.

import { drawField } from "./play-field.js";
import {
  FIELD,
  applyMatchPush,
  clampPoint,
  colorOf,
  newGame,
  resetGame,
  targetOf,
  touches,
} from "./play-game.js";
import { ArenaError, ArenaSocket } from "./play-protocol.js";
import { guestLogin, revokeSession, sessionAlive, tab } from "./play-session.js";

const MODE = "dots";
const BOARD = "global";
const SEND_EVERY_MS = 66; // about 15 moves a second: match.send allows 30/s
const FEED_PAGE = 500;
const RANK_FALLBACK_MS = 5000; // ask for the rank anyway if the result note is late
const REPORT_FALLBACK_MS = 3000; // others report the result if the winner's tab is gone
const KEY_STEP = 16;
// Refusals that waiting (or reconnecting) cures.
const RETRYABLE = new Set([
  "RATE_LIMITED",
  "UNAVAILABLE",
  "LOCK_TIMEOUT",
  "TIMEOUT",
  "DISCONNECTED",
]);

// --- the page

const $ = (id) => document.getElementById(id);
const canvas = $("field");

const state = {
  phase: "connecting",
  sock: null,
  retryMs: 500,
  retryTimer: 0,
  lobby: null,
  game: null,
  me: null, // my dot, moved locally; the others come from the feed
  sentAt: 0,
  sentPos: null,
  moveTimer: 0,
  rank: null,
  error: null,
  names: tab.get("names") || {},
  resultsIn: new Set(tab.get("results_in") || []), // matches whose result note arrived
  finished: new Set(), // matches left behind with "Play again"
  drawQueued: false,
};

const myId = () => tab.get("player_id");
const nameOf = (id) => state.names[id] || id.slice(0, 6);

function setPhase(phase) {
  state.phase = phase;
  $("login-view").hidden = phase !== "login";
  $("home-view").hidden = phase !== "home";
  $("lobby-view").hidden = phase !== "lobby";
  $("replaced-view").hidden = phase !== "replaced";
  $("match-view").hidden = phase !== "playing" && phase !== "ended";
  $("result").hidden = phase !== "ended";
  const name = tab.get("name");
  $("who").textContent = name && phase !== "login" ? `Playing as ${name}` : "";
  changed();
}

function status(text) {
  $("status").textContent = text;
}

function showError(err) {
  const text = err instanceof ArenaError ? `${err.code}: ${err.detail}` : `CLIENT: ${err}`;
  state.error = text;
  $("error-text").textContent = text;
  $("error").hidden = false;
}

function clearError() {
  state.error = null;
  $("error").hidden = true;
}

// --- logging in and connecting

async function login(name) {
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

function connect() {
  clearTimeout(state.retryTimer);
  const token = tab.get("token");
  if (!token) {
    setPhase("login");
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
  const sock = new ArenaSocket(token, {
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
  if (event.code === 4001) {
    showError(new ArenaError("4001", "this player opened another connection (another tab?)"));
    status("");
    setPhase("replaced");
    return;
  }
  if (event.code === 4002) {
    tab.set("token", null);
    showError(new ArenaError("4002", "the session was revoked; log in again"));
    setPhase("login");
    return;
  }
  if (event.code === 4003) {
    loginAgain();
    return;
  }
  if (!wasOpen) {
    // Refused before the upgrade: an expired token, or the server is away.
    if ((await sessionAlive(tab.get("token"))) === false) {
      loginAgain();
      return;
    }
  }
  status(`Connection lost (${event.code}); reconnecting…`);
  state.retryTimer = setTimeout(connect, state.retryMs);
  state.retryMs = Math.min(state.retryMs * 2, 8000);
}

async function logout() {
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
      startMatch({ match_id: msg.match_id, players: msg.players, mode: msg.mode });
      break;
    case "match.event":
    case "match.left":
    case "match.ended":
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

function onMatchPush(push) {
  const game = state.game;
  if (!game) {
    // The socket follows a match this tab never heard start (it reloaded right then):
    // read it from its feed, learning the roster from who plays.
    const fresh = !state.finished.has(push.match_id) && state.phase !== "login";
    if (push.ev === "match.event" && fresh) {
      startMatch({ match_id: push.match_id, players: [myId()], mode: MODE, partial: true });
    }
    return;
  }
  if (push.match_id !== game.matchId) return;
  if (game.catchingUp) {
    game.held.push(push);
    return;
  }
  applyMatchPush(game, push);
  changed();
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

// --- lobby

function showLobby(lobby) {
  // A lobby reply or update that comes after match.started describes a closed lobby.
  if (state.game || !["home", "lobby", "connecting"].includes(state.phase)) return;
  state.lobby = lobby;
  tab.set("lobby_id", lobby.lobby_id);
  for (const m of lobby.members) state.names[m.player_id] = m.name;
  tab.set("names", state.names);
  $("lobby-title").textContent = `${lobby.name} (${lobby.members.length}/${lobby.capacity})`;
  const list = $("lobby-members");
  list.replaceChildren(
    ...lobby.members.map((m) => {
      const li = document.createElement("li");
      li.textContent = `${m.name}${m.player_id === myId() ? " (you)" : ""} `;
      const flag = document.createElement("span");
      flag.className = m.ready ? "ready" : "muted";
      flag.textContent = m.ready ? "ready" : "not ready";
      li.append(flag);
      return li;
    }),
  );
  const mine = lobby.members.find((m) => m.player_id === myId());
  $("ready").textContent = mine && mine.ready ? "Not ready" : "Ready";
  status(mine && mine.ready ? "Waiting for the others to be ready…" : "Press Ready to start.");
  setPhase("lobby");
}

async function quickJoin() {
  clearError();
  try {
    let reply;
    try {
      reply = await state.sock.request("lobby.quickjoin", { mode: MODE });
    } catch (err) {
      if (err.code !== "ALREADY_IN_LOBBY") throw err;
      await state.sock.request("lobby.leave"); // a seat this tab lost track of
      reply = await state.sock.request("lobby.quickjoin", { mode: MODE });
    }
    showLobby(reply.lobby);
  } catch (err) {
    showError(err);
  }
}

async function toggleReady() {
  const mine = state.lobby && state.lobby.members.find((m) => m.player_id === myId());
  try {
    const reply = await state.sock.request("lobby.ready", { ready: !(mine && mine.ready) });
    if (!reply.match_id) showLobby(reply.lobby);
  } catch (err) {
    showError(err);
  }
}

async function leaveLobby() {
  try {
    await state.sock.request("lobby.leave");
  } catch (err) {
    if (err.code !== "NOT_IN_LOBBY") showError(err);
  }
  tab.set("lobby_id", null);
  state.lobby = null;
  status("");
  setPhase("home");
}

// --- match

function startMatch(match) {
  tab.set("lobby_id", null);
  state.lobby = null;
  if (state.game && state.game.matchId === match.match_id) return;
  tab.set("match", match);
  state.game = newGame(match);
  state.me = null;
  state.sentPos = null;
  state.rank = null;
  clearError();
  if (state.sock) catchUp(state.game, state.sock);
}

// Read the feed after the last event applied, then the live events held meanwhile.
async function catchUp(game, sock) {
  game.catchingUp = true;
  setPhase(game.ended ? "ended" : "playing");
  status("Catching up…");
  // "0-0" rather than no `after`: a feed that trimmed its start then says so.
  let after = game.lastId ?? "0-0";
  try {
    for (;;) {
      const fields = { match_id: game.matchId, limit: FEED_PAGE };
      if (after !== null) fields.after = after;
      let events;
      try {
        ({ events } = await sock.request("match.feed", fields));
      } catch (err) {
        if (err.code !== "FEED_TRIMMED" || after === null) throw err;
        resetGame(game, false); // rebuild from what the feed still keeps
        after = null;
        continue;
      }
      for (const push of events) applyMatchPush(game, push);
      if (events.length < FEED_PAGE) break;
      after = events[events.length - 1].id;
    }
  } catch (err) {
    if (state.game !== game || err.code === "DISCONNECTED") return; // the reconnect reads again
    if (err.code === "NOT_IN_MATCH") {
      leaveMatch();
      showError(err);
      return;
    }
    showError(err);
    const again = () => state.sock === sock && sock.isOpen && catchUp(game, sock);
    setTimeout(again, err.retryAfterMs ?? 1000);
    return;
  }
  if (state.game !== game || state.sock !== sock) return;
  game.catchingUp = false;
  for (const push of game.held.splice(0)) applyMatchPush(game, push);
  if (!state.me) state.me = { ...game.positions[myId()] };
  status("");
  changed();
}

function leaveMatch() {
  if (state.game) state.finished.add(state.game.matchId);
  state.game = null;
  state.me = null;
  tab.set("match", null);
  setPhase("home");
}

function playable() {
  const game = state.game;
  return game && state.phase === "playing" && game.winner === null && !game.ended;
}

function moveTo(x, y) {
  if (!playable()) return;
  state.me = clampPoint(x, y);
  queueMove();
  claimIfTouching();
  changed();
}

function queueMove() {
  const wait = state.sentAt + SEND_EVERY_MS - performance.now();
  if (wait <= 0) flushMove();
  else if (!state.moveTimer) state.moveTimer = setTimeout(flushMove, wait);
}

function flushMove() {
  clearTimeout(state.moveTimer);
  state.moveTimer = 0;
  const game = state.game;
  const at = state.me;
  if (!game || !at || !state.sock) return;
  if (state.sentPos && state.sentPos.x === at.x && state.sentPos.y === at.y) return;
  // Fire-and-forget: the echo is the acknowledgement.
  const data = { x: at.x, y: at.y };
  if (state.sock.fire("match.send", { match_id: game.matchId, type: "move", data })) {
    state.sentAt = performance.now();
    state.sentPos = { ...at };
  }
}

async function claimIfTouching() {
  const game = state.game;
  const at = state.me;
  if (!playable() || game.catchingUp || game.k === null || !at || !state.sock) return;
  const k = game.k;
  if (game.claimed === k || !touches(at, targetOf(game.matchId, k))) return;
  game.claimed = k;
  flushMove();
  try {
    const data = { k, x: at.x, y: at.y, before: { ...game.scores } };
    // With a rid: a refused claim (rate) must be retried, not lost.
    await state.sock.request("match.send", { match_id: game.matchId, type: "score", data });
  } catch (err) {
    // Claim again once it may pass; a refusal that waiting does not cure is shown once.
    if (!RETRYABLE.has(err.code)) {
      if (err.code !== "MATCH_ENDED") showError(err);
      return;
    }
    if (game.claimed === k) game.claimed = -1;
    if (err.code !== "DISCONNECTED") setTimeout(claimIfTouching, err.retryAfterMs ?? 500);
  }
}

async function reportResult(game) {
  if (game.ended || game.reported || state.game !== game || !state.sock) return;
  game.reported = true;
  const scores = Object.fromEntries(game.players.map((p) => [p, game.scores[p] || 0]));
  try {
    await state.sock.request("match.result", { match_id: game.matchId, scores });
  } catch (err) {
    if (!RETRYABLE.has(err.code)) {
      if (err.code !== "MATCH_ENDED") showError(err); // MATCH_ENDED: someone reported first
      return;
    }
    game.reported = false; // after a reconnect, the catch-up reports again
    if (err.code !== "DISCONNECTED") setTimeout(() => reportResult(game), err.retryAfterMs ?? 1000);
  }
}

async function fetchRank(game) {
  clearTimeout(game.rankTimer);
  if (!state.sock || state.game !== game) return;
  try {
    const reply = await state.sock.request("lb.rank", { board: BOARD });
    state.rank = { board: BOARD, rank: reply.rank, score: reply.score };
  } catch (err) {
    if (err.code === "NOT_RANKED") state.rank = { board: BOARD, rank: null, score: null };
    else if (err.code !== "DISCONNECTED") showError(err);
  }
  changed();
}

// After anything changed: the game's consequences, then the screen.
function changed() {
  const game = state.game;
  if (game && !game.catchingUp) {
    if (game.ended && state.phase === "playing") {
      setPhase("ended");
      return;
    }
    // Only a page that read the whole game reports it (see play-game.js on trimmed feeds):
    // the winner's at once, the others' a little later in case the winner's tab is gone.
    if (game.winner !== null && !game.ended && game.complete) {
      if (game.winner === myId()) reportResult(game);
      else if (!game.reportTimer) {
        game.reportTimer = setTimeout(() => reportResult(game), REPORT_FALLBACK_MS);
      }
    }
    if (game.ended && !game.rankAsked) {
      // The rank is new once the results worker applied the result: it says so in a note.
      game.rankAsked = true;
      if (state.resultsIn.has(game.matchId)) fetchRank(game);
      else game.rankTimer = setTimeout(() => fetchRank(game), RANK_FALLBACK_MS);
    }
    claimIfTouching();
  }
  renderPanels();
  if (!state.drawQueued) {
    state.drawQueued = true;
    requestAnimationFrame(() => {
      state.drawQueued = false;
      const game = state.game;
      drawField(canvas, { game, positions: game ? positionsOf(game) : {}, myId: myId(), nameOf });
    });
  }
}

// --- the screen

function positionsOf(game) {
  const out = {};
  for (const p of game.players) out[p] = { ...game.positions[p] };
  if (state.me) out[myId()] = { ...state.me };
  return out;
}

function renderPanels() {
  const game = state.game;
  if (!game) return;
  const scores = game.ended ? game.ended.scores : game.scores;
  const rows = game.players.slice().sort((a, b) => (scores[b] || 0) - (scores[a] || 0));
  $("scores").replaceChildren(
    ...rows.map((p) => {
      const li = document.createElement("li");
      if (p === myId()) li.className = "me";
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colorOf(p);
      const left = game.left.has(p) ? " (left)" : "";
      li.append(swatch, `${nameOf(p)}${p === myId() ? " (you)" : ""}${left}: ${scores[p] || 0}`);
      return li;
    }),
  );
  if (game.ended) {
    const winner = game.winner ?? rows[0];
    $("result-title").textContent = winner === myId() ? "You win!" : `${nameOf(winner)} wins.`;
    const r = state.rank;
    $("result-rank").textContent =
      r === null
        ? `Your rank on "${BOARD}": waiting for the results…`
        : r.rank === null
          ? `You are not ranked on "${BOARD}" yet.`
          : `Your rank on "${BOARD}": #${r.rank} (best score ${r.score}).`;
  }
}

// --- input

function fieldPoint(event) {
  const box = canvas.getBoundingClientRect();
  // The field is the canvas's content box (inside its border).
  const x = ((event.clientX - box.left - canvas.clientLeft) * FIELD.w) / canvas.clientWidth;
  const y = ((event.clientY - box.top - canvas.clientTop) * FIELD.h) / canvas.clientHeight;
  return [x, y];
}

canvas.addEventListener("pointerdown", (e) => {
  canvas.focus();
  moveTo(...fieldPoint(e));
});
canvas.addEventListener("pointermove", (e) => {
  if (e.pointerType === "mouse" || e.buttons) moveTo(...fieldPoint(e));
});

const KEYS = {
  ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1],
  a: [-1, 0], d: [1, 0], w: [0, -1], s: [0, 1],
};
window.addEventListener("keydown", (e) => {
  const dir = KEYS[e.key];
  if (!dir || !playable() || e.target instanceof HTMLInputElement) return;
  e.preventDefault();
  const at = state.me || state.game.positions[myId()];
  moveTo(at.x + dir[0] * KEY_STEP, at.y + dir[1] * KEY_STEP);
});

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("name").value.trim();
  if (!name) return;
  clearError();
  $("login").disabled = true;
  try {
    await login(name);
    connect();
  } catch (err) {
    showError(err);
  } finally {
    $("login").disabled = false;
  }
});
$("quickjoin").addEventListener("click", quickJoin);
$("ready").addEventListener("click", toggleReady);
$("leave").addEventListener("click", leaveLobby);
$("logout").addEventListener("click", logout);
$("error-close").addEventListener("click", clearError);
$("reconnect").addEventListener("click", () => {
  clearError();
  connect();
});
$("again").addEventListener("click", () => {
  leaveMatch();
  state.rank = null;
  quickJoin();
});

// --- a read-only view for tests and the curious (the page never reads it)

const copy = (value) => (value === undefined ? null : JSON.parse(JSON.stringify(value)));
Object.defineProperty(window, "arenaPlay", {
  enumerable: true,
  value: Object.freeze({
    field: FIELD,
    get phase() { return state.phase; },
    get player_id() { return myId(); },
    get lobby() { return copy(state.lobby); },
    get match_id() { return state.game ? state.game.matchId : null; },
    get catching_up() { return Boolean(state.game && state.game.catchingUp); },
    get catchup() {
      const g = state.game;
      if (!g) return null;
      return { trimmed: g.trimmed, complete: g.complete, events: g.events, last_id: g.lastId };
    },
    get scores() { return state.game ? { ...state.game.scores } : {}; },
    get target() {
      const g = state.game;
      if (!g || g.k === null || g.winner !== null || g.ended) return null;
      return { ...targetOf(g.matchId, g.k) }; // field coordinates: the canvas spans FIELD
    },
    get me() { return copy(state.me); },
    get players() { return state.game ? positionsOf(state.game) : {}; },
    get winner() { return state.game ? state.game.winner : null; },
    get result() { return state.game ? copy(state.game.ended) : null; },
    get rank() { return copy(state.rank); },
    get error() { return state.error; },
  }),
});

$("name").value = tab.get("name") || "";
connect();
