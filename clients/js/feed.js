// A followed match's feed: which pushes are new, and catching up after a reconnect.
// The same rules as the Python reference client (client_sim/following.py and
// client_sim/catch_up.py), so both clients hand on a match's pushes once each, in order.
//
// A match's pushes carry feed ids that grow along its feed, so a push whose id is not
// past the last one handed on is a copy (the socket and a catch-up read overlapping) and
// is dropped. While a reconnected client catches up from the feeds, live match pushes
// are held, then released through the same check.

// Most events one match.feed reply carries (server/protocol.py FEED_PAGE_MAX): the client
// pages by it, so asking for more and stopping at a short page never stops too early.
export const FEED_PAGE_MAX = 500;

// Ended matches whose last id is kept, to drop late copies.
export const FINISHED_KEPT = 200;

// Tries of one catch-up read that a transient refusal (Redis away, a rate limit, no
// reply) may take before the match is given up.
export const CATCH_UP_TRIES = 5;

const FEED_ID = /^(\d+)(?:-(\d+))?$/;

// Feed ids (`<ms>-<n>`, each part up to 2^64 - 1) compare as two integers: BigInt, as a
// part may be past what a Number holds exactly. Negative: a before b.
export function compareFeedIds(a, b) {
  const [am, as] = feedOrder(a);
  const [bm, bs] = feedOrder(b);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

function feedOrder(entryId) {
  const parts = FEED_ID.exec(entryId);
  if (parts === null) throw new TypeError(`not a feed id: ${entryId}`);
  return [BigInt(parts[1]), BigInt(parts[2] ?? 0)];
}

// The matches a client follows, and the last feed id it handed on for each.
export class MatchFollowing {
  constructor() {
    this.last = new Map(); // followed match -> last id handed on (null: none yet)
    this._finished = new Map(); // ended or unfollowed match -> its last id
    this._held = null; // match -> pushes held while it is caught up
    // Matches whose first read (nothing seen yet) starts at the newest synced-state
    // keyframe (match.feed keyframe: true) rather than the feed's oldest event.
    this.keyframe = new Set();
  }

  has(matchId) {
    return this.last.has(matchId);
  }

  matches() {
    return [...this.last.keys()];
  }

  // Follow a match (from `after`, when the caller has seen the feed up to it; with
  // `keyframe`, a first read from nothing starts at the newest keyframe).
  start(matchId, after = null, { keyframe = false } = {}) {
    if (!this.last.has(matchId)) this.last.set(matchId, after);
    else if (after !== null) this.last.set(matchId, after);
    if (keyframe) this.keyframe.add(matchId);
  }

  // Whether the match is followed, or ended lately: a match.started for it is a copy
  // (a node re-tells its players after its pub/sub came back).
  knows(matchId) {
    return this.last.has(matchId) || this._finished.has(matchId);
  }

  // Whether a match push is one not handed on yet; if so, it becomes the last.
  isNew(matchId, push) {
    const entryId = push.id;
    if (typeof entryId !== "string" || !FEED_ID.test(entryId)) return true;
    const last = this.last.has(matchId) ? this.last.get(matchId) : (this._finished.get(matchId) ?? null);
    if (last !== null && compareFeedIds(entryId, last) <= 0) return false;
    if (this._finished.has(matchId)) this._finished.set(matchId, entryId);
    else this.last.set(matchId, entryId);
    return true;
  }

  // Stop following a match, remembering where it stopped (late copies are dropped).
  finish(matchId) {
    const last = this.last.get(matchId) ?? null;
    this.last.delete(matchId);
    this.keyframe.delete(matchId);
    if (last === null) return;
    this._finished.set(matchId, last);
    while (this._finished.size > FINISHED_KEPT) {
      this._finished.delete(this._finished.keys().next().value);
    }
  }

  // Read the match again from the oldest event kept (after FEED_TRIMMED).
  fromStart(matchId) {
    this.last.set(matchId, null);
    this.keyframe.delete(matchId); // the oldest kept, as the reference client reads
  }

  // From now on, live pushes of these matches (every followed one by default) wait for
  // release(); holding anew drops what an interrupted catch-up held (the feed has it).
  hold(matchIds = this.matches()) {
    this._held = new Map(matchIds.map((matchId) => [matchId, []]));
  }

  // Hold one more match's live pushes too (a follow() while connected), keeping what
  // is held for the others.
  holdAlso(matchId) {
    if (this._held === null) this._held = new Map();
    if (!this._held.has(matchId)) this._held.set(matchId, []);
  }

  // Keep the push if its match is being caught up; true when kept.
  held(matchId, push) {
    const pushes = this._held?.get(matchId);
    if (pushes === undefined) return false;
    pushes.push(push);
    return true;
  }

  // The held pushes, in arrival order per match; holding stops.
  release() {
    const held = this._held ?? new Map();
    this._held = null;
    return [...held.values()].flat();
  }
}

function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Hand on what the match's feed holds after the last id seen, page by page.
//
// `request(op, fields)` resolves to a result or rejects with an error carrying `code`
// (and `retryAfterMs`); `handOn(push)` delivers. Transient refusals (Redis away, a rate
// limit, a slow reply) are retried with a pause while live pushes stay held; only
// NOT_IN_MATCH ends the following. CLOSED (the socket dropped) rejects: the next
// reconnect starts over. `alive()` false (a newer socket took over) stops quietly.
// Resolves to null once caught up (or stopped), else to the error that ended the
// following. `trimmed()` is told when FEED_TRIMMED sends the read back to the start.
export async function catchUp(following, matchId, request, handOn, { alive = () => true, warn = console.warn, trimmed = () => {} } = {}) {
  let failures = 0;
  while (following.has(matchId) && alive()) {
    const after = following.last.get(matchId);
    const fields = { match_id: matchId, limit: FEED_PAGE_MAX };
    if (after !== null) fields.after = after;
    else if (following.keyframe.has(matchId)) fields.keyframe = true;
    let events;
    try {
      ({ events } = await request("match.feed", fields));
    } catch (err) {
      const code = err?.code;
      if (code === "CLOSED" || code === undefined) throw err;
      if (!alive()) return null;
      if (code === "FEED_TRIMMED") {
        following.fromStart(matchId);
        trimmed();
        continue;
      }
      if (code === "TIMEOUT") {
        failures += 1;
        if (failures >= CATCH_UP_TRIES) {
          warn(`arena: cannot catch match ${matchId} up: no reply`);
          following.finish(matchId);
          return err;
        }
        continue;
      }
      if (code === "NOT_IN_MATCH" || failures >= CATCH_UP_TRIES) {
        warn(`arena: cannot catch match ${matchId} up: ${code}`);
        following.finish(matchId);
        return err;
      }
      failures += 1;
      await pause(err.retryAfterMs ?? 200 * 2 ** failures);
      continue;
    }
    if (!alive() || !following.has(matchId)) return null; // unfollowed meanwhile: no more
    for (const push of events) {
      if (following.isNew(matchId, push)) {
        handOn(push);
        if (push.ev === "match.ended") following.finish(matchId);
      }
    }
    if (events.length < FEED_PAGE_MAX) return null; // the server's page is the protocol's
  }
  return null;
}
