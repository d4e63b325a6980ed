/**
 * The units of work of a local sync, as plain messages: the same handler runs them
 * inline (memory file systems, small jobs) and inside worker threads (the disk).
 * @module
 */
import { type FileSystem, fileSystemFrom } from "../../core/file_system.ts";
import type { Sha256Factory } from "../../core/types.ts";
import {
  makeReceivedDirs,
  type ReceivedDirBatch,
  type ReceivedFileBatch,
  writeReceivedFiles,
} from "../diffcopy/file_batches.ts";
import { SafeTree } from "../diffcopy/safe_tree.ts";
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
  | ({ op: "source-walk" } & SourceRunTask)
  /** Received files of a diff-copy receive (`../diffcopy/file_batches.ts`). */
  | { op: "receive-files"; batch: ReceivedFileBatch }
  /** New directories of a diff-copy receive, made while its entry list arrives. */
  | { op: "receive-dirs"; batch: ReceivedDirBatch };

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
      return walkSourceRun(fileSystemOf(ctx.src), task);
    case "receive-files":
      return writeReceivedFiles(receiveTree(fileSystemOf(ctx.dst), task.batch), ctx.sha256, task.batch);
    case "receive-dirs":
      makeReceivedDirs(receiveTree(fileSystemOf(ctx.dst), task.batch), task.batch);
      return undefined;
  }
}

/** The destinations of the receives this thread writes for, by receive: what each checked stays known. */
const receiveTrees = new Map<string, SafeTree>();

function receiveTree(fs: FileSystem, batch: Pick<ReceivedFileBatch, "session" | "dest">): SafeTree {
  const key = `${batch.session}\0${batch.dest}`;
  let tree = receiveTrees.get(key);
  if (!tree) {
    // a few receives at once at most; the oldest is forgotten (it only costs lstats again)
    if (receiveTrees.size >= 8) receiveTrees.delete(receiveTrees.keys().next().value as string);
    tree = new SafeTree(fs, batch.dest);
    receiveTrees.set(key, tree);
  }
  return tree;
}

const fileSystems = new WeakMap<SyncFs, FileSystem>();

/** A file system as the diff-copy code uses it (names as bytes), made once per file system. */
function fileSystemOf(sync: SyncFs): FileSystem {
  let fs = fileSystems.get(sync);
  if (!fs) {
    fs = fileSystemFrom(sync as unknown as Parameters<typeof fileSystemFrom>[0]);
    fileSystems.set(sync, fs);
  }
  return fs;
}

function applyContext(ctx: TaskContext, owners: boolean): ApplyContext {
  return { src: ctx.src, dst: ctx.dst, sha256: ctx.sha256, owners };
}
