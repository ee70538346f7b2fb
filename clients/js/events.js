// Where a client's pushes and its own events go: listeners by event name, and promises
// waiting for the next one. Arena (arena.js) extends it.

import { ArenaError } from "./http.js";

export class PushEvents {
  constructor(defaultTimeoutMs) {
    this._listeners = new Map(); // event -> Set of functions
    this._waiters = new Set(); // nextPush() promises
    this._defaultTimeoutMs = defaultTimeoutMs;
    this._warn = (...args) => console.warn(...args);
  }

  // --- pushes and the client's own events ------------------------------------------

  // Call fn(push) for every push of `event` ("*": every push and client event); returns
  // a function that stops it. A listener that throws is reported, the rest still run.
  on(event, fn) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(fn);
    return () => this.off(event, fn);
  }

  off(event, fn) {
    this._listeners.get(event)?.delete(fn);
  }

  // The next push of `event` from now on (no timeout).
  once(event) {
    return this.nextPush(event, { timeoutMs: null });
  }

  // The next push of `event` from now on that `filter` accepts; rejects with TIMEOUT
  // after timeoutMs (null: never), and with CLOSED when the client closes for good.
  // Start waiting before doing what makes it come: pushes are not queued.
  nextPush(event, { timeoutMs = this._defaultTimeoutMs, filter = null } = {}) {
    return new Promise((resolve, reject) => {
      const closed = this._closedError(event);
      if (closed !== null) {
        reject(closed);
        return;
      }
      const waiter = { ev: event, filter };
      const timer = timeoutMs === null ? null : setTimeout(() => waiter.fail(new ArenaError("TIMEOUT", `no ${event} within ${timeoutMs} ms`)), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this._waiters.delete(waiter);
      };
      waiter.take = (push) => {
        done();
        resolve(push);
      };
      waiter.fail = (err) => {
        done();
        reject(err);
      };
      this._waiters.add(waiter);
    });
  }

  // Whether nextPush(event) can ever resolve: an ArenaError when not (the client is
  // closed for good), else null.
  _closedError(event) {
    return null;
  }

  // Reject every waiter but those of the client's own events (a closed client).
  _failWaiters(err) {
    for (const waiter of [...this._waiters]) {
      if (!waiter.ev.startsWith("client.")) waiter.fail(err);
    }
  }

  _emit(event) {
    this._handOn(event);
  }

  _handOn(push) {
    const ev = push.ev;
    for (const fn of [...(this._listeners.get(ev) ?? []), ...(this._listeners.get("*") ?? [])]) {
      try {
        fn(push);
      } catch (err) {
        this._warn(`arena: a listener for ${ev} failed`, err);
      }
    }
    for (const waiter of [...this._waiters]) {
      if (waiter.ev !== ev && waiter.ev !== "*") continue;
      let wanted = true;
      if (waiter.filter !== null) {
        try {
          wanted = Boolean(waiter.filter(push));
        } catch (err) {
          waiter.fail(err);
          continue;
        }
      }
      if (wanted) waiter.take(push);
    }
  }
}
