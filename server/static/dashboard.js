// Arena's live dashboard: one read-only spectator socket, JSON text frames (docs/protocol.md).
//
// On open: `watch` (pushes from now on), then a snapshot with the read ops; pushes are
// applied as they come. Some things have no push (a player leaving a match, the stats),
// and pushes are best effort, so reads run again on timers and correct the picture.
"use strict";

(() => {
  const STATS_EVERY_MS = 2000;
  const TOP_EVERY_MS = 5000;
  const LISTS_EVERY_MS = 10000;
  const CLOCK_EVERY_MS = 1000;
  const REQUEST_TIMEOUT_MS = 10000;
  const TOP_SIZE = 10;
  const LIST_LIMIT = 50; // lobby.list allows at most 50
  const FEED_SIZE = 30;
  // A top page may be served from a cache up to about 2 s old: a pushed score younger
  // than this is laid over a re-read page that does not show it yet, so rows never flicker.
  const PUSH_OVER_CACHE_MS = 3000;
  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  const BOARD_KEY = "arena.dashboard.board";

  const $ = (id) => document.getElementById(id);
  const number = new Intl.NumberFormat();

  // A list kept by pushes and re-read now and then. A re-read replaces it, except for
  // the ids pushed after the read was sent: their push is newer than the read.
  class LiveList {
    constructor() {
      this.items = new Map();
      this.pushedAt = new Map();
    }

    pushed(id, item) {
      if (item) this.items.set(id, item);
      else this.items.delete(id);
      this.pushedAt.set(id, Date.now());
    }

    replace(entries, sentAt) {
      const next = new Map(entries);
      for (const [id, at] of this.pushedAt) {
        if (at < sentAt) this.pushedAt.delete(id);
        else if (this.items.has(id)) next.set(id, this.items.get(id));
        else next.delete(id);
      }
      this.items = next;
    }

    values() {
      return [...this.items.values()];
    }
  }

  const state = {
    boards: [],
    boardId: null,
    top: [],
    recentScores: [], // watch.score pushes for the chosen board, with the time they came
    lobbies: new LiveList(), // lobby_id -> lobby (open, public, with a free seat)
    matches: new LiveList(), // match_id -> match (running)
    feed: [],
    clockOffsetMs: 0, // server clock minus ours, from `ping`
  };

  // ---------------------------------------------------------------- the socket

  let token = null;
  let socket = null;
  let nextRid = 1;
  const pending = new Map();
  let timers = [];
  let failures = 0;

  async function spectatorLogin() {
    const resp = await fetch("/v1/auth/spectator", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    if (!resp.ok) throw new Error(`spectator login refused: HTTP ${resp.status}`);
    return (await resp.json()).token;
  }

  async function connect() {
    setStatus("connecting", "connecting…");
    try {
      if (token === null) token = await spectatorLogin();
    } catch (err) {
      console.warn("dashboard:", err.message);
      reconnectLater();
      return;
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/v1/ws?format=json&token=${encodeURIComponent(token)}`);
    let opened = false;
    ws.onopen = () => {
      opened = true;
      socket = ws;
      start(ws);
    };
    ws.onmessage = (event) => onFrame(event.data);
    ws.onclose = (event) => {
      if (socket === ws) socket = null;
      stopTimers();
      for (const { reject, timer } of pending.values()) {
        clearTimeout(timer);
        reject(new Error("socket closed"));
      }
      pending.clear();
      // A refused token fails the upgrade (HTTP 401), so the socket never opens; 4001-4003
      // end the session. Either way, log in again; a fresh spectator login is cheap.
      if (!opened || (event.code >= 4001 && event.code <= 4003)) token = null;
      reconnectLater();
    };
  }

  function reconnectLater() {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** failures);
    const delay = Math.round(base * (0.5 + Math.random() / 2));
    failures += 1;
    setStatus("offline", `reconnecting in ${Math.ceil(delay / 1000)} s`);
    setTimeout(connect, delay);
  }

  function request(op, fields = {}) {
    return new Promise((resolve, reject) => {
      if (socket === null) {
        reject(new Error("not connected"));
        return;
      }
      const rid = nextRid++;
      const timer = setTimeout(() => {
        pending.delete(rid);
        reject(new Error(`${op}: no reply`));
      }, REQUEST_TIMEOUT_MS);
      pending.set(rid, { resolve, reject, timer, op });
      socket.send(JSON.stringify({ op, rid, ...fields }));
    });
  }

  function onFrame(data) {
    // Replies come as text to our text requests; a binary frame could only be a push
    // sent before our first request, and a spectator gets none then.
    if (typeof data !== "string") return;
    const msg = JSON.parse(data);
    if (msg.rid !== undefined) {
      const waiting = pending.get(msg.rid);
      if (!waiting) return;
      pending.delete(msg.rid);
      clearTimeout(waiting.timer);
      if (msg.ok) waiting.resolve(msg);
      else waiting.reject(new Error(`${waiting.op}: ${msg.error.code} ${msg.error.message}`));
    } else if (msg.ev) {
      onPush(msg);
    }
  }

  async function start(ws) {
    try {
      const sentAt = Date.now();
      const pong = await request("ping");
      state.clockOffsetMs = pong.server_time_ms - Math.round((sentAt + Date.now()) / 2);
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
      state.feed = [];
      for (const entry of feed.entries.slice().reverse()) addActivity(entry, false);
      renderFeed();
      await refreshTop();
    } catch (err) {
      console.warn("dashboard: snapshot failed:", err.message);
      ws.close();
      return;
    }
    failures = 0;
    setStatus("live", "live");
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
    else if (push.ev === "watch.activity") {
      addActivity(push.entry, true);
      renderFeed();
    }
  }

  // ---------------------------------------------------------------- stats

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

  // ---------------------------------------------------------------- leaderboard

  function chosenBoard() {
    return state.boards.find((b) => b.id === state.boardId) || null;
  }

  function setBoards(boards) {
    state.boards = boards;
    let saved = null;
    try {
      saved = localStorage.getItem(BOARD_KEY);
    } catch (_) {
      // storage off (private window): the default board will do
    }
    const ids = boards.map((b) => b.id);
    const pick = [state.boardId, saved, "global", ids[0]].find((id) => id && ids.includes(id));
    const select = $("board-select");
    select.replaceChildren(...boards.map((b) => new Option(b.id, b.id)));
    select.value = pick || "";
    if (pick !== state.boardId) {
      state.boardId = pick || null;
      state.top = [];
      state.recentScores = [];
    }
    $("board-period").textContent = describeBoard(chosenBoard());
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
  function periodId(board, now = new Date(Date.now() + state.clockOffsetMs)) {
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

  function onScore(push) {
    const board = chosenBoard();
    if (!board || push.board !== board.id || !isCurrentPeriod(board, push.period)) return;
    state.recentScores.push({ ...push, at: Date.now() });
    state.top = withScore(state.top, push);
    renderTop(push.player_id);
  }

  function withScore(entries, push) {
    const rest = entries.filter((e) => e.player_id !== push.player_id);
    const entry = { rank: push.rank, player_id: push.player_id, name: push.name, score: push.score };
    rest.splice(Math.min(push.rank - 1, rest.length), 0, entry);
    return rest.slice(0, TOP_SIZE).map((e, i) => ({ ...e, rank: i + 1 }));
  }

  async function refreshTop() {
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
    if (state.boardId !== board.id) return; // the choice changed meanwhile
    const now = Date.now();
    state.recentScores = state.recentScores.filter((s) => now - s.at < PUSH_OVER_CACHE_MS);
    let entries = reply.entries;
    for (const s of state.recentScores) {
      if (!entries.some((e) => e.player_id === s.player_id && e.score === s.score)) {
        entries = withScore(entries, s);
      }
    }
    state.top = entries;
    renderTop(null);
    $("top-list").dataset.board = board.id; // which board the rows are read from (tests wait on it)
  }

  function renderTop(freshId) {
    const rows = state.top.map((e) => {
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

  // ---------------------------------------------------------------- lobbies and matches

  function isListed(lobby) {
    return (lobby.status || "open") === "open" && !lobby.private && lobby.members.length < lobby.capacity;
  }

  function isListed(lobby) {
    return (lobby.status || "open") === "open" && !lobby.private && lobby.members.length < lobby.capacity;
  }

  function onLobby(lobby) {
    const listed = isListed(lobby);
    state.lobbies.pushed(lobby.lobby_id, listed ? lobby : null);
    renderLobbies(listed ? lobby.lobby_id : null);
  }

  function replaceLobbies(lobbies, sentAt) {
    state.lobbies.replace(lobbies.filter(isListed).map((l) => [l.lobby_id, l]), sentAt);
    renderLobbies(null);
  }

  function renderLobbies(freshId) {
    const lobbies = state.lobbies.values().sort(
      (a, b) => b.members.length - a.members.length || a.name.localeCompare(b.name),
    );
    const rows = lobbies.map((l) => {
      const li = el("li", "row", null, { "data-lobby-id": l.lobby_id, "data-testid": "lobby-row" });
      if (l.lobby_id === freshId) li.classList.add("fresh");
      // Two lines: the name over its mode and a bar of the seats taken; the count beside.
      const bar = el("span", "bar", null, { title: `${l.members.length} of ${l.capacity} seats taken` });
      const fill = el("span", "fill");
      fill.style.width = `${Math.round((100 * l.members.length) / l.capacity)}%`;
      bar.append(fill);
      const meta = el("span", "meta");
      meta.append(el("span", "tag", l.mode), bar);
      const about = el("span", "about");
      about.append(el("span", "name", l.name), meta);
      li.append(about, el("span", "score", `${l.members.length}/${l.capacity}`));
      return li;
    });
    $("lobby-list").replaceChildren(...rows);
    $("lobby-count").textContent = number.format(rows.length);
    $("lobby-empty").hidden = rows.length > 0;
  }

  function onMatch(match) {
    const running = match.state === "running";
    state.matches.pushed(match.match_id, running ? match : null);
    renderMatches(running ? match.match_id : null);
  }

  function replaceMatches(matches, sentAt) {
    state.matches.replace(matches.map((m) => [m.match_id, m]), sentAt);
    renderMatches(null);
  }

  function renderMatches(freshId) {
    const matches = state.matches.values().sort((a, b) => b.started_ms - a.started_ms);
    const rows = matches.map((m) => {
      const li = el("li", "row", null, { "data-match-id": m.match_id, "data-testid": "match-row" });
      if (m.match_id === freshId) li.classList.add("fresh");
      li.append(
        el("span", "name", m.mode),
        el("span", "muted mono", m.match_id.slice(0, 6)),
        el("span", "muted elapsed", elapsed(m.started_ms), { "data-started-ms": String(m.started_ms) }),
        el("span", "score", `${m.playing}/${m.players}`, { title: `${m.playing} of ${m.players} players still in` }),
      );
      return li;
    });
    $("match-list").replaceChildren(...rows);
    $("match-count").textContent = number.format(rows.length);
    $("match-empty").hidden = rows.length > 0;
  }

  // ---------------------------------------------------------------- activity

  function activityKey(entry) {
    return [entry.kind, entry.match_id, entry.player_id, entry.board, entry.ts].join("|");
  }

  function addActivity(entry, fresh) {
    if (entry.kind !== "match.result" && entry.kind !== "personal_best") return; // unknown kinds
    const key = activityKey(entry);
    if (state.feed.some((e) => e.key === key)) return; // delivered at least once: maybe twice
    state.feed.unshift({ key, entry, fresh });
    state.feed.length = Math.min(state.feed.length, FEED_SIZE);
  }

  function renderFeed() {
    const rows = state.feed.map(({ entry, fresh }, i) => {
      const li = el("li", `row ${entry.kind === "personal_best" ? "best" : "result"}`, null, {
        "data-testid": "feed-row",
        "data-kind": entry.kind,
      });
      if (fresh && i === 0) li.classList.add("fresh");
      li.append(el("span", "icon", entry.kind === "personal_best" ? "★" : "⚑"));
      const text = el("span", "what");
      if (entry.kind === "personal_best") {
        text.append(
          el("b", null, entry.name),
          ` personal best · ${number.format(entry.score)} on ${entry.board}, #${entry.rank}`,
        );
      } else {
        // "bot17 wins bots · 907, bot43 357": the winner first, then up to two more.
        const name = (id) => (entry.names || {})[id] || id.slice(0, 6);
        const ranked = Object.entries(entry.scores).sort((a, b) => b[1] - a[1]);
        const [winnerId, best] = ranked[0] || ["", 0];
        const others = ranked.slice(1, 3).map(([id, s]) => `${name(id)} ${number.format(s)}`);
        const more = ranked.length > 3 ? ` +${ranked.length - 3}` : "";
        text.append(
          el("b", null, name(winnerId)),
          ` wins ${entry.mode} · ${number.format(best)}`,
          others.length ? `, ${others.join(", ")}${more}` : "",
        );
      }
      li.append(text, el("span", "muted elapsed", ago(entry.ts), { "data-ts": String(entry.ts) }));
      return li;
    });
    for (const item of state.feed) item.fresh = false;
    $("feed-list").replaceChildren(...rows);
    $("feed-empty").hidden = rows.length > 0;
  }

  // ---------------------------------------------------------------- helpers

  function el(tag, cls, text, attrs) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== null && text !== undefined) node.textContent = text;
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    return node;
  }

  function serverNow() {
    return Date.now() + state.clockOffsetMs;
  }

  function elapsed(startedMs) {
    const s = Math.max(0, Math.floor((serverNow() - startedMs) / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  function ago(ts) {
    const s = Math.max(0, Math.floor((serverNow() - ts) / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    return `${Math.floor(s / 3600)} h ago`;
  }

  function tickClocks() {
    for (const node of document.querySelectorAll("[data-started-ms]")) {
      node.textContent = elapsed(Number(node.dataset.startedMs));
    }
    for (const node of document.querySelectorAll("[data-ts]")) node.textContent = ago(Number(node.dataset.ts));
  }

  function setStatus(kind, label) {
    const box = $("conn-status");
    box.dataset.state = kind;
    box.querySelector(".label").textContent = label;
  }

  $("board-select").addEventListener("change", (event) => {
    state.boardId = event.target.value;
    state.top = [];
    state.recentScores = [];
    try {
      localStorage.setItem(BOARD_KEY, state.boardId);
    } catch (_) {
      // storage off: the choice lasts for this page only
    }
    $("board-period").textContent = describeBoard(chosenBoard());
    delete $("top-list").dataset.board;
    renderTop(null);
    refreshTop();
  });

  setInterval(tickClocks, CLOCK_EVERY_MS);
  renderTop(null);
  renderLobbies(null);
  renderMatches(null);
  renderFeed();
  connect();
})();
