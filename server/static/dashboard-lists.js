// The lobby and match panels: lobbies someone can still join (open, public, a free
// seat), fullest first, and running matches, newest first. Each is kept by pushes
// (watch.lobby, watch.match) and replaced now and then by a re-read.

import { $, el, elapsed, number } from "./dashboard-page.js";

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

const lobbies = new LiveList(); // lobby_id -> lobby (open, public, with a free seat)
const matches = new LiveList(); // match_id -> match (running)

function isListed(lobby) {
  return (lobby.status || "open") === "open" && !lobby.private && lobby.members.length < lobby.capacity;
}

export function onLobby(lobby) {
  const listed = isListed(lobby);
  lobbies.pushed(lobby.lobby_id, listed ? lobby : null);
  renderLobbies(listed ? lobby.lobby_id : null);
}

export function replaceLobbies(read, sentAt) {
  lobbies.replace(read.filter(isListed).map((l) => [l.lobby_id, l]), sentAt);
  renderLobbies(null);
}

export function renderLobbies(freshId) {
  const sorted = lobbies.values().sort(
    (a, b) => b.members.length - a.members.length || a.name.localeCompare(b.name),
  );
  const rows = sorted.map((l) => {
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

export function onMatch(match) {
  const running = match.state === "running";
  matches.pushed(match.match_id, running ? match : null);
  renderMatches(running ? match.match_id : null);
}

export function replaceMatches(read, sentAt) {
  matches.replace(read.map((m) => [m.match_id, m]), sentAt);
  renderMatches(null);
}

export function renderMatches(freshId) {
  const sorted = matches.values().sort((a, b) => b.started_ms - a.started_ms);
  const rows = sorted.map((m) => {
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
