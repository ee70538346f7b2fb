// What a new socket restores, as the Python reference client does (client_sim/client.py
// _restore): the chat rooms joined, then every followed match caught up from its feed
// (feed.js catchUp) with its live pushes held meanwhile, then the held pushes handed on
// through the same checks. One restore per socket at a time: a follow() while it runs
// joins it. A drop of the socket ends it quietly: the next socket's restore starts over.

import { catchUp } from "./feed.js";

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
    this._running = null; // the socket whose restore runs, else null
    this._restoring = Promise.resolve();
  }

  // A socket opened: live pushes of every followed match wait until it is caught up.
  opened() {
    this._memory.following.hold();
    this._toCatchUp = new Set(this._memory.following.matches());
    this._running = null;
    this._restore();
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
      this._restore();
    }
    return done;
  }

  unfollow(matchId) {
    this._toCatchUp.delete(matchId);
    this._memory.following.finish(matchId);
    this._caughtUp(matchId, null);
  }

  _restore() {
    const epoch = this._socket();
    if (epoch === null || this._running === epoch) return this._restoring;
    this._running = epoch;
    const alive = () => this._socket() === epoch && !this._closing();
    const { request, handOn, onPush, emit, warn } = this._tell;
    const rooms = [...this._memory.rooms];
    const following = this._memory.following;
    const run = async () => {
      for (const room of rooms) {
        try {
          await request("chat.join", { room });
        } catch {
          if (!alive()) return;
        }
      }
      const outcomes = new Map(); // match -> null, or the error that ended its following
      while (this._toCatchUp.size > 0 && alive()) {
        const [matchId] = this._toCatchUp;
        this._toCatchUp.delete(matchId);
        const trimmed = () => emit({ ev: "client.feedtrimmed", match_id: matchId });
        outcomes.set(matchId, await catchUp(following, matchId, request, handOn, { alive, warn, trimmed }));
      }
      if (!alive()) return;
      this._running = null;
      for (const push of following.release()) onPush(push);
      for (const [matchId, error] of outcomes) this._caughtUp(matchId, error);
    };
    this._restoring = run().catch(() => {}); // CLOSED: dropped again, the next socket restores
    return this._restoring;
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
