/**
 * What `fscache sync` and `fscache push` derive from a source directory: its default
 * shared key and its `.dockerignore` patterns. A module of its own so that `push`
 * does not load the local transport and the cache with `sync`.
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { MAX_KEY_LENGTH } from "../core/identifier.ts";

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
  return `local:sha256:${createHash("sha256").update(dir).digest("hex")}`;
}

/**
 * Patterns from `<dir>/.dockerignore`, comments and blank lines dropped.
 *
 * @example
 * ```ts
 * dockerignoreOf("/home/me/app"); // ["node_modules", "*.log"]
 * ```
 */
export function dockerignoreOf(dir: string): string[] {
  const file = `${dir}/.dockerignore`;
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}
