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
 * Opens the disk cache at `global.root`; no periodic GC timer (a CLI run is short).
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
  const cache = await openDiskCache<FSCache>({ root: global.root, gcPolicy, gcInterval: 0 });
  return Object.assign(cache, { [Symbol.asyncDispose]: () => cache.close() });
}
