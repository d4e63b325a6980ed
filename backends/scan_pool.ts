/**
 * Scans of the real disk run as tasks (`scan_task.ts`) on a pool of worker threads,
 * and on the calling thread when it may help: the scheduling both the tree scan
 * (`worker_scanner.ts`) and the checksum-only scan of `fscache checksum` use. Kept
 * apart so that command loads no hash-tree code.
 * @module
 */
import { readdirSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { setImmediate } from "node:timers";
import { dirChecksumOfPacked } from "./dir_checksum.ts";
import { DIR_BATCH, runScanTask, type ScanBatch, type ScanTask } from "./scan_task.ts";
import { siblingModule, WorkerPool } from "./worker_pool.ts";

/** Hex digits of one entry checksum in a packed batch. */
export const SUM = 64;
let sharedPool: WorkerPool | undefined;
let helperPool: WorkerPool | undefined;

/**
 * The process-wide scan pool, one worker per core, or with `helping` one fewer (the
 * calling thread scans too); idle workers never keep the process alive.
 */
function pool(helping: boolean): WorkerPool | undefined {
  const url = siblingModule(import.meta.url, "scan_worker");
  if (!helping) {
    sharedPool ??= new WorkerPool(url);
    return sharedPool;
  }
  const size = availableParallelism() - 1;
  if (size < 1) return undefined;
  helperPool ??= new WorkerPool(url, size);
  return helperPool;
}

/** Options of a scan on the pool. */
export interface WorkerScanOptions {
  signal?: AbortSignal;
  /**
   * Let the calling thread scan too, from the start (while workers boot, ~50–300 ms
   * each) and between worker replies, beside one worker fewer than there are cores.
   * For a CLI that has nothing else to do; a server keeps its event loop free (the
   * default).
   */
  useCallingThread?: boolean;
}

/** What {@linkcode checksumWithWorkers} finds. */
export interface DirChecksum {
  /** `dir:<hex>`, as `HashTree.hash(".")` of the same scan. */
  checksum: string;
  /** Entries below the root. */
  entries: number;
}

/**
 * The `dir:` checksum of `root` (a path of the real disk), scanned in worker threads
 * like {@linkcode scanWithWorkers} but keeping only the entry checksums: no paths,
 * stats or tree to build, send or hold.
 *
 * @example
 * ```ts
 * const { checksum, entries } = await checksumWithWorkers("/srv/context", { useCallingThread: true });
 * ```
 */
export async function checksumWithWorkers(root: string, options: WorkerScanOptions = {}): Promise<DirChecksum> {
  const packed: string[] = [];
  let length = 0;
  await runScan(root, false, options, (batch) => {
    packed.push(batch.sums);
    length += batch.sums.length;
  });
  return { checksum: dirChecksumOfPacked(packed), entries: length / SUM };
}

/**
 * Runs every task of a scan of `root` on the pool (and this thread if asked), handing
 * each result to `absorb`; `withStats` asks for paths and stats besides checksums.
 *
 * @example
 * ```ts
 * await runScan("/srv/context", false, {}, (batch) => sums.push(batch.sums));
 * ```
 */
export async function runScan(
  root: string,
  withStats: boolean,
  options: WorkerScanOptions,
  absorb: (batch: ScanBatch) => void,
): Promise<void> {
  const { signal, useCallingThread = false } = options;
  signal?.throwIfAborted();
  // Throws ENOENT/ENOTDIR with the path, as an inline scan would.
  if (!statSync(root).isDirectory()) readdirSync(root);
  const workers = pool(useCallingThread);
  const queue: ScanTask[] = [{ op: "dir", root, dir: ".", stats: withStats }];
  // Tasks in flight per worker: two hide the message round trip.
  let capacity = useCallingThread ? 0 : (workers as WorkerPool).size * 2;
  let running = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const take = (batch: ScanBatch) => {
    absorb(batch);
    for (const dir of batch.dirs) queue.push({ op: "dir", root, dir, stats: withStats });
    for (let i = 0; i < batch.files.length; i += DIR_BATCH) {
      queue.push({ op: "files", root, paths: batch.files.slice(i, i + DIR_BATCH), stats: withStats });
    }
  };
  if (useCallingThread && workers) {
    // Hand work to a worker only once it is up; until then this thread does it all.
    for (let i = 0; i < workers.size; i++) {
      workers.run({ op: "files", root, paths: [], stats: false }).then(
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
    while (workers && failure === undefined && running < capacity && queue.length > 0) {
      running++;
      workers.run<ScanBatch>(queue.shift() as ScanTask).then(
        (batch) => {
          running--;
          if (failure === undefined) take(batch);
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
        take(runScanTask(queue.shift() as ScanTask));
      } catch (err) {
        failure = err;
      }
      // Let worker replies and new capacity in between tasks.
      if (workers) await new Promise<void>((resolve) => setImmediate(resolve));
      continue;
    }
    if (running === 0 && (queue.length === 0 || failure !== undefined)) break;
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
  }
  if (failure !== undefined) throw failure;
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
  const pools = [sharedPool, helperPool];
  sharedPool = undefined;
  helperPool = undefined;
  await Promise.all(pools.map((p) => p?.close()));
}
