// The match as this page plays it: catching up from the feed, moving my dot, claiming
// the ring, reporting the result and asking for the rank. The rules themselves are in
// play-game.js; this is what the page does about them, and when (see `changed`).

import {
  applyMatchPush,
  clampPoint,
  newGame,
  resetGame,
  targetOf,
  touches,
} from "./play-game.js";
import { tab } from "./play-session.js";
import { clearError, renderScreen, showError, showPhase, status } from "./play-screen.js";
import { BOARD, MODE, myId, state } from "./play-state.js";

const SEND_EVERY_MS = 66; // about 15 moves a second: match.send allows 30/s
const FEED_PAGE = 500;
const RANK_FALLBACK_MS = 5000; // ask for the rank anyway if the result note is late
// Refusals that waiting (or reconnecting) cures.
const RETRYABLE = new Set([
  "RATE_LIMITED",
  "UNAVAILABLE",
  "LOCK_TIMEOUT",
  "TIMEOUT",
  "DISCONNECTED",
]);

// Here rather than in play-screen.js: a new phase can have match consequences (an ended
// game reports, asks for the rank), and the screen knows no rules.
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
    // Every page that read the whole game reports it (see play-game.js on trimmed feeds):
    // each derives the same final scores from the same feed, and the match ends once all
    // players still in it agree (the mode's consensus, docs/protocol.md section 6).
    if (game.winner !== null && !game.ended && game.complete) reportResult(game);
    if (game.ended && !game.rankAsked) {
      // The rank is new once the results worker applied the result: it says so in a note.
      game.rankAsked = true;
      if (state.resultsIn.has(game.matchId)) fetchRank(game);
      else game.rankTimer = setTimeout(() => fetchRank(game), RANK_FALLBACK_MS);
    }
    claimIfTouching();
  }
  renderScreen();
}

export function onMatchPush(push) {
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

export function startMatch(match) {
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
export async function catchUp(game, sock) {
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

export function leaveMatch() {
  if (state.game) state.finished.add(state.game.matchId);
  state.game = null;
  state.me = null;
  tab.set("match", null);
  setPhase("home");
}

export function playable() {
  const game = state.game;
  return game && state.phase === "playing" && game.winner === null && !game.ended;
}

export function moveTo(x, y) {
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
      if (err.code !== "MATCH_ENDED") showError(err); // MATCH_ENDED: decided without us
      return;
    }
    game.reported = false; // after a reconnect, the catch-up reports again
    if (err.code !== "DISCONNECTED") setTimeout(() => reportResult(game), err.retryAfterMs ?? 1000);
  }
}

export async function fetchRank(game) {
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
