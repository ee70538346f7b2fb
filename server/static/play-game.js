// The rules of Dots, with no I/O: a game is a fold over its match's pushes in feed order,
// so every client that applies the same pushes agrees on targets, points and the winner.
//
// Target k sits where a hash of (match id, k) puts it. A player touching it sends
// `score {k, x, y, before}`; the first `score` for the current k whose point touches the
// target is the point (later ones lost the race). `before` is the claimer's scores before
// the point: a client that could only read a trimmed feed (a long match outgrows
// ARENA_MATCH_FEED_MAX, mostly with moves) takes the scores from there. Such a game is
// `complete` again at the second point it sees (the first it saw may be a late claim
// whose winning claim was trimmed); until then its page does not report a result.

export const FIELD = Object.freeze({ w: 640, h: 400 });
export const TARGET_R = 24;
export const DOT_R = 10;
export const WIN = 10;

function fnv1a(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// Target k of a match: the same integers in every client. Kept off the bottom band,
// where the players start, and away from target k - 1 (so one touch is one point).
const targets = new Map();
export function targetOf(matchId, k) {
  const key = `${matchId}:${k}`;
  if (targets.has(key)) return targets.get(key);
  const m = TARGET_R + 8;
  const prev = k > 0 ? targetOf(matchId, k - 1) : null;
  let target;
  for (let attempt = 0; ; attempt++) {
    target = {
      k,
      x: m + (fnv1a(`${key}:${attempt}:x`) % (FIELD.w - 2 * m)),
      y: m + (fnv1a(`${key}:${attempt}:y`) % (FIELD.h - 2 * m - 40)),
    };
    if (!prev) break;
    // Integers only, so every engine decides alike (Math.hypot may round differently).
    const dx = target.x - prev.x;
    const dy = target.y - prev.y;
    if (dx * dx + dy * dy > (4 * (TARGET_R + DOT_R)) ** 2) break;
  }
  targets.set(key, target);
  return target;
}

function startOf(players, playerId) {
  const i = Math.max(0, players.indexOf(playerId));
  return { x: Math.round((FIELD.w * (i + 1)) / (players.length + 1)), y: FIELD.h - 20 };
}

export function touches(at, target) {
  const dx = at.x - target.x;
  const dy = at.y - target.y;
  return dx * dx + dy * dy <= (TARGET_R + DOT_R) ** 2;
}

export function clampPoint(x, y) {
  return {
    x: Math.round(Math.min(FIELD.w, Math.max(0, x))),
    y: Math.round(Math.min(FIELD.h, Math.max(0, y))),
  };
}

function pointOf(data) {
  if (!data || !Number.isFinite(data.x) || !Number.isFinite(data.y)) return null;
  return clampPoint(data.x, data.y);
}

// Feed ids are "<ms>-<seq>": two integers, compared in turn.
function isAfter(a, b) {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am > bm || (am === bm && as > bs);
}

export function colorOf(playerId) {
  return `hsl(${fnv1a(playerId) % 360} 65% 48%)`;
}

export function newGame(match) {
  const game = {
    matchId: match.match_id,
    players: match.players.slice(),
    partial: Boolean(match.partial), // roster learnt from the feed (match.started was missed)
    held: [], // live pushes that arrived while catching up
    catchingUp: false,
    claimed: -1, // the target this client claimed last
    reported: false,
    rankAsked: false,
    rankTimer: 0,
  };
  return resetGame(game);
}

export function resetGame(game, complete = true) {
  return Object.assign(game, {
    k: complete ? 0 : null, // null: not known yet (reading a trimmed feed)
    scores: Object.fromEntries(game.players.map((p) => [p, 0])),
    positions: Object.fromEntries(game.players.map((p) => [p, startOf(game.players, p)])),
    left: new Set(),
    lastId: null,
    winner: null,
    ended: null,
    complete,
    firstK: null,
    events: 0,
    trimmed: !complete,
  });
}

function addPlayer(game, playerId) {
  if (game.players.includes(playerId)) return;
  game.players.push(playerId);
  game.scores[playerId] = 0;
  game.positions[playerId] = startOf(game.players, playerId);
}

// Apply one match push unless it is a copy (its feed id is not past the last applied).
export function applyMatchPush(game, push) {
  if (typeof push.id === "string") {
    if (game.lastId !== null && !isAfter(push.id, game.lastId)) return;
    game.lastId = push.id;
  }
  game.events += 1;
  if (push.ev === "match.event") {
    if (game.partial && typeof push.from === "string") addPlayer(game, push.from);
    if (!game.players.includes(push.from) || !push.data || typeof push.data !== "object") return;
    if (push.type === "move") {
      const at = pointOf(push.data);
      if (at) game.positions[push.from] = at;
    } else if (push.type === "score") {
      applyClaim(game, push.from, push.data);
    }
  } else if (push.ev === "match.left") {
    game.left.add(push.player_id);
  } else if (push.ev === "match.ended") {
    // A disputed end (the players' reports agreed on nothing) has no scores.
    game.ended = { scores: push.scores || {}, by: push.by, disputed: push.disputed === true };
  }
}

function snapshotOf(game, before) {
  if (!before || typeof before !== "object") return null;
  const scores = {};
  for (const p of game.players) {
    const n = before[p] ?? 0;
    if (!Number.isInteger(n) || n < 0 || n >= WIN) return null;
    scores[p] = n;
  }
  return scores;
}

function applyClaim(game, from, data) {
  const k = data.k;
  const at = pointOf(data);
  if (!Number.isInteger(k) || k < 0 || !at || game.winner !== null) return;
  const before = game.complete ? null : snapshotOf(game, data.before);
  if (before && (game.k === null || k > game.k)) {
    // A trimmed feed: the first claim seen tells where the game stood.
    game.k = k;
    game.scores = before;
    if (game.firstK === null) game.firstK = k;
  }
  if (k !== game.k || !touches(at, targetOf(game.matchId, k))) return; // late, or a miss
  if (before && k > game.firstK) {
    // The scores after the first point seen: the claimer read them from a whole feed.
    game.scores = before;
    game.complete = true;
  }
  game.scores[from] += 1;
  game.k = k + 1;
  game.positions[from] = at;
  if (game.scores[from] >= WIN) game.winner = from;
}
