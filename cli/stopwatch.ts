/**
 * The elapsed time a command reports as `durationMs`.
 * @module
 */
import { hrtime } from "node:process";

/**
 * Starts a stopwatch on the monotonic clock; the function it returns gives the whole
 * milliseconds since. Not `performance.now()`: its first use loads Node's `perf_hooks`
 * (~1.5 ms of a CLI run that needs nothing else from them).
 *
 * @example
 * ```ts
 * const elapsed = startStopwatch();
 * await work();
 * elapsed(); // 1234
 * ```
 */
export function startStopwatch(): () => number {
  const start = hrtime.bigint();
  return () => Math.round(Number(hrtime.bigint() - start) / 1e6);
}
