// What the player sees: which view is up, the status line, the error bar, the scores,
// the result and the field. It shows what the server said and knows no rules; a change
// of phase has consequences for the match, so setPhase (play-match.js) calls showPhase.

import { drawField } from "./play-field.js";
import { colorOf } from "./play-game.js";
import { ArenaError } from "/client/arena.js";
import { tab } from "./play-session.js";
import { BOARD, myId, nameOf, state } from "./play-state.js";

export const $ = (id) => document.getElementById(id);
export const canvas = $("field");

export function showPhase(phase) {
  state.phase = phase;
  $("login-view").hidden = phase !== "login";
  $("home-view").hidden = phase !== "home";
  $("lobby-view").hidden = phase !== "lobby";
  $("replaced-view").hidden = phase !== "replaced";
  $("match-view").hidden = phase !== "playing" && phase !== "ended";
  $("result").hidden = phase !== "ended";
  const name = tab.get("name");
  $("who").textContent = name && phase !== "login" ? `Playing as ${name}` : "";
}

export function status(text) {
  $("status").textContent = text;
}

export function showError(err) {
  const text = err instanceof ArenaError ? `${err.code}: ${err.message}` : `CLIENT: ${err}`;
  state.error = text;
  $("error-text").textContent = text;
  $("error").hidden = false;
}

export function clearError() {
  state.error = null;
  $("error").hidden = true;
}

// Every dot still racing, where the server last put it.
export function positionsOf(game) {
  const out = {};
  for (const [p, at] of Object.entries(game.dots)) if (!game.left.has(p)) out[p] = { ...at };
  return out;
}

// The panels at once; the field at the next frame, once however often this is called.
export function renderScreen() {
  renderPanels();
  if (!state.drawQueued) {
    state.drawQueued = true;
    requestAnimationFrame(() => {
      state.drawQueued = false;
      const game = state.game;
      const positions = game ? positionsOf(game) : {};
      drawField(canvas, { game, positions, steer: state.steer, myId: myId(), nameOf });
    });
  }
}

function renderPanels() {
  const game = state.game;
  if (!game) return;
  const failed = game.ended && game.ended.by === "error";
  const scores = game.ended && !failed ? game.ended.scores : game.scores;
  const rows = game.players.slice().sort((a, b) => (scores[b] || 0) - (scores[a] || 0));
  $("scores").replaceChildren(
    ...rows.map((p) => {
      const li = document.createElement("li");
      if (p === myId()) li.className = "me";
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colorOf(p);
      const left = game.left.has(p) ? " (left)" : "";
      li.append(swatch, `${nameOf(p)}${p === myId() ? " (you)" : ""}${left}: ${scores[p] || 0}`);
      return li;
    }),
  );
  if (game.ended) {
    const winner = game.winner ?? rows[0];
    $("result-title").textContent = failed
      ? "The match stopped: the game failed on the server. No result."
      : winner === myId()
        ? "You win!"
        : `${nameOf(winner)} wins.`;
    const r = state.rank;
    $("result-rank").textContent = failed
      ? ""
      : r === null
        ? `Your rank on "${BOARD}": waiting for the results…`
        : r.rank === null
          ? `You are not ranked on "${BOARD}" yet.`
          : `Your rank on "${BOARD}": #${r.rank} (best score ${r.score}).`;
  }
}
