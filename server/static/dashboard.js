// Arena's live dashboard: one read-only spectator session on Arena's JavaScript client
// (/client/arena.js, the one socket module; docs/protocol.md).
//
// On each socket's open: `watch` (pushes from now on), then a snapshot with the read ops;
// pushes are applied as they come. Some things have no push (a player leaving a match, the stats),
// and pushes are best effort, so reads run again on timers and correct the picture.
//
// The modules (ES modules, no build step), each importing only the ones below it:
//   dashboard.js           this page: the snapshot, the timed re-reads, the push routing, the stats
//   dashboard-board.js     the Top 10 panel and the board choice
//   dashboard-lists.js     the lobby and match panels
//   dashboard-activity.js  the activity panel
//   dashboard-session.js   the spectator session on the client: login, requests, its end
//   dashboard-page.js      elements, numbers, the connection badge, the server clock

import { FEED_SIZE, onActivity, renderFeed, replaceActivity } from "./dashboard-activity.js";
import { chooseBoard, onScore, refreshTop, renderTop, setBoards } from "./dashboard-board.js";
import {
  onLobby,
  onMatch,
  renderLobbies,
  renderMatches,
  replaceLobbies,
  replaceMatches,
} from "./dashboard-lists.js";
import { $, number, setClockOffset, tickClocks } from "./dashboard-page.js";
import { markLive, request, watchArena } from "./dashboard-session.js";

const STATS_EVERY_MS = 2000;
const TOP_EVERY_MS = 5000;
const LISTS_EVERY_MS = 10000;
const CLOCK_EVERY_MS = 1000;
const LIST_LIMIT = 50; // lobby.list allows at most 50
const SNAPSHOT_AGAIN_MS = 2000; // a snapshot that failed on an open socket: again after this

let timers = [];
let opens = 0; // sockets opened: a snapshot for an older one stops

async function start() {
  const open = ++opens;
  stopTimers();
  try {
    const sentAt = Date.now();
    const pong = await request("ping");
    setClockOffset(pong.server_time_ms - Math.round((sentAt + Date.now()) / 2));
    await request("watch");
    const snapshotAt = Date.now();
    const [boards, stats, lobbies, matches, feed] = await Promise.all([
      request("lb.boards"),
      request("stats.get"),
      request("lobby.list", { limit: LIST_LIMIT }),
      request("match.list", { limit: LIST_LIMIT }),
      request("feed.global", { limit: FEED_SIZE }),
    ]);
    setBoards(boards.boards);
    showStats(stats);
    replaceLobbies(lobbies.lobbies, snapshotAt);
    replaceMatches(matches.matches, snapshotAt);
    replaceActivity(feed.entries);
    await refreshTop();
  } catch (err) {
    // Redis busy, or the socket closing (its next open starts again): try again soon.
    console.warn("dashboard: snapshot failed:", err.message);
    setTimeout(() => open === opens && start(), SNAPSHOT_AGAIN_MS);
    return;
  }
  if (open !== opens) return;
  markLive();
  timers = [
    setInterval(refreshStats, STATS_EVERY_MS),
    setInterval(refreshTop, TOP_EVERY_MS),
    setInterval(refreshLists, LISTS_EVERY_MS),
  ];
}

function stopTimers() {
  for (const timer of timers) clearInterval(timer);
  timers = [];
}

// Timer reads: a failed one (Redis busy, socket closing) waits for the next tick.
function quietly(promise) {
  promise.catch((err) => console.warn("dashboard:", err.message));
}

async function refreshStats() {
  quietly(request("stats.get").then(showStats));
}

async function refreshLists() {
  const sentAt = Date.now();
  quietly(request("lobby.list", { limit: LIST_LIMIT }).then((r) => replaceLobbies(r.lobbies, sentAt)));
  quietly(request("match.list", { limit: LIST_LIMIT }).then((r) => replaceMatches(r.matches, sentAt)));
}

function onPush(push) {
  if (push.ev === "watch.lobby") onLobby(push.lobby);
  else if (push.ev === "watch.match") onMatch(push.match);
  else if (push.ev === "watch.score") onScore(push);
  else if (push.ev === "watch.activity") onActivity(push.entry);
}

function showStats(stats) {
  $("stat-online").textContent = number.format(stats.online);
  $("stat-nodes").textContent = number.format(stats.nodes);
  $("stat-lobbies").textContent = number.format(stats.lobbies_open);
  $("stat-matches").textContent = number.format(stats.matches_running);
  const queue = stats.queues.results;
  $("stat-queue").textContent = number.format(queue.ready);
  $("stat-queue-detail").textContent =
    `waiting · ${number.format(queue.taken)} in progress · ${number.format(queue.dead)} dead`;
  $("stat-queue-detail").classList.toggle("warn", queue.dead > 0);
}

$("board-select").addEventListener("change", (event) => chooseBoard(event.target.value));

setInterval(tickClocks, CLOCK_EVERY_MS);
renderTop(null);
renderLobbies(null);
renderMatches(null);
renderFeed();
watchArena({
  open: start,
  push: onPush,
  close: () => {
    opens += 1; // the snapshot under way (if any) is for a closed socket
    stopTimers();
  },
});
