// The lobby: quick-join one for this mode, show who sits there and who is ready, press
// Ready or leave. The match starts when every player is ready (match.started, then
// play-match.js takes over).

import { setPhase } from "./play-match.js";
import { $, clearError, showError, status } from "./play-screen.js";
import { tab } from "./play-session.js";
import { MODE, myId, state } from "./play-state.js";

export function showLobby(lobby) {
  // A lobby reply or update that comes after match.started describes a closed lobby.
  if (state.game || !["home", "lobby", "connecting"].includes(state.phase)) return;
  // An older state of the shown lobby (re-sent after a server's pub/sub gap) came late.
  const shown = state.lobby;
  if (shown && shown.lobby_id === lobby.lobby_id && lobby.rev < shown.rev) return;
  state.lobby = lobby;
  tab.set("lobby_id", lobby.lobby_id);
  for (const m of lobby.members) state.names[m.player_id] = m.name;
  tab.set("names", state.names);
  $("lobby-title").textContent = `${lobby.name} (${lobby.members.length}/${lobby.capacity})`;
  const list = $("lobby-members");
  list.replaceChildren(
    ...lobby.members.map((m) => {
      const li = document.createElement("li");
      li.textContent = `${m.name}${m.player_id === myId() ? " (you)" : ""} `;
      const flag = document.createElement("span");
      flag.className = m.ready ? "ready" : "muted";
      flag.textContent = m.ready ? "ready" : "not ready";
      li.append(flag);
      return li;
    }),
  );
  const mine = lobby.members.find((m) => m.player_id === myId());
  $("ready").textContent = mine && mine.ready ? "Not ready" : "Ready";
  status(mine && mine.ready ? "Waiting for the others to be ready…" : "Press Ready to start.");
  setPhase("lobby");
}

export async function quickJoin() {
  clearError();
  try {
    let reply;
    try {
      reply = await state.arena.request("lobby.quickjoin", { mode: MODE });
    } catch (err) {
      if (err.code !== "ALREADY_IN_LOBBY") throw err;
      await state.arena.request("lobby.leave"); // a seat this tab lost track of
      reply = await state.arena.request("lobby.quickjoin", { mode: MODE });
    }
    showLobby(reply.lobby);
  } catch (err) {
    showError(err);
  }
}

export async function toggleReady() {
  const mine = state.lobby && state.lobby.members.find((m) => m.player_id === myId());
  try {
    const reply = await state.arena.request("lobby.ready", { ready: !(mine && mine.ready) });
    if (!reply.match_id) showLobby(reply.lobby);
  } catch (err) {
    showError(err);
  }
}

export async function leaveLobby() {
  try {
    await state.arena.request("lobby.leave");
  } catch (err) {
    if (err.code !== "NOT_IN_LOBBY") showError(err);
  }
  tab.set("lobby_id", null);
  state.lobby = null;
  status("");
  setPhase("home");
}
