/**
 * Which way a CLI run went (a first sync, a resync that changed files, one that changed
 * nothing), noted for the npm bin (`bin.ts`): its V8 code cache holds the functions the
 * run that wrote it compiled, and a run down another way compiles the rest from source
 * every time (a 1%-changed resync under the cache of a first sync took ~15–30 ms
 * longer). The bin writes the cache again after a run down a way it does not cover yet.
 * The two are bundled apart, so the note goes through a registered symbol.
 * @module
 */

const CODE_PATH = Symbol.for("fscache.codePath");

/**
 * Notes the way this run went, as a short name (`local:changed`).
 *
 * @example
 * ```ts
 * noteCodePath("local:noop");
 * ```
 */
export function noteCodePath(name: string): void {
  (globalThis as Record<symbol, unknown>)[CODE_PATH] = name;
}

/**
 * The way this run went, as noted; `""` when the command noted none.
 *
 * @example
 * ```ts
 * noteCodePath("local:first");
 * codePath(); // "local:first"
 * ```
 */
export function codePath(): string {
  const name = (globalThis as Record<symbol, unknown>)[CODE_PATH];
  return typeof name === "string" ? name : "";
}
