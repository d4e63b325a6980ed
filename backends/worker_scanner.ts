/**
 * The fast full scan for snapshots on the real disk: directories are listed and files
 * hashed synchronously in worker threads, one per core (measured on 2-core machines: a sync fs call
 * costs ~1 µs, an awaited one ~50 µs). Each directory is one task and big
 * directories are split, so the work spreads however the tree is shaped.
 * @module
 */
import * as nodeFs from "node:fs";
import { setImmediate } from "node:timers";
import type { FileSystem } from "../core/file_system.ts";
import { HashTree } from "../core/hash_tree.ts";
import { inlineScanner, type TreeScanner } from "../core/tree_scan.ts";
import type { EntryStat, Sha256Factory } from "../core/types.ts";
import { DIR_BATCH, runScanTask, type ScanBatch, type ScanTask } from "./scan_task.ts";
import { siblingModule, WorkerPool } from "./worker_pool.ts";

let sharedPool: WorkerPool | undefined;

/** The process-wide scan pool; its idle workers never keep the process alive. */
function pool(): WorkerPool {
  sharedPool ??= new WorkerPool(siblingModule(import.meta.url, "scan_worker"));
  return sharedPool;
}

/**
 * True when `fs` is the real disk (node's `fs`, however wrapped): it sees `root` as
 * the very inode `node:fs` sees. memfs volumes have paths the disk does not.
 */
function isRealDisk(fs: FileSystem, root: string): boolean {
  try {
    const mine = fs.lstatSync(root);
    const disk = nodeFs.lstatSync(root);
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

/** Options of {@linkcode scanWithWorkers}. */
export interface WorkerScanOptions {
  signal?: AbortSignal;
  /**
   * Let the calling thread scan too, from the start (while workers boot, ~50–300 ms
   * each) and whenever work is queued. For a CLI that has nothing else to do; a
   * server keeps its event loop free (the default).
   */
  useCallingThread?: boolean;
}

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
  const { signal, useCallingThread = false } = options;
  signal?.throwIfAborted();
  // Throws ENOENT/ENOTDIR with the path, as an inline scan would.
  if (!nodeFs.statSync(root).isDirectory()) nodeFs.readdirSync(root);
  const workers = pool();
  const tree = new HashTree(sha256);
  const queue: ScanTask[] = [{ op: "dir", root, dir: "." }];
  // Tasks in flight per worker: two hide the message round trip.
  let capacity = useCallingThread ? 0 : workers.size * 2;
  let running = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  if (useCallingThread) {
    // Hand work to a worker only once it is up; until then this thread does it all.
    for (let i = 0; i < workers.size; i++) {
      workers.run({ op: "files", root, paths: [] }).then(
        () => {
          capacity += 2;
          notify();
        },
        (err) => {
          failure ??= err;
          notify();
        },
      );
    }
  }
  for (;;) {
    if (failure === undefined && signal?.aborted) failure = signal.reason;
    while (failure === undefined && running < capacity && queue.length > 0) {
      running++;
      workers.run<ScanBatch>(queue.shift() as ScanTask).then(
        (batch) => {
          running--;
          if (failure === undefined) absorb(tree, batch, root, queue);
          notify();
        },
        (err) => {
          running--;
          failure ??= err;
          notify();
        },
      );
    }
    if (failure === undefined && useCallingThread && queue.length > 0) {
      try {
        absorb(tree, runScanTask(queue.shift() as ScanTask), root, queue);
      } catch (err) {
        failure = err;
      }
      // Let worker replies and new capacity in between tasks.
      await new Promise<void>((resolve) => setImmediate(resolve));
      continue;
    }
    if (running === 0 && (queue.length === 0 || failure !== undefined)) break;
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
  }
  if (failure !== undefined) throw failure;
  return tree;
}

/**
 * Stops the scan workers (a CLI calls this when done, so idle workers still booting
 * do not delay its exit); the next scan starts new ones.
 *
 * @example
 * ```ts
 * await closeScanWorkers();
 * ```
 */
export async function closeScanWorkers(): Promise<void> {
  const p = sharedPool;
  sharedPool = undefined;
  await p?.close();
}

function absorb(tree: HashTree, batch: ScanBatch, root: string, queue: ScanTask[]): void {
  const links = new Map(batch.links);
  for (let i = 0; i < batch.paths.length; i++) {
    const s = batch.stats;
    const stat: EntryStat = {
      mode: s[i * 5] as number,
      uid: s[i * 5 + 1] as number,
      gid: s[i * 5 + 2] as number,
      size: s[i * 5 + 3] as number,
      mtimeMs: s[i * 5 + 4] as number,
    };
    const link = links.get(i);
    if (link !== undefined) stat.linkname = link;
    tree.apply("add", batch.paths[i] as string, batch.checksums[i] as string, stat);
  }
  for (const dir of batch.dirs) queue.push({ op: "dir", root, dir });
  for (let i = 0; i < batch.files.length; i += DIR_BATCH) {
    queue.push({ op: "files", root, paths: batch.files.slice(i, i + DIR_BATCH) });
  }
}
