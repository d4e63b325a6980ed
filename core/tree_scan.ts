/**
 * Full scans of a snapshot directory into a {@linkcode HashTree} (SPEC §4.3). The
 * scan is behind {@linkcode TreeScanner} so the runtime can supply a faster one:
 * `mod.ts` hashes real disks in worker threads; the scanner here runs the same
 * synchronous loop inline, which suits in-memory file systems.
 * @module
 */
import { scanAsync } from "./async_walk.ts";
import { hashEntrySync, READ_CHUNK } from "./entry_hash.ts";
import type { FileSystem } from "./file_system.ts";
import { HashTree } from "./hash_tree.ts";
import { joinPath } from "./path.ts";
import { yieldToEventLoop } from "./snapshot_size.ts";
import type { Sha256Factory } from "./types.ts";

export { hashEntrySync, READ_CHUNK, type ScannedEntry } from "./entry_hash.ts";

/** Makes a {@linkcode HashTree} of every entry below `root` (the root itself excluded). */
export interface TreeScanner {
  scan(fs: FileSystem, root: string, sha256: Sha256Factory, signal?: AbortSignal): Promise<HashTree>;
}

const ENTRIES_PER_TURN = 1000;

/**
 * Scans inline with synchronous calls, yielding to the event loop every thousand
 * entries. Names are whatever the file system's `readdirSync` returns (memfs and
 * other string-only file systems cannot hold non-UTF-8 names). A file system without
 * synchronous access (`fs.asyncOnly`, e.g. OPFS on a page) is walked with awaited calls.
 *
 * @example
 * ```ts
 * const tree = await inlineScanner.scan(backend.fs, dir, nodeSha256);
 * tree.hash("."); // "dir:…"
 * ```
 */
export const inlineScanner: TreeScanner = {
  async scan(fs, root, sha256, signal) {
    if (fs.asyncOnly) return await scanAsync(fs, root, sha256, signal);
    const tree = new HashTree(sha256);
    const buffer = new Uint8Array(READ_CHUNK);
    const stack = ["."];
    let visited = 0;
    while (stack.length > 0) {
      const dir = stack.pop() as string;
      for (const name of fs.readdirSync(joinPath(root, dir))) {
        if (++visited % ENTRIES_PER_TURN === 0) {
          await yieldToEventLoop();
          signal?.throwIfAborted();
        }
        const path = dir === "." ? name : `${dir}/${name}`;
        const full = joinPath(root, path);
        const stats = fs.lstatSync(full);
        const entry = hashEntrySync(fs, full, path, stats, sha256, buffer);
        if (!entry) continue;
        tree.apply("add", path, entry.checksum, entry.stat);
        if (stats.isDirectory()) stack.push(path);
      }
    }
    signal?.throwIfAborted();
    return tree;
  },
};
