// Arena over HTTP: logging in, socket tickets, and the error every refusal rejects with
// (HTTP or socket alike). docs/protocol.md, section 1.

// An error reply (or a client-side failure): `code` is stable, `message` is for people.
// Server codes are docs/protocol.md's (section 10); the client adds its own:
// CLOSED (the socket closed before the reply), TIMEOUT (no reply in time), NETWORK (an
// HTTP call that never got an answer), HTTP_ERROR (an answer that is no Arena error body),
// UNFOLLOWED (a follow() whose match was unfollowed before it was caught up).
export class ArenaError extends Error {
  constructor(code, message = "", { retryAfterMs = null, detail = null, op = null, status = null, closeCode = null } = {}) {
    super(message || code);
    this.name = "ArenaError";
    this.code = code;
    this.retryAfterMs = retryAfterMs; // where waiting helps (RATE_LIMITED): enough to wait
    this.retry_after_ms = retryAfterMs; // the same, spelled as on the wire
    this.detail = detail; // the error object as the server sent it, else null
    this.op = op; // the op that failed, for socket requests
    this.status = status; // the HTTP status, for HTTP calls
    this.closeCode = closeCode; // for CLOSED: the socket's close code, when it had one
  }

  // The error of a failure reply or an HTTP error body ({error: {code, message, ...}}).
  static fromBody(body, { op = null, status = null } = {}) {
    const error = body?.error;
    if (error === null || typeof error !== "object" || typeof error.code !== "string") {
      return new ArenaError(status === null ? "BAD_FRAME" : "HTTP_ERROR", `malformed failure${status === null ? "" : ` (HTTP ${status})`}`, { op, status });
    }
    return new ArenaError(error.code, String(error.message ?? ""), {
      retryAfterMs: typeof error.retry_after_ms === "number" ? error.retry_after_ms : null,
      detail: error,
      op,
      status,
    });
  }
}

export function trimBase(baseUrl) {
  return String(baseUrl).replace(/\/+$/, "");
}

// POST/GET `path` with a JSON body; resolves to the reply body, rejects with ArenaError.
export async function httpJson(baseUrl, method, path, { token = null, body = undefined, fetch: fetchFn = globalThis.fetch } = {}) {
  const headers = {};
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetchFn(trimBase(baseUrl) + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ArenaError("NETWORK", `${method} ${path}: ${err?.message ?? err}`);
  }
  let reply = null;
  try {
    reply = await resp.json();
  } catch {
    // not JSON: a proxy's page, say
  }
  if (!resp.ok) throw ArenaError.fromBody(reply, { status: resp.status });
  if (reply === null) throw new ArenaError("HTTP_ERROR", `${method} ${path}: the reply is not JSON`, { status: resp.status });
  return reply;
}

// A random device id ("dev-" and 32 hex digits), for a device's first login. Not a
// secret (the device_secret is): Node 18 without Web Crypto falls back to Math.random.
export function newDeviceId() {
  const bytes = new Uint8Array(16);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256); // Node 18

  return "dev-" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// POST /v1/auth/guest. Resolves to the reply body as is ({token, player_id, name,
// expires_in, device_secret?}) with the device_id it logged in with (generated when not
// given). Keep device_id and device_secret (e.g. localStorage) and send both on every
// later login of the device; the client never stores them.
export async function guestLogin(baseUrl, { name, device_id = undefined, device_secret = undefined, fetch = undefined } = {}) {
  const deviceId = device_id ?? newDeviceId();
  const body = { device_id: deviceId, name };
  if (device_secret !== undefined && device_secret !== null) body.device_secret = device_secret;
  const reply = await httpJson(baseUrl, "POST", "/v1/auth/guest", { body, fetch });
  return { ...reply, device_id: deviceId };
}

// POST /v1/auth/spectator: a read-only session (a dashboard's). Resolves to
// {token, expires_in, role: "spectator"}.
export function spectatorLogin(baseUrl, { fetch = undefined } = {}) {
  return httpJson(baseUrl, "POST", "/v1/auth/spectator", { body: {}, fetch });
}

// POST /v1/ws/ticket: a single-use ticket that opens one socket as the session within
// 30 s, so the token never sits in a URL. Resolves to the ticket string.
export async function socketTicket(baseUrl, token, { fetch = undefined } = {}) {
  const reply = await httpJson(baseUrl, "POST", "/v1/ws/ticket", { token, fetch });
  return reply.ticket;
}

// The socket's URL: ws(s):// for http(s)://, and a page-relative base ("" or "/") made
// absolute from the page's location.
export function socketUrl(baseUrl, query) {
  let base = trimBase(baseUrl);
  if (!/^[a-z]+:\/\//i.test(base) && globalThis.location !== undefined) {
    base = globalThis.location.origin + (base.startsWith("/") ? base : base && "/" + base);
  }
  base = base.replace(/^http/i, "ws");
  const params = new URLSearchParams(query);
  return `${base}/v1/ws?${params}`;
}
