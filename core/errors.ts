import type { RemoteIdentifier } from "./types.ts";

/**
 * The one error class fscache throws. Callers branch on `code`; `key` and `path`
 * say what the failure is about, so a log line is enough to act on it.
 *
 * @example
 * ```ts
 * import { FSCacheError } from "./errors.ts";
 * try {
 *   await cache.syncFrom({ key: "k", transport: "nope" });
 * } catch (err) {
 *   if (err instanceof FSCacheError && err.code === "ERR_UNKNOWN_TRANSPORT") console.error(err.message);
 * }
 * ```
 */
export class FSCacheError extends Error {
  /** Machine-readable reason, e.g. `ERR_UNKNOWN_TRANSPORT`, `ENOENT`. */
  readonly code: FSCacheErrorCode;
  /** The cache key the failure concerns, when there is one. */
  readonly key?: string;
  /** The path the failure concerns, when there is one. */
  readonly path?: string;

  constructor(code: FSCacheErrorCode, message: string, details: FSCacheErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = code === "ERR_ABORTED" ? "AbortError" : "FSCacheError";
    this.code = code;
    if (details.key !== undefined) this.key = details.key;
    if (details.path !== undefined) this.path = details.path;
  }
}

/** What an {@linkcode FSCacheError} can carry besides its code and message. */
export interface FSCacheErrorDetails {
  key?: string;
  path?: string;
  cause?: unknown;
}

/** Every code fscache itself raises. File-system codes (`ENOENT`, …) pass through as strings. */
export type FSCacheErrorCode =
  | "ERR_UNKNOWN_TRANSPORT"
  | "ERR_TRANSPORT_EXISTS"
  | "ERR_TRANSPORT"
  | "ERR_INVALID_KEY"
  | "ERR_INVALID_PATH"
  | "ERR_INVALID_OPTION"
  | "ERR_CLOSED"
  | "ERR_ABORTED"
  | "ERR_NOT_IMPLEMENTED"
  | "ERR_CORRUPT"
  | "ERR_LOCKED"
  | "ERR_NOT_A_CACHE"
  | "ENOENT"
  | (string & {});

/** True when `err` is an fscache error with the given code. */
export function isFSCacheError(err: unknown, code?: FSCacheErrorCode): err is FSCacheError {
  return err instanceof FSCacheError && (code === undefined || err.code === code);
}

/** Short text of any thrown value, for wrapping causes into messages. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The string `code` of a thrown value, if it has one. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * True for a file-system error saying the path is not there: `ENOENT`, or `ENOTDIR`
 * (a parent turned into a file). Anything else (`EACCES`, `EIO`) is a real failure.
 *
 * @example
 * ```ts
 * try { fs.lstatSync(path); } catch (err) { if (!isGone(err)) throw err; }
 * ```
 */
export function isGone(err: unknown): boolean {
  const code = errorCode(err);
  return code === "ENOENT" || code === "ENOTDIR";
}

/** A transport's failure as an {@linkcode FSCacheError} naming the key; keeps the cause's code. */
export function wrapTransferError(
  err: unknown,
  id: RemoteIdentifier,
  signal: AbortSignal,
  /** Named for a system call's error that names no path (a failed `write` has none): the snapshot. */
  dir?: string,
): FSCacheError {
  const key = id.key;
  if (signal.aborted) {
    return new FSCacheError("ERR_ABORTED", `sync of key ${JSON.stringify(key)} was aborted`, { key, cause: err });
  }
  return new FSCacheError(
    errorCode(err) ?? "ERR_TRANSPORT",
    `transport ${JSON.stringify(id.transport)} failed for key ${JSON.stringify(key)}: ${describeError(err)}`,
    { key, path: pathOf(err) ?? (hasSyscall(err) ? dir : undefined), cause: err },
  );
}

/**
 * The path a file-system error concerns. For `symlink` Node and memfs put the link's
 * target in `path` and the link itself in `dest`; the link is what failed.
 */
function hasSyscall(err: unknown): boolean {
  return typeof (err as { syscall?: unknown } | null)?.syscall === "string";
}

/**
 * The path a file-system error concerns (for a failed `symlink`, the link made, not
 * its target), if it names one.
 *
 * @example
 * ```ts
 * try { fs.openSync("/x", "r"); } catch (err) { pathOf(err); } // "/x"
 * ```
 */
export function pathOf(err: unknown): string | undefined {
  const { path, dest, syscall } = (err ?? {}) as { path?: unknown; dest?: unknown; syscall?: unknown };
  const chosen = syscall === "symlink" && typeof dest === "string" ? dest : path;
  return typeof chosen === "string" ? chosen : undefined;
}

/** A MetaStore/backend failure during `action` as an {@linkcode FSCacheError} naming the key. */
export function wrapStoreError(err: unknown, key: string, action: string): FSCacheError {
  if (err instanceof FSCacheError) return err;
  return new FSCacheError(
    errorCode(err) ?? "ERR_STORE",
    `could not ${action} the source for key ${JSON.stringify(key)}: ${describeError(err)}`,
    {
      key,
      cause: err,
    },
  );
}
