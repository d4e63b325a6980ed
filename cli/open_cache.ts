/**
 * How every CLI command opens the cache: the embedded default, snapshots and records
 * on local disk under `--root`.
 * @module
 */
import { openDiskCache } from "../backends/open_disk_cache.ts";
import type { FSCache } from "../core/fscache.ts";
import type { GCPolicy } from "../core/types.ts";
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
 * Opens the disk cache at `global.root`; no periodic GC timer (a CLI run is short), and
 * GC after a release only with a `gcPolicy` (`gc`, `serve`).
 *
 * @example
 * ```ts
 * await using cache = await openCache({ root: "/tmp/c", json: false, quiet: false });
 * ```
 */
export async function openCache(
  global: GlobalOptions,
  gcPolicy?: Partial<GCPolicy>,
): Promise<FSCache & AsyncDisposable> {
  // Not through mod.ts: that would load every adapter of the library for every command.
  const cache = await openDiskCache<FSCache>({ root: global.root, gcPolicy: gcPolicy ?? NEVER_COLLECT, gcInterval: 0 });
  return Object.assign(cache, { [Symbol.asyncDispose]: () => cache.close() });
}
