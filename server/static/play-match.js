// The match as this page plays it: following it through the client (caught up from the
// feed), steering my dot, asking for the rank at the end. The server runs the race
// (server/games/dots.py): the page sends where its player steers (`match.input {type:
// "steer"}`) and shows the synced state the server pushes (play-game.js folds it into a
// replica; when a patch does not follow on, `match.sync` asks for a keyframe). What
// follows a change is in `changed`.

import { ArenaError } from "/client/arena.js";
import { applyMatchPush, clampPoint, newGame, resetGame } from "./play-game.js";
import { tab } from "./play-session.js";
import { clearError, renderScreen, showError, showPhase, status } from "./play-screen.js";
import { BOARD, MODE, myId, state } from "./play-state.js";

// At most 20 steers a second (match.input allows a burst of 60, then 30/s), and one in
// flight at a time: a slow link sends fewer, always the latest.
const STEER_EVERY_MS = 50;
const RANK_FALLBACK_MS = 5000; // ask for the rank anyway if the result note is late
const SYNC_AGAIN_MS = 1000; // a keyframe asked for and not come: ask again after this
// Refusals that waiting (or reconnecting) cures.
const RETRYABLE = new Set([
  "RATE_LIMITED",
  "UNAVAILABLE",
  "LOCK_TIMEOUT",
  "TIMEOUT",
  "CLOSED",
]);

// Here rather than in play-screen.js: a new phase can have match consequences (an ended
// game asks for the rank), and the screen knows no rules.
export function setPhase(phase) {
  showPhase(phase);
  changed();
}

// After anything changed: the game's consequences, then the screen.
export function changed() {
  const game = state.game;
  if (game && !game.catchingUp) {
    if (game.ended && state.phase === "playing") {
      setPhase("ended");
      return;
    }
    if (game.ended && !game.rankAsked && game.ended.by !== "error") {
      // The rank is new once the results worker applied the result: it says so in a note.
      game.rankAsked = true;
      if (state.resultsIn.has(game.matchId)) fetchRank(game);
      else game.rankTimer = setTimeout(() => fetchRank(game), RANK_FALLBACK_MS);
    }
  }
  renderScreen();
}

export function onMatchPush(push) {
  const game = state.game;
  if (!game) {
    // The socket follows a match this tab never heard start (it reloaded right then):
    // read it from its feed, learning the roster from the server's state.
    const fresh = !state.finished.has(push.match_id) && state.phase !== "login";
    if ((push.ev === "match.event" || push.ev === "match.state") && fresh) {
      startMatch({ match_id: push.match_id, players: [myId()], mode: MODE });
    }
    return;
  }
  if (push.match_id !== game.matchId) return;
  if (push.ev === "match.resync") {
    // Another server took the match over (its host died or stopped): it goes on from
    // the last state; what it pushes from here on follows on from what this page has.
    status("The match moved to another server.");
    return;
  }
  const refusedBefore = game.rejected;
  applyMatchPush(game, push);
  if (game.rejected !== refusedBefore) status(`The server refused a steer: ${game.rejected}`);
  askKeyframe(game);
  changed();
}

export function startMatch(match) {
  tab.set("lobby_id", null);
  state.lobby = null;
  if (state.game && state.game.matchId === match.match_id) return;
  tab.set("match", match);
  state.game = newGame(match);
  state.steer = null;
  state.sentSteer = null;
  state.rank = null;
  clearError();
  if (!state.game.authoritative) {
    // This page plays only server-run Dots: a relay match would have no one to run it.
    showError(new ArenaError("CLIENT", `mode ${match.mode} is not run by this server`));
  }
  if (state.arena) follow(state.game, state.arena);
}

// Until the client has read the match's feed the page shows "Catching up…" and does not
// steer.
export function waitForFeed(game) {
  game.catchingUp = true;
  setPhase(game.ended ? "ended" : "playing");
  status("Catching up…");
}

// Follow the match through the client (before its socket opens, or on it): it reads the
// feed after the last event handed on (from the last keyframe when this page has
// nothing: a reload), holding the live pushes meanwhile, and hands on both, nothing
// missing or doubled. It does so again by itself after each reconnect, and each time
// says so ("client.caughtup": caughtUp).
export function follow(game, arena) {
  waitForFeed(game);
  arena.follow(game.matchId, game.lastId, { keyframe: game.lastId === null });
}

