/**
 * Snapshots in the browser's Origin Private File System: the shared
 * {@linkcode FsBackend} over {@linkcode OpfsFileSystem}. They persist across page
 * reloads, per origin, until the site's storage is cleared.
 * @module
 */
import { FSCacheError } from "../core/errors.ts";
import { FsBackend } from "./fs_backend.ts";
import { type FsaDirectoryHandle, OpfsFileSystem, type OpfsStatOptions } from "./opfs_file_system.ts";

/** Options for {@linkcode OpfsBackend}. */
export interface OpfsBackendOptions extends OpfsStatOptions {
  /** Directory of the snapshots, below the handle. Default `/fscache/snapshots`. */
  root?: string;
  /** The directory to work in. Default: the origin's OPFS root, `navigator.storage.getDirectory()`. */
  directory?: FsaDirectoryHandle | Promise<FsaDirectoryHandle>;
}

/**
 * Snapshot directories `root/<id>` in OPFS. Only promise methods work there (see
 * {@linkcode OpfsFileSystem}): scans and sizes take the core's asynchronous walks.
 *
 * @example
 * ```ts
 * const backend = new OpfsBackend();
 * const cache = await FSCache.open({ backend, metaStore: new IdbMetaStore({ dbName: "fscache" }) });
 * ```
 */
export class OpfsBackend extends FsBackend {
  override readonly fs: OpfsFileSystem;

  constructor(options: OpfsBackendOptions = {}) {
    const fs = new OpfsFileSystem(options.directory ?? originPrivateDirectory(), options);
    super(fs, options.root ?? "/fscache/snapshots", {
      dirMode: options.dirMode ?? 0o755,
      // One `removeEntry` call removes the whole tree there.
      removeDir: (fs, dir) => fs.rm(dir, { recursive: true, force: true }),
    });
    this.fs = fs;
  }
}

function originPrivateDirectory(): Promise<FsaDirectoryHandle> {
  const storage = (globalThis as { navigator?: { storage?: { getDirectory?(): Promise<unknown> } } }).navigator
    ?.storage;
  if (typeof storage?.getDirectory !== "function") {
    const failed = Promise.reject(
      new FSCacheError(
        "ERR_INVALID_OPTION",
        "OpfsBackend needs navigator.storage.getDirectory() (a browser with OPFS)",
      ),
    );
    failed.catch(() => undefined); // reported when first used, not as an unhandled rejection now
    return failed;
  }
  return storage.getDirectory() as Promise<FsaDirectoryHandle>;
}
