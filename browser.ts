/**
 * fscache for browsers: the same core, with snapshots in the Origin Private File
 * System ({@linkcode OpfsBackend}), records in IndexedDB ({@linkcode IdbMetaStore}),
 * a WebAssembly SHA-256, a transport from a folder the user picks
 * ({@linkcode BrowserFolderTransport}), and sessions with an `fscache serve` over a
 * WebSocket: {@linkcode pushFolder} sends a picked folder, {@linkcode pullInto} fills
 * this cache from the server's. Nothing reachable from here imports `node:` modules;
 * `npm run build:browser` bundles it to `dist/browser/fscache.js`.
 *
 * @example
 * ```ts
 * import { BrowserFolderTransport, FSCache, IdbMetaStore, OpfsBackend } from "./fscache.js";
 * const cache = await FSCache.open({ backend: new OpfsBackend(), metaStore: new IdbMetaStore({ dbName: "fscache" }) });
 * const folder = new BrowserFolderTransport();
 * cache.registerTransport("folder", folder);
 * folder.folder = input.files!; // <input type="file" webkitdirectory>
 * await using src = await cache.syncFrom({ key: crypto.randomUUID(), sharedKey: "picked", transport: "folder" });
 * console.log(await src.hash("."));
 * ```
 * @module
 */
import { createWasmSha256 } from "./backends/wasm_sha256.ts";
import { FSCache as CoreFSCache, type FSCacheOptions } from "./core/fscache.ts";

export { FsBackend, type FsBackendOptions } from "./backends/fs_backend.ts";
export { IdbMetaStore, type IdbMetaStoreOptions } from "./backends/idb_meta_store.ts";
export { MemoryMetaStore } from "./backends/memory_meta_store.ts";
export { OpfsBackend, type OpfsBackendOptions } from "./backends/opfs_backend.ts";
export {
  type FsaDirectoryHandle,
  type FsaFileHandle,
  type FsaWritable,
  OpfsFileSystem,
  type OpfsStatOptions,
} from "./backends/opfs_file_system.ts";
export { createWasmSha256 } from "./backends/wasm_sha256.ts";
export { FSCacheError, type FSCacheErrorCode, isFSCacheError } from "./core/errors.ts";
export type { FileStats, FileSystem } from "./core/file_system.ts";
export type { GcResult } from "./core/fscache.ts";
export { DEFAULT_GC_POLICY } from "./core/gc_policy.ts";
export { HashTree, type TreeEntryKind } from "./core/hash_tree.ts";
export { inlineScanner, type TreeScanner } from "./core/tree_scan.ts";
export type * from "./core/types.ts";
export {
  BrowserFolderTransport,
  type FolderSyncSummary,
  type PickedDirectory,
  type PickedFile,
  type PickedFolder,
} from "./transports/browser_folder.ts";
export type { FileSpec, SymlinkSpec, TreeSpec } from "./transports/memory.ts";
export { MemoryTransport } from "./transports/memory.ts";
export type { PushResult } from "./transports/session/client.ts";
export {
  PULL_TRANSPORT,
  type PullIntoOptions,
  type PullIntoResult,
  type PushFolderOptions,
  pullInto,
  pushFolder,
  type ServerOptions,
  WebSocketPullTransport,
} from "./transports/websocket/browser_session.ts";
export {
  connectWebSocket,
  type WebSocketConnectionOptions,
  type WebSocketLike,
  webSocketConnection,
} from "./transports/websocket/connection.ts";
export { MemoryFileSystem, type MemoryFileSystemOptions } from "./transports/websocket/memory_fs.ts";

/** Options of {@linkcode FSCache.open}; `sha256` defaults to the WebAssembly one. */
export type { FSCacheOptions };

/**
 * The cache, with `hash-wasm`'s SHA-256 as its default (instantiated once, on the
 * first `open`).
 *
 * @example
 * ```ts
 * const cache = await FSCache.open({ backend: new OpfsBackend(), metaStore: new IdbMetaStore({ dbName: "fscache" }) });
 * ```
 */
export class FSCache extends CoreFSCache {
  static override async open(options: FSCacheOptions): Promise<FSCache> {
    const sha256 = options.sha256 ?? (await defaultSha256());
    // biome-ignore lint/complexity/noThisInStatic: `super` keeps `new this` in the base open constructing this subclass
    return (await super.open({ ...options, sha256 })) as FSCache;
  }
}

let shared: ReturnType<typeof createWasmSha256> | undefined;

function defaultSha256(): ReturnType<typeof createWasmSha256> {
  shared ??= createWasmSha256();
  return shared;
}
