/**
 * The session handshake (docs/PROTOCOL.md, "Sessions"): the client's `hello` names the
 * key, shared key and token; the server answers `send` (start diff-copy, client as
 * sender), `result` (done: the key was cached or another client's transfer of it just
 * finished) or `error`. After a transfer the server sends `result` or `error`.
 * Version 2 adds `direction: "pull"`: the server answers `pull` and sends the cached
 * source with the diff-copy sender, the client receiving. Version 1 hellos (pushes from
 * older clients) are served as before; every reply carries the hello's version.
 * Messages are JSON control frames (see frames.ts). Runtime-agnostic.
 * @module
 */
import { FSCacheError, isFSCacheError } from "../../core/errors.ts";
import type { FrameReader } from "../diffcopy/framing.ts";
import { parseControl } from "./frames.ts";

/** The session version of a push hello (kept at 1 so older servers still accept pushes). */
export const SESSION_VERSION = 1;

/** The first session version with a `direction`: pulls are sent as version 2. */
export const PULL_SESSION_VERSION = 2;

/** The session versions a server and client here understand. */
export const SUPPORTED_SESSION_VERSIONS: readonly number[] = [1, 2];

/** Which way the tree moves: `push` (client → server, the default) or `pull` (server → client). */
export type SessionDirection = "push" | "pull";

/** Client → server, the first frame. */
export interface Hello {
  v: number;
  type: "hello";
  key: string;
  sharedKey?: string;
  token?: string;
  /** Version 2 and later; absent means `push`. */
  direction?: SessionDirection;
}

/** Server → client (version 2, pull sessions): the source exists; diff-copy follows, server as sender. */
export interface PullMessage {
  v: number;
  type: "pull";
  key: string;
  /** `dir:<hex>` checksum of the source being sent, for the client to check its copy against. */
  checksum: string;
}

/** Server → client: start the diff-copy transfer now. */
export interface SendMessage {
  v: number;
  type: "send";
}

/** Server → client: the snapshot is ready. */
export interface ResultMessage {
  v: number;
  type: "result";
  key: string;
  /** `dir:<hex>` checksum of the snapshot (SPEC §4.2). */
  checksum: string;
  /** True when this session moved nothing: the key was cached or another session filled it. */
  reused: boolean;
  entries: number;
  added: number;
  modified: number;
  deleted: number;
  filesReceived: number;
  bytesReceived: number;
}

/** Server → client: the session failed or was refused; the server closes afterwards. */
export interface ErrorMessage {
  v: number;
  type: "error";
  code: string;
  message: string;
}

/** Anything the server sends. */
export type ServerMessage = SendMessage | ResultMessage | ErrorMessage | PullMessage;

function invalid(what: string): never {
  throw new FSCacheError("ERR_PROTOCOL", `invalid session message: ${what}`);
}

function optionalString(m: Record<string, unknown>, field: string): string | undefined {
  const value = m[field];
  if (value === undefined) return undefined;
  if (typeof value !== "string") invalid(`${field} must be a string`);
  return value;
}

/**
 * Checks a client's first frame. A different version is `ERR_VERSION` (the server
 * tells the client which one it speaks); key syntax is the cache's to judge.
 *
 * @example
 * ```ts
 * const hello = parseHello(await frames.next());
 * hello.key;
 * ```
 */
export function parseHello(payload: Uint8Array | undefined): Hello {
  if (payload === undefined) throw new FSCacheError("ERR_PROTOCOL", "connection closed before the session hello");
  const m = parseControl(payload);
  if (!SUPPORTED_SESSION_VERSIONS.includes(m.v as number)) {
    throw new FSCacheError(
      "ERR_VERSION",
      `unsupported session version ${JSON.stringify(m.v)}; this server speaks versions ${SUPPORTED_SESSION_VERSIONS.join(", ")}`,
    );
  }
  const v = m.v as number;
  if (m.type !== "hello") invalid(`expected "hello", got ${JSON.stringify(m.type)}`);
  if (typeof m.key !== "string") invalid("key must be a string");
  const sharedKey = optionalString(m, "sharedKey");
  const token = optionalString(m, "token");
  const direction = optionalString(m, "direction");
  if (direction !== undefined && (v < PULL_SESSION_VERSION || (direction !== "push" && direction !== "pull"))) {
    invalid(`direction ${JSON.stringify(direction)} in a version ${v} hello`);
  }
  return {
    v,
    type: "hello",
    key: m.key,
    ...(sharedKey === undefined ? {} : { sharedKey }),
    ...(token === undefined ? {} : { token }),
    ...(direction === undefined ? {} : { direction: direction as SessionDirection }),
  };
}

