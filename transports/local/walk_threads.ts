/**
 * Worker threads for the push client's walk of a large tree: the local transport's
 * workers (`worker.ts`), which also walk one run of a diff-copy source walk.
 * @module
 */
import { availableParallelism } from "node:os";
import { siblingModule, WorkerPool } from "../../backends/worker_pool.ts";
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
export function diskWalkThreads(threads: number = availableParallelism()): WalkThreads & { close(): Promise<void> } {
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
