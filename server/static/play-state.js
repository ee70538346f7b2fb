// What the play page knows right now, in one object every play-*.js module reads and
// writes: the page is one player in one tab, so there is one of it. What must outlive a
// reload (token, match, lobby, names) is in the tab's storage (play-session.js) instead.

import { tab } from "./play-session.js";

export const MODE = "dots";
export const BOARD = "global";

export const state = {
  phase: "connecting",
  arena: null, // this tab's client (/client/arena.js) for its session; null between sessions
  retryMs: 500, // a first connect that failed is tried again after this (doubling)
  retryTimer: 0,
  lobby: null,
  game: null,
  steer: null, // where my player steers my dot ({x, y}); the dots come from the server
  sentSteer: null, // the last steer the server acknowledged
  steerBusy: false, // a steer is in flight
  steerTimer: 0,
  sentAt: 0,
  rank: null,
  error: null,
  names: tab.get("names") || {},
  resultsIn: new Set(tab.get("results_in") || []), // matches whose result note arrived
  finished: new Set(), // matches left behind with "Play again"
  drawQueued: false,
};

export const myId = () => tab.get("player_id");
export const nameOf = (id) => state.names[id] || id.slice(0, 6);