const RESULT_NUMBERS = ["entries", "added", "modified", "deleted", "filesReceived", "bytesReceived"] as const;

/**
 * The server's first reply to a hello, checked. A first frame that is not a session
 * frame at all (longer than any, or cut off) means the peer speaks something else — a
 * web server, an ssh banner, a shell's output — and the error says so.
 *
 * @example
 * ```ts
 * const reply = await firstServerReply(frames); // { type: "send" }, say
 * ```
 */
export async function firstServerReply(frames: FrameReader): Promise<ServerMessage> {
  let payload: Uint8Array | undefined;
  try {
    payload = await frames.next();
  } catch (err) {
    if (!isFSCacheError(err, "ERR_PROTOCOL")) throw err;
    throw new FSCacheError(
      "ERR_PROTOCOL",
      `the server's first reply is not fscache's protocol (${err.message}): is it \`fscache serve\`, or \`fscache serve --stdio\` behind --exec?`,
      { cause: err },
    );
  }
  return parseServerMessage(payload);
}

/**
 * Checks a server frame as the client reads it.
 *
 * @example
 * ```ts
 * const reply = parseServerMessage(await frames.next());
 * if (reply.type === "send") await sendDiffCopy(channel, { fs, root });
 * ```
 */
export function parseServerMessage(payload: Uint8Array | undefined): ServerMessage {
  if (payload === undefined) throw new FSCacheError("ERR_PROTOCOL", "the server closed the session without a reply");
  const m = parseControl(payload);
  if (!SUPPORTED_SESSION_VERSIONS.includes(m.v as number)) {
    invalid(`version ${JSON.stringify(m.v)} (this client speaks ${SUPPORTED_SESSION_VERSIONS.join(", ")})`);
  }
  const v = m.v as number;
  switch (m.type) {
    case "send":
      return { v, type: "send" };
    case "pull":
      if (typeof m.key !== "string" || typeof m.checksum !== "string") invalid("pull without key or checksum");
      return { v, type: "pull", key: m.key, checksum: m.checksum };
    case "error":
      return {
        v,
        type: "error",
        code: typeof m.code === "string" ? m.code : "ERR_REMOTE",
        message: typeof m.message === "string" ? m.message : "the server reported an error",
      };
    case "result": {
      if (typeof m.key !== "string" || typeof m.checksum !== "string") invalid("result without key or checksum");
      for (const field of RESULT_NUMBERS) {
        if (!Number.isSafeInteger(m[field]) || (m[field] as number) < 0) invalid(`result.${field} is not a count`);
      }
      return { ...(m as unknown as ResultMessage), v, reused: m.reused === true };
    }
    default:
      return invalid(`unknown type ${JSON.stringify(m.type)}`);
  }
}

/**
 * The error a client raises for an `error` message.
 *
 * @example
 * ```ts
 * if (reply.type === "error") throw remoteError(reply);
 * ```
 */
export function remoteError(message: ErrorMessage): FSCacheError {
  const err = new FSCacheError(message.code as "ERR_REMOTE", `server: ${message.message}`);
  fromServer.add(err);
  return err;
}

const fromServer = new WeakSet<Error>();

/**
 * Whether `err` is one the server sent ({@linkcode remoteError}), as opposed to one of
 * this end: a server that refused a session and then exited still said why.
 *
 * @example
 * ```ts
 * if (isServerError(err)) throw err; // ERR_AUTH, ERR_LIMIT…, not "the connection closed"
 * ```
 */
export function isServerError(err: unknown): boolean {
  return err instanceof Error && fromServer.has(err);
}
