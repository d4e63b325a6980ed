/**
 * The time to hand `utimesSync` for a sender's nanosecond mtime.
 * @module
 */

const deno = "Deno" in globalThis;

/**
 * Seconds for `utimesSync` (whole microseconds), or under Deno (and before 1970) a `Date`
 * of its millisecond.
 *
 * Node keeps microseconds from a float of seconds. Deno's `node:fs` keeps whole
 * milliseconds and truncates `seconds × 1000`: a float a hair below `….674` lands on
 * `….673`, a millisecond early. A `Date` holds the millisecond exactly. The millisecond
 * is the one the time is in (its floor, as `mtimeMs` reads it), taken in integers: the
 * nearest one put a sender's `….808999700` on `….809`, a millisecond late.
 *
 * @example
 * ```ts
 * const t = fileTime(entry.stat.modTime);
 * fs.utimesSync(path, t, t);
 * ```
 */
export function fileTime(modTimeNs: bigint): number | Date {
  if (deno || modTimeNs < 0n) return new Date(Number(floorDiv(modTimeNs, 1_000_000n)));
  return secondsOfMicros(Number(modTimeNs / 1000n));
}

/** `a / b` rounded toward minus infinity (BigInt division rounds toward zero). */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return q * b > a ? q - 1n : q;
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
  // `ms / 1000` as such was cut by libuv to the microsecond below whenever the float of
  // seconds fell a hair short, and a whole-millisecond time (as tools setting times in
  // milliseconds leave) then landed in the millisecond before, half the time.
  return secondsOfMicros(microsOfMs(ms));
}

/**
 * A walked `mtimeMs` in whole microseconds (libuv sets no finer): the nearest one, but
 * kept within the millisecond the walk read. A file system's nanoseconds of `….808999700`
 * are nearest to `….809000` µs, and a copy given that time would read a millisecond late.
 *
 * @example
 * ```ts
 * microsOfMs(1_700_000_000_123.4567); // 1_700_000_000_123_457
 * microsOfMs(1_700_000_000_808.9997); // 1_700_000_000_808_999
 * ```
 */
export function microsOfMs(ms: number): number {
  return Math.min(Math.round(ms * 1000), Math.floor(ms) * 1000 + 999);
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
