// The activity panel: match results and personal bests, newest first. The snapshot
// reads the global feed; watch.activity pushes add to it. A push may come twice (at
// least once delivery), so entries are kept by what they say, not by arrival.

import { $, ago, el, number } from "./dashboard-page.js";

export const FEED_SIZE = 30;

let feed = []; // {key, entry, fresh}, newest first

function activityKey(entry) {
  return [entry.kind, entry.match_id, entry.player_id, entry.board, entry.ts].join("|");
}

// The snapshot's entries (newest first, as feed.global returns them) replace the panel.
export function replaceActivity(entries) {
  feed = [];
  for (const entry of entries.slice().reverse()) addActivity(entry, false);
  renderFeed();
}

export function onActivity(entry) {
  addActivity(entry, true);
  renderFeed();
}

function addActivity(entry, fresh) {
  if (entry.kind !== "match.result" && entry.kind !== "personal_best") return; // unknown kinds
  const key = activityKey(entry);
  if (feed.some((e) => e.key === key)) return; // delivered at least once: maybe twice
  feed.unshift({ key, entry, fresh });
  feed.length = Math.min(feed.length, FEED_SIZE);
}

export function renderFeed() {
  const rows = feed.map(({ entry, fresh }, i) => {
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
  for (const item of feed) item.fresh = false;
  $("feed-list").replaceChildren(...rows);
  $("feed-empty").hidden = rows.length > 0;
}
