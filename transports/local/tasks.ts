/**
 * The units of work of a local sync, as plain messages: the same handler runs them
 * inline (memory file systems, small jobs) and inside worker threads (the disk).
 * @module
 */
import { type FileSystem, fileSystemFrom } from "../../core/file_system.ts";
import type { Sha256Factory } from "../../core/types.ts";
import { type SourceRunTask, walkSourceRun } from "../diffcopy/source_runs.ts";
import { type ApplyContext, applyDeletes, applyDirMeta, applyDirs, applyFiles, type EntryBatch } from "./apply.ts";
import type { SyncFs } from "./sync_fs.ts";
import { type WalkOptions, type WalkResult, walkTree } from "./walk.ts";

/** One message of work. */
export type Task =
  | { op: "walk"; side: "src" | "dst"; root: string; options: WalkOptions }
  | { op: "delete"; dest: string; paths: string[] }
  | { op: "dirs"; dest: string; batch: EntryBatch; owners: boolean }
  | { op: "files"; source: string; dest: string; batch: EntryBatch; owners: boolean }
  | { op: "meta"; dest: string; batch: EntryBatch }
  /** One run of the push client's walk (`../diffcopy/source_runs.ts`). */
  | ({ op: "source-walk" } & SourceRunTask);

/** The file systems a task runs on. */
export interface TaskContext {
  src: SyncFs;
  dst: SyncFs;
  sha256: Sha256Factory;
}

/**
 * Runs one task synchronously.
 *
 * @example
 * ```ts
 * const walk = runTask({ src: fs, dst: fs, sha256: nodeSha256 }, { op: "walk", root: "/src", options: {} });
 * ```
 */
export function runTask(ctx: TaskContext, task: Task): unknown {
  switch (task.op) {
    case "walk":
      return walkTree(task.side === "src" ? ctx.src : ctx.dst, task.root, task.options) satisfies WalkResult;
    case "delete":
      applyDeletes(ctx.dst, task.dest, task.paths);
      return undefined;
    case "dirs":
      return applyDirs(applyContext(ctx, task.owners), task.dest, task.batch);
    case "files":
      return applyFiles(applyContext(ctx, task.owners), task.source, task.dest, task.batch);
    case "meta":
      applyDirMeta(ctx.dst, task.dest, task.batch);
      return undefined;
    case "source-walk":
      return walkSourceRun(sourceFs(ctx), task);
  }
}

const sourceFileSystems = new WeakMap<SyncFs, FileSystem>();

/** The source as the diff-copy walk reads it (names as bytes), made once per file system. */
function sourceFs(ctx: TaskContext): FileSystem {
  let fs = sourceFileSystems.get(ctx.src);
  if (!fs) {
    fs = fileSystemFrom(ctx.src as unknown as Parameters<typeof fileSystemFrom>[0]);
    sourceFileSystems.set(ctx.src, fs);
  }
  return fs;
}

function applyContext(ctx: TaskContext, owners: boolean): ApplyContext {
  return { src: ctx.src, dst: ctx.dst, sha256: ctx.sha256, owners };
}
