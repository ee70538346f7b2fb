// The guest session over HTTP (docs/protocol.md, section 1) and where it is kept:
// the token per tab (sessionStorage, so a reload keeps it and two tabs are two
// sessions), the device id per name per browser (localStorage).

import { ArenaError, errorOf } from "./play-protocol.js";

export const tab = {
  get(key) {
    try {
      return JSON.parse(sessionStorage.getItem(`arena.play.${key}`));
    } catch {
      return null;
    }
  },
  set(key, value) {
    if (value === null || value === undefined) sessionStorage.removeItem(`arena.play.${key}`);
    else sessionStorage.setItem(`arena.play.${key}`, JSON.stringify(value));
  },
};

// The device id is the guest credential: the same name in this browser logs in as the
// same player, and two tabs with two names are two players.
function deviceIdFor(name) {
  const key = "arena.play.devices";
  let devices;
  try {
    devices = JSON.parse(localStorage.getItem(key)) || {};
  } catch {
    devices = {};
  }
  if (!devices[name]) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    devices[name] = "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(key, JSON.stringify(devices));
  }
  return devices[name];
}

// POST /v1/auth/guest; keeps the token, player id and name in the tab.
export async function guestLogin(name) {
  let resp;
  try {
    resp = await fetch("/v1/auth/guest", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ device_id: deviceIdFor(name), name }),
    });
  } catch (err) {
    throw new ArenaError("NETWORK", `cannot reach the server (${err.message})`);
  }
  const body = await resp.json().catch(() => null);
  if (!resp.ok) throw errorOf(body, new ArenaError(`HTTP_${resp.status}`, resp.statusText));
  tab.set("token", body.token);
  tab.set("player_id", body.player_id);
  tab.set("name", body.name);
  return body;
}

// Whether the server still knows the token (a socket refused before the upgrade hides
// its 401 from the browser); null when the server cannot be asked.
export async function sessionAlive(token) {
  const resp = await fetch("/v1/session", { headers: { authorization: `Bearer ${token}` } }).catch(
    () => null,
  );
  return resp ? resp.status !== 401 : null;
}

export async function revokeSession(token) {
  const headers = { authorization: `Bearer ${token}` };
  await fetch("/v1/session", { method: "DELETE", headers }).catch(() => null);
}
