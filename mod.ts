/**
 * fscache: incremental, content-checksummed snapshots of directory trees sent from
 * somewhere else — Docker's build-context cache (`builder/fscache`) for Node and Deno.
 *
 * @example
 * ```ts
 * import { FSCache, MemoryBackend, MemoryMetaStore, MemoryTransport } from "@fscache/core";
 * const cache = await FSCache.open({ backend: new MemoryBackend(), metaStore: new MemoryMetaStore() });
 * cache.registerTransport("mem", new MemoryTransport({ "a.txt": "hello" }));
 * await using src = await cache.syncFrom({ key: "ctx-1", sharedKey: "project", transport: "mem" });
 * console.log(await src.fs.readFile(`${src.root}/a.txt`, "utf8"));
 * ```
 * @module
 */

import { nodeSha256 } from "./backends/node_sha256.ts";
import { openDiskCache } from "./backends/open_disk_cache.ts";
import { workerScanner } from "./backends/worker_scanner.ts";
import { FSCache as CoreFSCache, type FSCacheOptions } from "./core/fscache.ts";

export { CACHEDIR_TAG, DiskBackend } from "./backends/disk_backend.ts";
export { type DiskFs, diskFileSystem, diskFs } from "./backends/disk_fs.ts";
export { FileMetaStore, type FileMetaStoreOptions } from "./backends/file_meta_store.ts";
export { FsBackend, type FsBackendOptions } from "./backends/fs_backend.ts";
export { IdbMetaStore, type IdbMetaStoreOptions } from "./backends/idb_meta_store.ts";
export { MemoryBackend } from "./backends/memory_backend.ts";
export { MemoryMetaStore } from "./backends/memory_meta_store.ts";
export { nodeSha256 } from "./backends/node_sha256.ts";
export { type TarSumOptions, type TarSumResult, tarSum } from "./backends/tarsum_stream.ts";
export { scanWithWorkers, workerScanner } from "./backends/worker_scanner.ts";
export type { EntryHeader, HeaderEncoding } from "./core/entry_checksum.ts";
export { encodeEntryHeader, entryChecksum, headerFromStats, startEntryChecksum } from "./core/entry_checksum.ts";
export { FSCacheError, type FSCacheErrorCode, isFSCacheError } from "./core/errors.ts";
export type { FileStats, FileSystem, NodeStyleFs } from "./core/file_system.ts";
export { fileSystemFrom, nodeStyleModuleOf } from "./core/file_system.ts";
export type { GcResult } from "./core/fscache.ts";
export { DEFAULT_GC_POLICY } from "./core/gc_policy.ts";
export { HashTree, type TreeEntryKind } from "./core/hash_tree.ts";
export { deserializeHashTree, serializeHashTree } from "./core/hash_tree_codec.ts";
export { MAX_KEY_LENGTH } from "./core/identifier.ts";
export { compareWalkOrder, decodeName, encodeName } from "./core/names.ts";
export { type TarSumVersion, tarSumLabel } from "./core/tarsum.ts";
export { inlineScanner, type TreeScanner } from "./core/tree_scan.ts";
export type * from "./core/types.ts";
export type { DiffCopyConnection } from "./transports/diffcopy/framing.ts";
export { memoryPipe } from "./transports/diffcopy/memory_pipe.ts";
export {
  type ReceiveOptions,
  type ReceiveResult,
  type ReceiveTarget,
  receiveDiffCopy,
} from "./transports/diffcopy/receiver.ts";
export { type SendOptions, type SendResult, sendDiffCopy } from "./transports/diffcopy/sender.ts";
export { SourceListings } from "./transports/diffcopy/source_listings.ts";
export { type DiffCopyConnect, DiffCopyTransport } from "./transports/diffcopy/transport.ts";
export {
  LocalTransport,
  type LocalTransportOptions,
  type SyncSummary,
} from "./transports/local/local_transport.ts";
export type { FileSpec, SymlinkSpec, TreeSpec } from "./transports/memory.ts";
export { MemoryTransport } from "./transports/memory.ts";

/**
 * Options of {@linkcode FSCache.open}; `sha256` defaults to `node:crypto`'s, `scanner`
 * to worker threads on the real disk (inline elsewhere).
 */
export type { FSCacheOptions };

/**
 * The embedded default: everything under one directory on disk, `root`
 * ({@linkcode DiskBackend} + {@linkcode FileMetaStore}, which locks the root).
 */
export type FSCacheRootOptions = Omit<FSCacheOptions, "backend" | "metaStore"> & { root: string };

/**
 * The cache, with `node:crypto` as its default SHA-256 (Node and Deno). `{ root }`
 * opens the on-disk default: snapshots in `root/snapshots`, records in `root/meta`,
 * the root locked against a second process until `close()`.
 *
 * @example
 * ```ts
 * const cache = await FSCache.open({ root: "/var/cache/fscache" });
 * const test = await FSCache.open({ backend: new MemoryBackend(), metaStore: new MemoryMetaStore() });
 * ```
 */
export class FSCache extends CoreFSCache {
  static override async open(options: FSCacheOptions | FSCacheRootOptions): Promise<FSCache> {
    if (!("root" in options)) {
      // biome-ignore lint/complexity/noThisInStatic: `super` keeps `new this` in the base open constructing this subclass
      return (await super.open({ sha256: nodeSha256, scanner: workerScanner, ...options })) as FSCache;
    }
    // biome-ignore lint/complexity/noThisInStatic: as above
    return await openDiskCache(options, async (o) => (await super.open(o)) as FSCache);
  }
}
