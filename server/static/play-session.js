// The guest session (logged in by the client, /client/arena.js; docs/protocol.md,
// section 1) and where it is kept: the token per tab (sessionStorage, so a reload keeps
// it and two tabs are two sessions), the device id per name and each device's secret per
// browser (localStorage): the client never stores them.

import { guestLogin as arenaGuestLogin } from "/client/arena.js";

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

const browser = {
  get(key) {
    try {
      return JSON.parse(localStorage.getItem(`arena.play.${key}`)) || {};
    } catch {
      return {};
    }
  },
  set(key, value) {
    localStorage.setItem(`arena.play.${key}`, JSON.stringify(value));
  },
};

// The device id names the guest, and the device's secret (issued on its first login)
// proves it: the same name in this browser logs in as the same player, and two tabs with
// two names are two players.
function deviceIdFor(name, fresh = false) {
  const devices = browser.get("devices");
  if (!devices[name] || fresh) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    devices[name] = "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    browser.set("devices", devices);
  }
  return devices[name];
}

function keepSecret(deviceId, secret) {
  const secrets = browser.get("secrets");
  secrets[deviceId] = secret;
  browser.set("secrets", secrets);
}

async function postLogin(deviceId, name) {
  const secret = browser.get("secrets")[deviceId];
  const login = { name, device_id: deviceId, device_secret: secret };
  const body = await arenaGuestLogin(location.origin, login);
  if (body.device_secret) keepSecret(deviceId, body.device_secret);
  return body;
}

// POST /v1/auth/guest; keeps the token, player id and name in the tab. A device this
// browser holds no valid secret for (BAD_CREDENTIALS) is given up for a new one: a new
// player under the same name.
export async function guestLogin(name) {
  let body;
  try {
    body = await postLogin(deviceIdFor(name), name);
  } catch (err) {
    if (err.code !== "BAD_CREDENTIALS") throw err;
    body = await postLogin(deviceIdFor(name, true), name);
  }
  tab.set("token", body.token);
  tab.set("player_id", body.player_id);
  tab.set("name", body.name);
  return body;
}

export async function revokeSession(token) {
  const headers = { authorization: `Bearer ${token}` };
  await fetch("/v1/session", { method: "DELETE", headers }).catch(() => null);
}