// "client.caughtup": the client read the match's feed (error null), or gave it up.
export function caughtUp({ match_id: matchId, error }) {
  const game = state.game;
  const arena = state.arena;
  if (!game || game.matchId !== matchId || !arena) return;
  if (error && error.code === "NOT_IN_MATCH") {
    leaveMatch(); // not mine to read (a match from before, long gone)
    showError(error);
    return;
  }
  if (error) {
    // No reply after the client's tries (Redis away, say): follow again in a while.
    showError(error);
    setTimeout(() => state.game === game && state.arena === arena && follow(game, arena), 1000);
    return;
  }
  game.catchingUp = false;
  status("");
  resumeSteering();
}

// The feed lost what followed the last event applied (FEED_TRIMMED): the client reads it
// from the oldest kept, and the page starts from nothing (a keyframe makes it whole).
export function feedTrimmed({ match_id: matchId }) {
  if (state.game && state.game.matchId === matchId) resetGame(state.game, true);
}

// Caught up on a new socket: the server may not have stored the steer sent as the old
// one closed, so the latest goes again.
function resumeSteering() {
  const game = state.game;
  if (!game) return;
  askKeyframe(game); // a trimmed feed starts with patches on top of nothing
  state.sentSteer = null;
  queueSteer();
  changed();
}

// The replica met a patch it cannot apply: ask for a keyframe (at the match's next
// tick), once a second at most while none has come. An ended match sends no more.
function askKeyframe(game) {
  const arena = state.arena;
  if (!game.needKeyframe || game.ended || !arena || !arena.connected) return;
  const now = performance.now();
  if (game.syncAskedAt && now - game.syncAskedAt < SYNC_AGAIN_MS) return;
  game.syncAskedAt = now;
  setTimeout(() => {
    if (state.game !== game || game.syncAskedAt !== now) return; // it came, or asked since
    game.syncAskedAt = 0;
    askKeyframe(game);
  }, SYNC_AGAIN_MS);
  arena.request("match.sync", { match_id: game.matchId }).catch((err) => {
    if (!RETRYABLE.has(err.code) && !["MATCH_ENDED", "NOT_IN_MATCH"].includes(err.code)) {
      showError(err);
    }
  });
}

export function leaveMatch() {
  if (state.game) state.finished.add(state.game.matchId);
  state.game = null;
  state.steer = null;
  tab.set("match", null);
  setPhase("home");
}

export function playable() {
  const game = state.game;
  return game && state.phase === "playing" && game.winner === null && !game.ended;
}

// Where my dot is, as the server last said; null before it said.
export function myDot() {
  const game = state.game;
  return game && game.dots[myId()] ? { ...game.dots[myId()] } : null;
}

// Steer my dot towards field point (x, y): the server runs it there at its own speed.
export function steerTo(x, y) {
  if (!playable()) return;
  state.steer = clampPoint(x, y);
  queueSteer();
  renderScreen();
}

function queueSteer() {
  if (state.steerBusy || state.steerTimer) return;
  const wait = state.sentAt + STEER_EVERY_MS - performance.now();
  if (wait > 0) {
    state.steerTimer = setTimeout(() => {
      state.steerTimer = 0;
      queueSteer();
    }, wait);
    return;
  }
  sendSteer();
}

async function sendSteer() {
  const { game, arena, steer } = state;
  if (!playable() || game.catchingUp || !steer || !arena || !arena.connected) return;
  const sent = state.sentSteer;
  if (sent && sent.x === steer.x && sent.y === steer.y) return;
  state.steerBusy = true;
  state.sentAt = performance.now();
  try {
    // With a rid: acknowledged once stored, and then it is applied at a coming tick.
    const data = { x: steer.x, y: steer.y };
    await arena.request("match.input", { match_id: game.matchId, type: "steer", data });
    state.sentSteer = steer;
  } catch (err) {
    if (err.code === "RATE_LIMITED") {
      state.sentAt = performance.now() + (err.retryAfterMs ?? 500) - STEER_EVERY_MS;
    } else if (!RETRYABLE.has(err.code) && err.code !== "MATCH_ENDED") {
      showError(err); // MATCH_ENDED: the end is on its way as match.ended
      return;
    }
  } finally {
    state.steerBusy = false;
  }
  if (state.game === game && state.arena === arena) queueSteer();
}

export async function fetchRank(game) {
  clearTimeout(game.rankTimer);
  if (!state.arena || state.game !== game) return;
  try {
    const reply = await state.arena.request("lb.rank", { board: BOARD });
    state.rank = { board: BOARD, rank: reply.rank, score: reply.score };
  } catch (err) {
    if (err.code === "NOT_RANKED") state.rank = { board: BOARD, rank: null, score: null };
    else if (err.code !== "CLOSED") showError(err);
  }
  changed();
}
