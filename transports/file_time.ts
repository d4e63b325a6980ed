/**
 * The time to hand `utimesSync` for a sender's nanosecond mtime.
 * @module
 */

const deno = "Deno" in globalThis;

/**
 * Seconds for `utimesSync`, or under Deno (and before 1970) a `Date` of the whole millisecond.
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
  return deno || modTimeNs < 0n ? new Date(Number(modTimeNs / 1_000_000n)) : Number(modTimeNs) / 1e9;
}

/**
 * {@linkcode fileTime} for a time in milliseconds (a walk's `mtimeMs`).
 *
 * Node's `utimes` takes a negative number of seconds to mean *now*, so a time before
 * 1970 goes as a `Date` (whole milliseconds), which it takes as it is.
 *
 * @example
 * ```ts
 * const t = fileTimeOfMs(stats.mtimeMs);
 * fs.utimesSync(path, t, t);
 * ```
 */
export function fileTimeOfMs(ms: number): number | Date {
  return deno || ms < 0 ? new Date(Math.floor(ms)) : ms / 1000;
}

/**
 * `time` as a symlink's own time (`lutimes`) can take it. Deno's `lutimes` fails with
 * `EINVAL` on a time before 1970 with a fraction of a second (its `utimes` does not):
 * there such a time goes as the whole second before it.
 *
 * @example
 * ```ts
 * const t = linkTime(fileTime(entry.stat.modTime));
 * fs.lutimesSync(path, t, t);
 * ```
 */
export function linkTime(time: number | Date): number | Date {
  if (!deno || typeof time === "number" || time.getTime() >= 0) return time;
  return new Date(Math.floor(time.getTime() / 1000) * 1000);
}
