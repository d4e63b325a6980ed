/**
 * The time to hand `utimesSync` for a sender's nanosecond mtime.
 * @module
 */

const deno = "Deno" in globalThis;

/**
 * Seconds for `utimesSync` (whole microseconds), or under Deno (and before 1970) a `Date`
 * of the nearest millisecond.
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
  if (deno || modTimeNs < 0n) return new Date(Math.round(Number(modTimeNs) / 1e6));
  return secondsOfMicros(Number(modTimeNs / 1000n));
}

/**
 * Seconds for Node's `utimes` that keep `micros` exactly. libuv cuts the float to whole
 * microseconds, and the float nearest a microsecond is as often a hair below it: each
 * receive then lost one (a push, then a pull, two). A quarter microsecond above it is
 * cut back to it, whichever way the float rounds (its spacing here is ~0.24 µs).
 */
function secondsOfMicros(micros: number): number {
  return micros / 1e6 + 2.5e-7;
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
  if (deno || ms < 0) return new Date(Math.floor(ms));
  // Its nearest microsecond (libuv keeps no more), kept within the millisecond the walk
  // read. `ms / 1000` as such was cut by libuv to the microsecond below whenever the
  // float of seconds fell a hair short, and a whole-millisecond time (as tools setting
  // times in milliseconds leave) then landed in the millisecond before, half the time.
  const floor = Math.floor(ms);
  return secondsOfMicros(Math.min(Math.round(ms * 1000), floor * 1000 + 999));
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
