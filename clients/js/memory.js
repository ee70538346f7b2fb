// What a client remembers of its session, and so which pushes are news (the same rules
// as the Python reference client, client_sim/memory.py).
//
// - lobby: the lobby as last told (a reply or lobby.updated). A lobby.updated of the same
//   lobby with a lower rev (an older copy re-sent after a server node's pub/sub gap,
//   overtaken by a live change) is not news.
// - rooms: the chat rooms joined, to join again after a reconnect.
// - following: the matches followed and the last feed id handed on for each (feed.js);
//   a match push seen already, or one held while its match is caught up, is not news now.

import { MatchFollowing } from "./feed.js";

// Pushes kept in a match's feed (each with its feed id): deduplicated against catch-up.
// match.state too (docs/protocol.md, "Synced state": keyframes and patches are kept in
// the feed), which client_sim leaves to its synced-state replica: a page whose replica
// is rebuilt from the feed needs the live patches held while it is read.
export const MATCH_PUSHES = Object.freeze(
  new Set(["match.event", "match.left", "match.presence", "match.ended", "match.resync", "match.state"]),
);

export class SessionMemory {
  constructor() {
    this.lobby = null; // newest rev as told; null: in no lobby as far as we know
    this.rooms = new Set();
    this.following = new MatchFollowing();
    // Matches whose match.started was handed on (a server-run game's first events may
    // come through another node's channel before it).
    this.started = new Set();
  }

  // A request `op` with `fields` succeeded with `result`.
  replied(op, fields, result) {
    this._remember(op, fields);
    if (op.startsWith("lobby.")) this._holdLobby(op, result.lobby);
  }

  // Whether `push` is to be handed on (remembering what it tells if so).
  isNews(push) {
    const event = push.ev;
    if (event === "lobby.updated") {
      // An older copy (re-sent after a pub/sub gap): the newer one stands.
      if (!this._holdLobby(event, push.lobby)) return false;
    } else if (event === "lobby.closed") {
      if (this.lobby !== null && this.lobby.lobby_id === push.lobby_id) this.lobby = null;
    } else if (event === "match.started") {
      const matchId = String(push.match_id);
      if (this.started.has(matchId)) return false; // told again after a node's pub/sub gap
      this.started.add(matchId);
      this.following.start(matchId);
    } else if (MATCH_PUSHES.has(event)) {
      const matchId = String(push.match_id);
      if (this.following.held(matchId, push)) return false;
      if (!this.following.isNew(matchId, push)) return false; // the feed and the socket overlapped
    }
    return true;
  }

  // `push` was handed on: a match that ended is followed no more.
  handedOn(push) {
    if (push.ev === "match.ended") this.following.finish(String(push.match_id));
  }

  // What a reconnect must restore: rooms joined, matches left.
  _remember(op, fields) {
    if (op === "chat.join") this.rooms.add(String(fields.room));
    else if (op === "chat.leave") this.rooms.delete(String(fields.room));
    else if (op === "match.leave") this.following.finish(String(fields.match_id));
  }

  // Hold `lobby` unless it is an older copy of the one held; whether it was new.
  _holdLobby(op, lobby) {
    if (op === "lobby.leave") {
      this.lobby = null;
      return true;
    }
    if (lobby === null || typeof lobby !== "object" || Array.isArray(lobby) || op === "lobby.get") {
      return true; // not about our seat
    }
    const held = this.lobby;
    if (held !== null && held.lobby_id === lobby.lobby_id && Number(lobby.rev ?? 0) < Number(held.rev ?? 0)) {
      return false;
    }
    this.lobby = lobby;
    return true;
  }
}
