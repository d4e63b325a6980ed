/**
 * What `fscache sync` and `fscache push` derive from a source directory: its default
 * shared key and its `.dockerignore` patterns. A module of its own so that `push`
 * does not load the local transport and the cache with `sync`.
 * @module
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { sha256Hex } from "../backends/node_sha256.ts";
import { MAX_KEY_LENGTH } from "../core/identifier.ts";
import { decodeName } from "../core/names.ts";

/**
 * Fails with `ENOENT` when `dir` does not exist and `ERR_NOT_A_DIRECTORY` when it is
 * not a directory (a symlink to one will do), as the local transport does: checked
 * before a cache or connection is opened, so a mistyped path leaves no failed source
 * behind.
 *
 * @example
 * ```ts
 * assertDirectory("/home/me/app");
 * ```
 */
export function assertDirectory(dir: string): void {
  const stats = statSync(dir, { throwIfNoEntry: false });
  if (stats?.isDirectory()) return;
  const [code, message] = stats ? ["ERR_NOT_A_DIRECTORY", "not a directory"] : ["ENOENT", "no such directory"];
  throw Object.assign(new Error(`${message}: ${dir}`), { code, path: dir });
}

/**
 * The default shared key: the directory's absolute path (hashed only if too long for a key).
 *
 * @example
 * ```ts
 * sharedKeyOf("/home/me/app"); // "local:/home/me/app"
 * ```
 */
export function sharedKeyOf(dir: string): string {
  const key = `local:${dir}`;
  if (key.length <= MAX_KEY_LENGTH) return key;
  return `local:sha256:${sha256Hex(dir)}`;
}

/**
 * Patterns from `<dir>/.dockerignore`, read as Docker reads the file: a line is a
 * comment only when `#` is its very first character, patterns are trimmed, blank lines
 * dropped, a UTF-8 byte order mark ignored. Bytes that are not UTF-8 are kept escaped,
 * as the walk keeps such names, so a pattern can name them.
 *
 * @example
 * ```ts
 * dockerignoreOf("/home/me/app"); // ["node_modules", "*.log"]
 * ```
 */
export function dockerignoreOf(dir: string): string[] {
  const file = `${dir}/.dockerignore`;
  if (!existsSync(file)) return [];
  let bytes: Uint8Array = readFileSync(file);
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
  const patterns: string[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    const line = decodeName(bytes.subarray(start, i));
    start = i + 1;
    if (line.startsWith("#")) continue;
    const pattern = line.trim();
    if (pattern !== "") patterns.push(pattern);
  }
  return patterns;
}
