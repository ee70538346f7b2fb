// The match as the server tells it, with no I/O: the server runs Dots (server/games/dots.py)
// and its state is synced (issue 16): `match.state` pushes carry a keyframe (the whole
// state) or a patch on top of the last frame this player got, and a Replica
// (sync-replica.js) folds them. The page draws what the replica holds. No rules here: the
// server moves the dots, decides who touched ring k first and ends the match.
//
// The replica's state: {dots: {player_id: {x, y, goal_x, goal_y}}, target: {k, x, y},
// scores, players, winner, over, ...}. A patch that does not follow on from what the
// replica holds (a reload that read a trimmed feed, a missed push) sets `needKeyframe`:
// the page asks for one (`match.sync`, play-match.js) and is whole again when it comes.

import { NeedKeyframe, Replica } from "./sync-replica.js";

export const FIELD = Object.freeze({ w: 640, h: 400 }); // as server/games/dots.py
export const TARGET_R = 24;
export const DOT_R = 10;

function fnv1a(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function colorOf(playerId) {
  return `hsl(${fnv1a(playerId) % 360} 65% 48%)`;
}

export function clampPoint(x, y) {
  return {
    x: Math.round(Math.min(FIELD.w, Math.max(0, x))),
    y: Math.round(Math.min(FIELD.h, Math.max(0, y))),
  };
}

// Feed ids are "<ms>-<seq>": two integers, compared in turn.
function isAfter(a, b) {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am > bm || (am === bm && as > bs);
}

export function newGame(match) {
  const game = {
    matchId: match.match_id,
    players: match.players.slice(),
    authoritative: match.authoritative !== false,
    catchingUp: false, // the client reads the feed for this page (arena.follow)
    rankAsked: false,
    rankTimer: 0,
  };
  return resetGame(game);
}

export function resetGame(game, trimmed = false) {
  return Object.assign(game, {
    replica: new Replica(),
    needKeyframe: false, // a patch did not follow on: the page asks for a keyframe
    syncAskedAt: 0,
    dots: {}, // player_id -> {x, y}, as the server last said
    target: null, // {k, x, y}; null before the first state and after the end
    scores: Object.fromEntries(game.players.map((p) => [p, 0])),
    winner: null,
    left: new Set(),
    lastId: null,
    tick: null,
    ended: null,
    rejected: null, // why the server refused this page's last refused input
    events: 0,
    trimmed,
  });
}

function addPlayer(game, playerId) {
  if (game.players.includes(playerId)) return;
  game.players.push(playerId);
  if (!(playerId in game.scores)) game.scores[playerId] = 0;
}

// What the page draws, from the replica's state.
function showState(game, race) {
  const dots = race.dots && typeof race.dots === "object" ? race.dots : {};
  const scores = race.scores && typeof race.scores === "object" ? race.scores : {};
  const players = Array.isArray(race.players) ? race.players : [];
  for (const p of [...players, ...Object.keys(scores), ...Object.keys(dots)]) addPlayer(game, p);
  game.dots = {};
  for (const [p, dot] of Object.entries(dots)) {
    if (dot && Number.isFinite(dot.x) && Number.isFinite(dot.y)) {
      game.dots[p] = { x: dot.x, y: dot.y };
    }
  }
  for (const p of game.players) game.scores[p] = Number.isInteger(scores[p]) ? scores[p] : 0;
  const t = race.target;
  const ring = t && Number.isInteger(t.k) && Number.isFinite(t.x) && Number.isFinite(t.y);
  // No ring once the race is over: the page draws none and the test hook reads null.
  game.target = ring && !race.over && !game.ended ? { k: t.k, x: t.x, y: t.y } : null;
  game.winner = typeof race.winner === "string" && race.winner ? race.winner : null;
}

function applyState(game, push) {
  try {
    if (push.full !== undefined) game.replica.keyframe(push.tick, push.full, push.schema);
    else game.replica.apply(push.tick, push.base, push.patch);
  } catch (err) {
    if (!(err instanceof NeedKeyframe)) throw err;
    game.needKeyframe = true;
    return;
  }
  game.needKeyframe = false;
  game.syncAskedAt = 0;
  if (game.replica.state) showState(game, game.replica.state);
}

// Apply one match push unless it is a copy (its feed id is not past the last applied).
export function applyMatchPush(game, push) {
  if (typeof push.id === "string") {
    if (game.lastId !== null && !isAfter(push.id, game.lastId)) return;
    game.lastId = push.id;
  }
  game.events += 1;
  if (Number.isInteger(push.tick)) game.tick = push.tick;
  if (push.ev === "match.state") {
    applyState(game, push);
  } else if (push.ev === "match.event") {
    if (push.from !== "server" || !push.data || typeof push.data !== "object") return;
    if (push.type === "rejected") game.rejected = String(push.data.reason ?? "");
  } else if (push.ev === "match.left") {
    game.left.add(push.player_id);
  } else if (push.ev === "match.ended") {
    // by "error": the game failed on the server; there is no result then (scores {}).
    game.ended = { scores: push.scores || {}, by: push.by, reason: push.reason ?? null };
    game.target = null;
  }
}
