// The merge of a match's feed with its live pushes, on its own (no I/O): the same cases
// as the Python client's tests/test_following.py, and what the client remembers.

import assert from "node:assert/strict";
import { test } from "node:test";

import { MatchFollowing, compareFeedIds } from "../feed.js";
import { SessionMemory } from "../memory.js";

function event(matchId, id, ev = "match.event") {
  return { ev, match_id: matchId, id };
}

test("live pushes held during a catch-up come after it, once each", () => {
  const following = new MatchFollowing();
  following.start("m");
  const handed = [];
  for (const id of ["10-0", "11-0"]) {
    assert.ok(following.isNew("m", event("m", id))); // seen before the drop
    handed.push(id);
  }
  following.hold(); // reconnected: live pushes wait
  for (const id of ["14-0", "15-0"]) assert.ok(following.held("m", event("m", id)));
  for (const id of ["12-0", "13-0", "14-0"]) {
    if (following.isNew("m", event("m", id))) handed.push(id); // the feed overlaps the live ones
  }
  for (const push of following.release()) {
    if (following.isNew("m", push)) handed.push(push.id);
  }
  assert.deepEqual(handed, ["10-0", "11-0", "12-0", "13-0", "14-0", "15-0"]);
  assert.ok(!following.held("m", event("m", "16-0"))); // holding stopped
});

test("an ended match drops late copies and is not followed", () => {
  const following = new MatchFollowing();
  following.start("m");
  following.hold();
  assert.ok(following.held("m", event("m", "3-0", "match.ended")));
  assert.ok(following.isNew("m", event("m", "3-0", "match.ended"))); // the feed had the end
  following.finish("m");
  assert.ok(!following.has("m"));
  assert.deepEqual(following.release().filter((p) => following.isNew("m", p)), []);
  assert.ok(!following.isNew("m", event("m", "2-0")));
});

test("feed ids compare as two integers, past what a Number holds", () => {
  assert.ok(compareFeedIds("9-0", "10-0") < 0); // not as strings
  assert.ok(compareFeedIds("10-2", "10-10") < 0);
  assert.equal(compareFeedIds("5-1", "5-1"), 0);
  const top = "18446744073709551615-18446744073709551615";
  assert.ok(compareFeedIds("18446744073709551615-18446744073709551614", top) < 0);
  assert.ok(compareFeedIds("9007199254740993-0", "9007199254740992-0") > 0); // 2^53 + 1 > 2^53
  assert.throws(() => compareFeedIds("-1-0", "0-0"), TypeError);
});

test("an older lobby.updated (re-sent after a node's gap) is not news; match.started once", () => {
  const memory = new SessionMemory();
  memory.replied("lobby.create", { mode: "duel" }, { lobby: { lobby_id: "L", rev: 1 } });
  assert.ok(memory.isNews({ ev: "lobby.updated", lobby: { lobby_id: "L", rev: 3 } }));
  assert.ok(!memory.isNews({ ev: "lobby.updated", lobby: { lobby_id: "L", rev: 2 } }));
  assert.equal(memory.lobby.rev, 3);
  assert.ok(memory.isNews({ ev: "lobby.closed", lobby_id: "L" }));
  assert.equal(memory.lobby, null);

  assert.ok(memory.isNews({ ev: "match.started", match_id: "m" }));
  assert.ok(!memory.isNews({ ev: "match.started", match_id: "m" })); // told again: a copy
  assert.deepEqual(memory.following.matches(), ["m"]);
  assert.ok(memory.isNews(event("m", "7-0", "match.state")));
  assert.ok(!memory.isNews(event("m", "7-0", "match.state"))); // synced state is in the feed too
  memory.replied("match.leave", { match_id: "m" }, {});
  assert.deepEqual(memory.following.matches(), []);
});
