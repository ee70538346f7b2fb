// Declarations of the Arena JavaScript client (arena.js). Every op's fields and result,
// every push and error code come from arena-protocol.d.ts, generated from the server's
// own schemas (python -m server.schema).

import type { ErrorCode, OpName, PushName, Pushes, Requests, Results } from "./arena-protocol.js";

export type { CloseCode, ErrorCode, OpName, PushName, Pushes, Requests, Results } from "./arena-protocol.js";

/** Codes the client gives failures of its own: the socket closed before the reply, or
 * the client is closed (CLOSED), no reply in time (TIMEOUT), an HTTP call that got no
 * answer (NETWORK), an answer that is no Arena error body (HTTP_ERROR), a follow()
 * whose match was unfollowed before it was caught up (UNFOLLOWED). */
export type ClientErrorCode = "CLOSED" | "TIMEOUT" | "NETWORK" | "HTTP_ERROR" | "UNFOLLOWED";

/** The error object of a failure reply, as the server sent it. */
export interface ErrorDetail {
  code: string;
  message: string;
  retry_after_ms?: number;
  [field: string]: unknown;
}

export class ArenaError extends Error {
  constructor(
    code: ErrorCode | ClientErrorCode,
    message?: string,
    options?: { retryAfterMs?: number | null; detail?: ErrorDetail | null; op?: string | null; status?: number | null; closeCode?: number | null },
  );
  readonly name: "ArenaError";
  /** Stable: branch on it. */
  readonly code: ErrorCode | ClientErrorCode;
  /** Where waiting helps (RATE_LIMITED, a timed ban): waiting that long is enough. */
  readonly retryAfterMs: number | null;
  /** The same as retryAfterMs, spelled as on the wire. */
  readonly retry_after_ms: number | null;
  readonly detail: ErrorDetail | null;
  /** The op that failed (socket requests). */
  readonly op: string | null;
  /** The HTTP status (HTTP calls). */
  readonly status: number | null;
  /** CLOSED: the socket's close code, when it had one. */
  readonly closeCode: number | null;
  static fromBody(body: unknown, options?: { op?: string | null; status?: number | null }): ArenaError;
}

/** The client's own events, delivered through on() beside the server's pushes. */
export interface ClientEvents {
  "client.open": { ev: "client.open" };
  /** Every close; `final`: no reconnect follows (a final close code, a refused ticket,
   * close(), reconnect off, or reconnecting given up). */
  "client.close": {
    ev: "client.close";
    /** null when no socket closed with one (a refused ticket: see `status`; close() while reconnecting). */
    code: number | null;
    reason: string;
    final: boolean;
    /** A refused ticket's HTTP status (401, 403): the session is gone, log in again. */
    status?: number;
  };
  "client.reconnecting": { ev: "client.reconnecting"; attempt: number; delayMs: number };
  "client.reconnected": { ev: "client.reconnected"; attempt: number };
  /** A fire-and-forget request (send()) failed. */
  "client.error": { ev: "client.error"; error: ArenaError };
  /** A followed match was read from its feed and its held pushes handed on (error
   * null), or its following ended (NOT_IN_MATCH, or no reply after retries). */
  "client.caughtup": { ev: "client.caughtup"; match_id: string; error: ArenaError | null };
  /** FEED_TRIMMED: the match's feed no longer holds what followed the last id seen; it
   * is read again from its oldest event (a replica of synced state starts afresh). */
  "client.feedtrimmed": { ev: "client.feedtrimmed"; match_id: string };
}

export type EventName = PushName | keyof ClientEvents;
export type EventOf<K extends EventName> = K extends PushName ? Pushes[K] : K extends keyof ClientEvents ? ClientEvents[K] : never;
export type AnyEvent = Pushes[PushName] | ClientEvents[keyof ClientEvents];

/** Binary frames: encode a message to bytes, decode bytes to a plain object (maps as
 * objects with string keys, integers as numbers). */
