/**
 * Worker threads for the diff-copy ends on the disk: the push client's walk of a large
 * tree and the receiver's writes of a large change set. They are the local transport's
 * workers (`worker.ts`), which run these tasks too.
 * @module
 */
import { availableParallelism } from "node:os";
import { isDiskFs } from "../../backends/disk_fs.ts";
import { siblingModule, WorkerPool } from "../../backends/worker_pool.ts";
import { type FileSystem, nodeStyleModuleOf } from "../../core/file_system.ts";
import type { ReceivedDirBatch, ReceivedFileBatch, WriteThreads, WrittenFiles } from "../diffcopy/file_batches.ts";
import type { SourceRun, SourceRunTask, WalkThreads } from "../diffcopy/source_runs.ts";

/**
 * Walk threads on the disk for `sendDiffCopy`'s `walkThreads`; workers start only when a
 * walk proves large. Close it when the send is done.
 *
 * @example
 * ```ts
 * const walkThreads = diskWalkThreads();
 * try { await sendDiffCopy(connection, { fs, root, walkThreads }); } finally { await walkThreads.close(); }
 * ```
 */
export function diskWalkThreads(
  // one core left to the rest (the kernel, a server on the same machine): with two, a
  // second walking thread cost more CPU than it saved wall time (see docs/PROTOCOL.md)
  threads: number = availableParallelism() - 1,
): WalkThreads & { close(): Promise<void> } {
  let pool: WorkerPool | undefined;
  return {
    threads,
    walk(task: SourceRunTask): Promise<SourceRun> {
      pool ??= new WorkerPool(siblingModule(import.meta.url, "worker"), Math.max(1, threads - 1));
      return pool.run<SourceRun>({ op: "source-walk", ...task });
    },
    async close() {
      await pool?.close();
      pool = undefined;
    },
  };
}

/** The most write threads a receiver uses by default, however many cores there are. */
const MAX_WRITE_LANES = 4;

/**
 * Write threads on the disk for the receiver's `writeThreads` (a server keeps them for
 * all its sessions: they start with the first large receive). Close it on shutdown.
 *
 * @example
 * ```ts
 * const writeThreads = diskWriteThreads();
 * await receiveDiffCopy(connection, target, { writeThreads });
 * await writeThreads.close();
 * ```
 */
export function diskWriteThreads(
  // as many as the cores, at most four: on two cores, two writing threads made first
  // pushes faster than one, and one faster than none (round 19, docs/PROTOCOL.md); one
  // receiving thread feeds them all, and each holds up to two 4 MiB buffers
  lanes: number = Math.min(availableParallelism(), MAX_WRITE_LANES),
): WriteThreads & { close(): Promise<void> } {
  let pool: WorkerPool | undefined;
  const started = () => (pool ??= new WorkerPool(siblingModule(import.meta.url, "worker"), Math.max(1, lanes)));
  return {
    lanes,
    spare: [],
    accepts: isDisk,
    write(batch: ReceivedFileBatch): Promise<WrittenFiles> {
      return started().run<WrittenFiles>({ op: "receive-files", batch }, [batch.data.buffer as ArrayBuffer]);
    },
    // all on the first thread, which runs its tasks in the order they were sent
    async makeDirs(batch: ReceivedDirBatch): Promise<void> {
      await started().run({ op: "receive-dirs", batch }, [], 0);
    },
    async close() {
      await pool?.close();
      pool = undefined;
    },
  };
}

/** True for the real disk (not a wrapper that changes some calls): workers use their own. */
function isDisk(fs: FileSystem): boolean {
  return isDiskFs(nodeStyleModuleOf(fs));
}
