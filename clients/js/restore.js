// What a new socket restores, as the Python reference client does (client_sim/client.py
// _restore): the chat rooms joined, then every followed match caught up from its feed
// (feed.js catchUp) with its live pushes held meanwhile, then the held pushes handed on
// through the same checks. One restore per socket at a time: a follow() while it runs
// joins it, and a follow() after it starts one that reads only what is to follow (rooms
// are joined again only when a socket opens). A drop of the socket ends it quietly: the
// next socket's restore reads every match still followed again, and its follow()
// promises settle then.

import { catchUp } from "./feed.js";
import { ArenaError } from "./http.js";

export class Restorer {
  // memory: the client's SessionMemory. request(op, fields), handOn(push) (delivers),
  // onPush(push) (checks, then delivers), emit(event), warn(...); socket(): the open
  // socket's epoch, else null; closing(): the client is being closed.
  constructor(memory, { request, handOn, onPush, emit, warn, socket, closing }) {
    this._memory = memory;
    this._tell = { request, handOn, onPush, emit, warn };
    this._socket = socket;
    this._closing = closing;
    this._toCatchUp = new Set(); // followed matches the running restore still reads
    this._waiting = new Map(); // match -> follow() promises waiting for its catch-up
    this._run = null; // the restore of the open socket: {epoch, reading (its match now), outcomes}
    this._runs = new Set(); // restores not finished yet (one cut by a drop may still be reading)
  }

  // A socket opened: live pushes of every followed match wait until it is caught up.
  opened() {
    this._memory.following.hold();
    this._toCatchUp = new Set(this._memory.following.matches());
    this._restore([...this._memory.rooms]);
  }

  // The client closed for good: follow() promises reject with `error`.
  closed(error) {
    const waiting = [...this._waiting.values()].flat();
    this._waiting.clear();
    for (const { reject } of waiting) reject(error);
  }

  follow(matchId, after, keyframe) {
    const following = this._memory.following;
    following.start(matchId, after, { keyframe });
    this._memory.started.add(matchId); // a match.started re-told for it is a copy
    const done = new Promise((resolve, reject) => {
      const waiting = this._waiting.get(matchId) ?? [];
      waiting.push({ resolve, reject });
      this._waiting.set(matchId, waiting);
    });
    done.catch(() => {}); // a caller that does not wait is not told of an unhandled rejection
    if (this._socket() !== null) {
      following.holdAlso(matchId);
      this._toCatchUp.add(matchId);
      this._restore([]);
    }
    return done;
  }

  // No catch-up of the match any more: nothing is told of it (no client.caughtup), its
  // read under way is forgotten, and its follow() promises reject with UNFOLLOWED.
  unfollow(matchId) {
    this._toCatchUp.delete(matchId);
    for (const run of this._runs) {
      run.outcomes.delete(matchId);
      if (run.reading === matchId) run.reading = null;
    }
    this._memory.following.finish(matchId);
    const waiting = this._waiting.get(matchId) ?? [];
    this._waiting.delete(matchId);
    const unfollowed = new ArenaError("UNFOLLOWED", `match ${matchId} was unfollowed before it was caught up`);
    for (const { reject } of waiting) reject(unfollowed);
  }

  // Join `rooms`, then catch up the matches to catch up, unless a restore runs on this
  // socket already (it reads what was added meanwhile).
  _restore(rooms) {
    const epoch = this._socket();
    if (epoch === null || this._run?.epoch === epoch) return;
    const run = { epoch, reading: null, outcomes: new Map() }; // match -> null, or the error that ended its following
    this._run = run;
    this._runs.add(run);
    const alive = () => this._socket() === epoch && !this._closing();
    const { request, handOn, onPush, emit, warn } = this._tell;
    const following = this._memory.following;
    const restore = async () => {
      for (const room of rooms) {
        try {
          await request("chat.join", { room });
        } catch {
          if (!alive()) return false;
        }
      }
      while (this._toCatchUp.size > 0 && alive()) {
        const [matchId] = this._toCatchUp;
        this._toCatchUp.delete(matchId);
        run.reading = matchId;
        const trimmed = () => emit({ ev: "client.feedtrimmed", match_id: matchId });
        const outcome = await catchUp(following, matchId, request, handOn, { alive, warn, trimmed });
        if (run.reading === matchId) run.outcomes.set(matchId, outcome); // else unfollowed meanwhile
        run.reading = null;
      }
      if (!alive()) return false;
      this._run = null;
      for (const push of following.release()) onPush(push);
      for (const [matchId, error] of run.outcomes) this._caughtUp(matchId, error);
      return true;
    };
    const cut = () => {
      // Dropped (the next socket reads again what is still followed): the matches whose
      // following ended here (match.ended read, NOT_IN_MATCH) are settled now, as no
      // restore reads them again.
      if (this._closing()) return;
      for (const [matchId, error] of run.outcomes) {
        if (!following.has(matchId)) this._caughtUp(matchId, error);
      }
    };
    const settled = (finished) => {
      this._runs.delete(run);
      if (!finished) cut();
    };
    restore().then(settled, () => settled(false)); // CLOSED: dropped, the next socket restores
  }

  // A followed match was caught up (error null) or its following ended (error).
  _caughtUp(matchId, error) {
    const waiting = this._waiting.get(matchId) ?? [];
    this._waiting.delete(matchId);
    this._tell.emit({ ev: "client.caughtup", match_id: matchId, error });
    for (const { resolve, reject } of waiting) {
      if (error === null) resolve();
      else reject(error);
    }
  }
}
