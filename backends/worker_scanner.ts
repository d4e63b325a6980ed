/**
 * The fast full scan for snapshots on the real disk: directories are listed and files
 * hashed synchronously in worker threads, one per core (measured on 2-core machines: a sync fs call
 * costs ~1 µs, an awaited one ~50 µs). A task walks a directory and, while its budget
 * lasts, the directories below it; what it leaves, and the files of big directories,
 * become new tasks, so the work spreads however the tree is shaped.
 * @module
 */
import { lstatSync } from "node:fs";
import type { FileSystem } from "../core/file_system.ts";
import { HashTree } from "../core/hash_tree.ts";
import { inlineScanner, type TreeScanner } from "../core/tree_scan.ts";
import type { EntryStat, Sha256Factory } from "../core/types.ts";
import { runScan, SUM, type WorkerScanOptions } from "./scan_pool.ts";

export { checksumWithWorkers, closeScanWorkers, type DirChecksum, type WorkerScanOptions } from "./scan_pool.ts";

/**
 * True when `fs` is the real disk (node's `fs`, however wrapped): it sees `root` as
 * the very inode `node:fs` sees. memfs volumes have paths the disk does not.
 */
function isRealDisk(fs: FileSystem, root: string): boolean {
  try {
    const mine = fs.lstatSync(root);
    const disk = lstatSync(root);
    return mine.dev === disk.dev && mine.ino === disk.ino && mine.mtimeMs === disk.mtimeMs && disk.dev !== 0;
  } catch {
    return false;
  }
}

/**
 * Scans a directory on the real disk with worker threads; any other file system
 * (memfs) is scanned inline. Non-UTF-8 names are read as bytes and keyed escaped
 * (`core/names.ts`), so their checksums are Docker's.
 *
 * @example
 * ```ts
 * const tree = await workerScanner.scan(fileSystemFrom(fs), "/path/to/dir", nodeSha256);
 * tree.hash("."); // "dir:…", as Docker's COPY of that directory keys it
 * ```
 */
export const workerScanner: TreeScanner = {
  scan(fs, root, sha256, signal) {
    if (!isRealDisk(fs, root)) return inlineScanner.scan(fs, root, sha256, signal);
    return scanWithWorkers(root, sha256, signal ? { signal } : {});
  },
};

/**
 * Scans `root` (a path of the real disk) in worker threads.
 *
 * @example
 * ```ts
 * const tree = await scanWithWorkers("/srv/context", nodeSha256);
 * ```
 */
export async function scanWithWorkers(
  root: string,
  sha256: Sha256Factory,
  options: WorkerScanOptions = {},
): Promise<HashTree> {
  const tree = new HashTree(sha256);
  await runScan(root, true, options, (batch) => {
    const { sums, stats: s } = batch;
    const links = new Map(batch.links);
    for (let i = 0; i < batch.paths.length; i++) {
      const stat: EntryStat = {
        mode: s[i * 5] as number,
        uid: s[i * 5 + 1] as number,
        gid: s[i * 5 + 2] as number,
        size: s[i * 5 + 3] as number,
        mtimeMs: s[i * 5 + 4] as number,
      };
      const link = links.get(i);
      if (link !== undefined) stat.linkname = link;
      tree.apply("add", batch.paths[i] as string, sums.slice(i * SUM, (i + 1) * SUM), stat);
    }
  });
  return tree;
}
