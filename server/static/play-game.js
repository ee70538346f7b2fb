// The match as the server tells it, with no I/O: the server runs Dots (server/games/dots.py)
// and pushes its whole state (`match.event {from: "server", type: "state"}`) whenever
// anything changed, so a page only keeps the latest state it read, in feed order. No rules
// here: the server moves the dots, decides who touched ring k first and ends the match.
//
// A state: {dots: {player_id: [x, y]}, target: {k, x, y} or null, scores, winner}.
// Any one state is the whole picture, so a page that could only read a trimmed feed
// (a long match outgrows ARENA_MATCH_FEED_MAX) is whole again at the first state it reads.

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
    held: [], // live pushes that arrived while catching up
    catchingUp: false,
    rankAsked: false,
    rankTimer: 0,
  };
  return resetGame(game);
}

export function resetGame(game, trimmed = false) {
  return Object.assign(game, {
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

function pointOf(at) {
  return Array.isArray(at) && Number.isFinite(at[0]) && Number.isFinite(at[1])
    ? { x: at[0], y: at[1] }
    : null;
}

function applyState(game, data) {
  const dots = data.dots && typeof data.dots === "object" ? data.dots : {};
  const scores = data.scores && typeof data.scores === "object" ? data.scores : {};
  for (const p of [...Object.keys(scores), ...Object.keys(dots)]) addPlayer(game, p);
  game.dots = {};
  for (const [p, at] of Object.entries(dots)) {
    const point = pointOf(at);
    if (point) game.dots[p] = point;
  }
  for (const p of game.players) game.scores[p] = Number.isInteger(scores[p]) ? scores[p] : 0;
  const t = data.target;
  game.target =
    t && Number.isInteger(t.k) && Number.isFinite(t.x) && Number.isFinite(t.y)
      ? { k: t.k, x: t.x, y: t.y }
      : null;
  game.winner = typeof data.winner === "string" && data.winner ? data.winner : null;
}

// Apply one match push unless it is a copy (its feed id is not past the last applied).
export function applyMatchPush(game, push) {
  if (typeof push.id === "string") {
    if (game.lastId !== null && !isAfter(push.id, game.lastId)) return;
    game.lastId = push.id;
  }
  game.events += 1;
  if (push.ev === "match.event") {
    if (push.from !== "server" || !push.data || typeof push.data !== "object") return;
    if (Number.isInteger(push.tick)) game.tick = push.tick;
    if (push.type === "state") applyState(game, push.data);
    else if (push.type === "rejected") game.rejected = String(push.data.reason ?? "");
  } else if (push.ev === "match.left") {
    game.left.add(push.player_id);
  } else if (push.ev === "match.ended") {
    // by "error": the game failed on the server; there is no result then (scores {}).
    game.ended = { scores: push.scores || {}, by: push.by, reason: push.reason ?? null };
    game.target = null;
  }
}
