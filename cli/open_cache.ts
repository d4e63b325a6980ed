/**
 * How every CLI command opens the cache: the embedded default, snapshots and records
 * on local disk under `--root`.
 * @module
 */
import { openDiskCache } from "../backends/open_disk_cache.ts";
import { describeError } from "../core/errors.ts";
import type { FSCache } from "../core/fscache.ts";
import type { GCPolicy, Logger } from "../core/types.ts";
import type { GlobalOptions } from "./command.ts";

/**
 * Releases collect nothing: a command never deletes snapshots unless asked to (`gc`,
 * `prune`, `serve` with its budget). A sync of a tree larger than the default budget
 * would otherwise delete its own snapshot on exit, and `hash` others'.
 */
const NEVER_COLLECT: Partial<GCPolicy> = {
  maxSize: Number.POSITIVE_INFINITY,
  maxKeepDuration: Number.POSITIVE_INFINITY,
};

/**
 * A {@linkcode Logger} for a command: each warning one line to `write` (the command's
 * stderr, or above its progress line), not `console.warn`, which the command's output
 * does not go through.
 *
 * @example
 * ```ts
 * const logger = warningLogger(io.stderr);
 * logger.warn("skipped pipe: devices, fifos and sockets are not synced");
 * ```
 */
export function warningLogger(write: (lines: string) => void): Logger {
  return {
    warn(message, error) {
      write(error === undefined ? `${message}\n` : `${message}: ${describeError(error)}\n`);
    },
  };
}

/**
 * Opens the disk cache at `global.root`, its warnings written to `warn`; no periodic
 * GC timer (a CLI run is short), and GC after a release only with a `gcPolicy` (`gc`,
 * `serve`).
 *
 * @example
 * ```ts
 * await using cache = await openCache({ root: "/tmp/c", json: false, quiet: false }, io.stderr);
 * ```
 */
export async function openCache(
  global: GlobalOptions,
  warn: (lines: string) => void,
  gcPolicy?: Partial<GCPolicy>,
): Promise<FSCache & AsyncDisposable> {
  // Not through mod.ts: that would load every adapter of the library for every command.
  const cache = await openDiskCache<FSCache>({
    root: global.root,
    gcPolicy: gcPolicy ?? NEVER_COLLECT,
    gcInterval: 0,
    logger: warningLogger(warn),
  });
  return Object.assign(cache, { [Symbol.asyncDispose]: () => cache.close() });
}
