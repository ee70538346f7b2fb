// The Top 10 panel: which board is shown (the viewer's choice, kept in localStorage),
// what its period is, and its top entries. Scores are pushed as players submit them
// and the page is re-read now and then; a fresh push is laid over an older cached read.

import { $, el, number, serverNow } from "./dashboard-page.js";
import { request } from "./dashboard-session.js";

const TOP_SIZE = 10;
// A top page may be served from a cache up to about 2 s old: a pushed score younger
// than this is laid over a re-read page that does not show it yet, so rows never flicker.
const PUSH_OVER_CACHE_MS = 3000;
const BOARD_KEY = "arena.dashboard.board";

const shown = {
  boards: [],
  boardId: null,
  top: [],
  recentScores: [], // watch.score pushes for the chosen board, with the time they came
};

function chosenBoard() {
  return shown.boards.find((b) => b.id === shown.boardId) || null;
}

export function setBoards(boards) {
  shown.boards = boards;
  let saved = null;
  try {
    saved = localStorage.getItem(BOARD_KEY);
  } catch (_) {
    // storage off (private window): the default board will do
  }
  const ids = boards.map((b) => b.id);
  const pick = [shown.boardId, saved, "global", ids[0]].find((id) => id && ids.includes(id));
  const select = $("board-select");
  select.replaceChildren(...boards.map((b) => new Option(b.id, b.id)));
  select.value = pick || "";
  if (pick !== shown.boardId) {
    shown.boardId = pick || null;
    shown.top = [];
    shown.recentScores = [];
  }
  $("board-period").textContent = describeBoard(chosenBoard());
}

// The viewer picked another board in the select.
export function chooseBoard(boardId) {
  shown.boardId = boardId;
  shown.top = [];
  shown.recentScores = [];
  try {
    localStorage.setItem(BOARD_KEY, shown.boardId);
  } catch (_) {
    // storage off: the choice lasts for this page only
  }
  $("board-period").textContent = describeBoard(chosenBoard());
  delete $("top-list").dataset.board;
  renderTop(null);
  refreshTop();
}

function describeBoard(board) {
  if (!board) return "";
  const when = {
    alltime: "All time",
    daily: `Today, ${periodId(board)} UTC`,
    weekly: `This week, ${periodId(board)}`,
    monthly: `This month, ${periodId(board)}`,
  }[board.period] || board.period;
  const rule = { best: "best score", latest: "latest score", incr: "total" }[board.operator] || board.operator;
  return `${when} · ${rule}, ${board.order === "asc" ? "lower" : "higher"} wins`;
}

// The id of a periodic board's current period, as the server names it (UTC).
function periodId(board, now = new Date(serverNow())) {
  if (board.current) return board.current;
  const y = now.getUTCFullYear();
  const m = String(now.getUTCMonth() + 1).padStart(2, "0");
  const d = String(now.getUTCDate()).padStart(2, "0");
  if (board.period === "daily") return `${y}-${m}-${d}`;
  if (board.period === "monthly") return `${y}-${m}`;
  if (board.period === "weekly") {
    // ISO week: the week holding this week's Thursday, numbered in that Thursday's year.
    const t = new Date(Date.UTC(y, now.getUTCMonth(), now.getUTCDate()));
    t.setUTCDate(t.getUTCDate() + 4 - (t.getUTCDay() || 7));
    const week = Math.ceil(((t - Date.UTC(t.getUTCFullYear(), 0, 1)) / 86400000 + 1) / 7);
    return `${t.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
  }
  return null;
}

function isCurrentPeriod(board, period) {
  // An all-time board has one period, whatever the server calls it.
  return board.period === "alltime" || period === periodId(board);
}

export function onScore(push) {
  const board = chosenBoard();
  if (!board || push.board !== board.id || !isCurrentPeriod(board, push.period)) return;
  shown.recentScores.push({ ...push, at: Date.now() });
  shown.top = withScore(shown.top, push);
  renderTop(push.player_id);
}

function withScore(entries, push) {
  const rest = entries.filter((e) => e.player_id !== push.player_id);
  const entry = { rank: push.rank, player_id: push.player_id, name: push.name, score: push.score };
  rest.splice(Math.min(push.rank - 1, rest.length), 0, entry);
  return rest.slice(0, TOP_SIZE).map((e, i) => ({ ...e, rank: i + 1 }));
}

export async function refreshTop() {
  const board = chosenBoard();
  if (!board) {
    renderTop(null);
    return;
  }
  let reply;
  try {
    reply = await request("lb.top", { board: board.id, limit: TOP_SIZE });
  } catch (err) {
    console.warn("dashboard:", err.message);
    return;
  }
  if (shown.boardId !== board.id) return; // the choice changed meanwhile
  const now = Date.now();
  shown.recentScores = shown.recentScores.filter((s) => now - s.at < PUSH_OVER_CACHE_MS);
  let entries = reply.entries;
  for (const s of shown.recentScores) {
    if (!entries.some((e) => e.player_id === s.player_id && e.score === s.score)) {
      entries = withScore(entries, s);
    }
  }
  shown.top = entries;
  renderTop(null);
  $("top-list").dataset.board = board.id; // which board the rows are read from (tests wait on it)
}

export function renderTop(freshId) {
  const rows = shown.top.map((e) => {
    const li = el("li", "row", null, { "data-player-id": e.player_id, "data-testid": "top-row" });
    if (e.player_id === freshId) li.classList.add("fresh");
    li.append(
      el("span", `rank${e.rank <= 3 ? " podium" : ""}`, String(e.rank)),
      el("span", "name", e.name),
      el("span", "score", number.format(e.score)),
    );
    return li;
  });
  $("top-list").replaceChildren(...rows);
  $("top-empty").hidden = rows.length > 0;
}
