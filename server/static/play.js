// Arena · Dots: a browser game on Arena's JavaScript client (/client/arena.js, JSON text
// frames; docs/protocol.md), no build step. Guest login, quick-join, ready, then a race:
// every player steers a dot, the first to touch the numbered ring scores, first to 10
// wins. The server runs the race (server/games/dots.py, docs/games.md): the page sends
// only where its player steers, shows the state the server pushes, and the server ends
// the match.
//
// A reloaded tab keeps its token (sessionStorage), reconnects, and picks the match up
// from its feed (arena.follow: the client merges live events by feed id).
//
// The modules, each importing only the ones below it:
//   play.js             this page: the player's input, the test hook, the start
//   play-connection.js  log in, hand the session to the client, resume; routes the pushes
//   play-lobby.js       quick-join, ready, leave
//   play-match.js       follow the match, steer, rank; what follows a change
//   play-screen.js      what is shown (views, status, error, scores, field)
//   play-state.js       what the page knows right now
//   play-game.js, play-field.js, play-session.js: the server's state folded, drawing,
//                       the session's storage
//   sync-replica.js     the synced state's decoder (match.state keyframes and patches)

import { connect, login, logout } from "./play-connection.js";
import { FIELD } from "./play-game.js";
import { leaveLobby, quickJoin, toggleReady } from "./play-lobby.js";
import { leaveMatch, myDot, playable, steerTo } from "./play-match.js";
import { $, canvas, clearError, positionsOf, showError } from "./play-screen.js";
import { tab } from "./play-session.js";
import { myId, state } from "./play-state.js";

const KEY_STEP = 16;

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
  steerTo(...fieldPoint(e));
});
canvas.addEventListener("pointermove", (e) => {
  if (e.pointerType === "mouse" || e.buttons) steerTo(...fieldPoint(e));
});

const KEYS = {
  ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1],
  a: [-1, 0], d: [1, 0], w: [0, -1], s: [0, 1],
};
window.addEventListener("keydown", (e) => {
  const dir = KEYS[e.key];
  if (!dir || !playable() || e.target instanceof HTMLInputElement) return;
  e.preventDefault();
  // A key steers a step on from where I steer (or from my dot, before I steered).
  const at = state.steer || myDot();
  if (at) steerTo(at.x + dir[0] * KEY_STEP, at.y + dir[1] * KEY_STEP);
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
      return { trimmed: g.trimmed, events: g.events, last_id: g.lastId, tick: g.tick };
    },
    // the synced state: the tick the replica holds, and whether it waits for a keyframe
    get synced() {
      const g = state.game;
      return g ? { tick: g.replica.tick, need_keyframe: g.needKeyframe } : null;
    },
    get authoritative() { return state.game ? state.game.authoritative : null; },
    get scores() { return state.game ? { ...state.game.scores } : {}; },
    // field coordinates (the canvas spans FIELD); null before the first state and at the end
    get target() { return state.game ? copy(state.game.target) : null; },
    get steer() { return copy(state.steer); }, // where this page steers
    get me() { return myDot(); }, // my dot, where the server last put it
    get players() { return state.game ? positionsOf(state.game) : {}; },
    get winner() { return state.game ? state.game.winner : null; },
    get result() { return state.game ? copy(state.game.ended) : null; },
    get rank() { return copy(state.rank); },
    get error() { return state.error; },
  }),
});

$("name").value = tab.get("name") || "";
connect();