export interface Codec {
  encode(message: Record<string, unknown>): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

export interface Backoff {
  /** The first pause before reconnecting (default 250), doubled each attempt... */
  initialMs?: number;
  /** ...up to this (default 5000); each pause jittered to half to all of it. */
  maxMs?: number;
  /** Then give up (default 60000): client.close with final true. */
  giveUpAfterMs?: number;
}

export interface ArenaOptions {
  /** The session token a login gave. */
  token: string;
  /** Default: JSON text frames. */
  codec?: Codec | null;
  /** Default globalThis.WebSocket; Node before 22: the ws package's. */
  WebSocket?: new (url: string) => unknown;
  /** Reconnect on the same session when the socket drops (default true). */
  reconnect?: boolean;
  backoff?: Backoff;
  /** Default 10000; null: requests never time out (the heartbeat's ping still does). */
  requestTimeoutMs?: number | null;
  /** After this long without a frame the client sends a ping; no reply within
   * heartbeatMs (or requestTimeoutMs when shorter): the link is dead, dropped and
   * reconnected (default 20000; null: off). */
  heartbeatMs?: number | null;
  /** Known already (else learnt with session.get on the first connect). */
  playerId?: string | null;
  fetch?: typeof fetch;
  warn?: (...args: unknown[]) => void;
}

export interface RequestOptions {
  /** Default the client's requestTimeoutMs; null: never; 0: at once, nothing sent. */
  timeoutMs?: number | null;
}

/** An op's arguments: fields may be left out only where none is required. */
export type RequestArgs<K extends OpName> = {} extends Requests[K]
  ? [fields?: Requests[K], options?: RequestOptions]
  : [fields: Requests[K], options?: RequestOptions];

export class Arena {
  constructor(baseUrl: string, options: ArenaOptions);
  readonly baseUrl: string;
  playerId: string | null;
  /** The close code that ended the client for good. */
  readonly closeCode: number | null;
  readonly reconnects: number;
  readonly connected: boolean;
  /** The lobby as last told (a reply or lobby.updated, newest rev); null: in none. */
  readonly lobby: Pushes["lobby.updated"]["lobby"] | null;
  /** Chat rooms joined: joined again after a reconnect. */
  readonly rooms: string[];
  /** Matches followed: caught up from their feeds after a reconnect. */
  readonly following: string[];

  /** Get a socket ticket and open the socket; rejects with ArenaError. */
  connect(): Promise<void>;
  /** Close for good; resolves once closed. */
  close(): Promise<void>;
  /** The result without rid and ok; rejects with ArenaError. While the client
   * reconnects (or its socket is closing and a reconnect follows) it waits for the new
   * socket, within its timeout. */
  request<K extends OpName>(op: K, ...args: RequestArgs<K>): Promise<Results[K]>;
  /** Fire-and-forget; false when no socket is open. A failure comes as client.error. */
  send<K extends OpName>(op: K, fields?: Requests[K]): boolean;
  /** Returns a function that stops it. "*": every push and client event. */
  on<K extends EventName>(event: K, fn: (push: EventOf<K>) => void): () => void;
  on(event: "*", fn: (push: AnyEvent) => void): () => void;
  off<K extends EventName>(event: K, fn: (push: EventOf<K>) => void): void;
  off(event: "*", fn: (push: AnyEvent) => void): void;
  /** The next one from now on, no timeout. */
  once<K extends EventName>(event: K): Promise<EventOf<K>>;
  /** The next one from now on that `filter` accepts; TIMEOUT after timeoutMs, CLOSED on a final close. */
  nextPush<K extends EventName>(event: K, options?: { timeoutMs?: number | null; filter?: (push: EventOf<K>) => boolean }): Promise<EventOf<K>>;
  nextPush(event: "*", options?: { timeoutMs?: number | null; filter?: (push: AnyEvent) => boolean }): Promise<AnyEvent>;
  /** Follow a match from `after` (null: its feed's start; with keyframe, its newest
   * synced-state keyframe): read now when connected (else once connected) and after
   * every reconnect, its live pushes held meanwhile. Resolves once caught up; rejects
   * with the ArenaError that ended the following (NOT_IN_MATCH), UNFOLLOWED, or CLOSED
   * (at once on a closed client). A catch-up cut by a drop of the socket settles only
   * after the next socket's restore has read the match again. */
  follow(matchId: string, after?: string | null, options?: { keyframe?: boolean }): Promise<void>;
  /** No more catch-up of the match; its follow() promises still waiting reject with
   * UNFOLLOWED, and no client.caughtup is told of it. */
  unfollow(matchId: string): void;
}

export interface GuestLogin {
  token: string;
  player_id: string;
  name: string;
  expires_in: number;
  /** The device id logged in with (generated when none was given): keep it. */
  device_id: string;
  /** Issued on a device's first login: keep it and send it on every later login. */
  device_secret?: string;
}

export function guestLogin(
  baseUrl: string,
  options: { name: string; device_id?: string; device_secret?: string | null; fetch?: typeof fetch },
): Promise<GuestLogin>;
export function spectatorLogin(baseUrl: string, options?: { fetch?: typeof fetch }): Promise<{ token: string; expires_in: number; role: "spectator" }>;
export function socketTicket(baseUrl: string, token: string, options?: { fetch?: typeof fetch }): Promise<string>;
export function newDeviceId(): string;

/** Close codes after which the client does not reconnect, each with words for a player. */
export const FINAL_CLOSE_CODES: Readonly<Record<1009 | 4001 | 4002 | 4003 | 4004 | 4005, string>>;
export function isFinalClose(code: number | null | undefined): boolean;
export function closeReason(code: number | null | undefined): string;
/** The most events one match.feed page holds. */
export const FEED_PAGE_MAX: number;
/** Negative when feed id a is before b. */
export function compareFeedIds(a: string, b: string): number;
export const VERSION: string;
