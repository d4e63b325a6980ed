/**
 * Validation of what callers pass to `syncFrom`: keys end up in file names, log
 * lines and wire frames, so they are bounded and free of NUL.
 * @module
 */
import { FSCacheError } from "./errors.ts";
import { hasLoneSurrogate } from "./names.ts";
import type { RemoteIdentifier } from "./types.ts";

/** Longest key or shared key accepted, in UTF-16 code units. */
export const MAX_KEY_LENGTH = 1024;

/**
 * Throws `ERR_INVALID_KEY` unless `key` is a non-empty string of at most
 * {@linkcode MAX_KEY_LENGTH} characters without NUL or lone surrogates. `allowEmpty` is for shared keys.
 *
 * @example
 * ```ts
 * validateKey("ctx-1"); // ok
 * validateKey("a\0b"); // throws ERR_INVALID_KEY
 * ```
 */
export function validateKey(key: unknown, what = "key", allowEmpty = false): asserts key is string {
  const fail = (why: string): never => {
    throw new FSCacheError("ERR_INVALID_KEY", `invalid ${what}: ${why}`, {
      key: typeof key === "string" ? key : undefined,
    });
  };
  if (typeof key !== "string") fail(`expected a string, got ${typeof key}`);
  const k = key as string;
  if (k.length === 0 && !allowEmpty) fail("it is empty");
  if (k.length > MAX_KEY_LENGTH) fail(`it is ${k.length} characters long (at most ${MAX_KEY_LENGTH})`);
  if (k.includes("\0")) fail("it contains a NUL character");
  // Stored as UTF-8 (record files, IndexedDB, wire frames): a lone surrogate would come
  // back as U+FFFD, so after a restart the key would no longer find its own snapshot.
  if (hasLoneSurrogate(k)) fail("it is not valid Unicode (a lone surrogate)");
}

/** Validates a whole identifier: key, optional shared key, transport name. */
export function validateIdentifier(id: RemoteIdentifier): void {
  if (id === null || typeof id !== "object") {
    throw new FSCacheError("ERR_INVALID_KEY", "syncFrom expects an identifier object { key, sharedKey?, transport }");
  }
  validateKey(id.key);
  if (id.sharedKey !== undefined) validateKey(id.sharedKey, "shared key", true);
  validateKey(id.transport, "transport name");
}
