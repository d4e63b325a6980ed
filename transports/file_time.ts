/**
 * The time to hand `utimesSync` for a sender's nanosecond mtime.
 * @module
 */

const deno = "Deno" in globalThis;

/**
 * Seconds for `utimesSync`, or under Deno a `Date` of the whole millisecond.
 *
 * Node keeps microseconds from a float of seconds. Deno's `node:fs` keeps whole
 * milliseconds and truncates `seconds × 1000`: a float a hair below `….674` lands on
 * `….673`, a millisecond early. A `Date` holds the millisecond exactly.
 *
 * @example
 * ```ts
 * const t = fileTime(entry.stat.modTime);
 * fs.utimesSync(path, t, t);
 * ```
 */
export function fileTime(modTimeNs: bigint): number | Date {
  return deno ? new Date(Number(modTimeNs / 1_000_000n)) : Number(modTimeNs) / 1e9;
}
