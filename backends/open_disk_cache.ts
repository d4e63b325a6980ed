/**
 * The embedded default cache on disk (`FSCache.open({ root })` of `mod.ts`), without
 * the rest of the public entry point: the CLI opens the cache through this, so a
 * command does not load memfs, the tar parser, IndexedDB and the diff-copy protocol
 * it never uses (module loading is a good part of a short command's run time).
 * @module
 */
import { FSCache, type FSCacheOptions } from "../core/fscache.ts";
import { DiskBackend } from "./disk_backend.ts";
import { FileMetaStore } from "./file_meta_store.ts";
import { nodeSha256 } from "./node_sha256.ts";
import { workerScanner } from "./worker_scanner.ts";

/**
 * The parts of an on-disk cache under `root`: {@linkcode DiskBackend} and the locking
 * {@linkcode FileMetaStore}, `node:crypto`'s SHA-256, worker-thread scans. `open` is
 * handed the options and must construct the cache; the lock is released if it throws.
 *
 * @example
 * ```ts
 * const cache = await openDiskCache({ root: "/var/cache/fscache" }, (o) => FSCache.open(o));
 * ```
 */
export async function openDiskCache<C>(
  options: Omit<FSCacheOptions, "backend" | "metaStore"> & { root: string },
  open: (options: FSCacheOptions) => Promise<C> = (o) => FSCache.open(o) as Promise<C>,
): Promise<C> {
  const { root, ...rest } = options;
  const metaStore = new FileMetaStore(root, { logger: rest.logger });
  try {
    const backend = new DiskBackend(root);
    return await open({ sha256: nodeSha256, scanner: workerScanner, ...rest, backend, metaStore });
  } catch (err) {
    await metaStore.close(); // releases the lock this failed open took
    throw err;
  }
}
