/**
 * The messages between {@linkcode workerScanner} and its workers (`scan_worker.ts`),
 * in a module of their own so the main thread never loads the worker module.
 * @module
 */

/** A task: list and hash directory `dir`, or hash the entries `paths` (relative to `root`). */
export type ScanTask = { op: "dir"; root: string; dir: string } | { op: "files"; root: string; paths: string[] };

/** A task's result: hashed entries (flattened to clone fast), plus work left to schedule. */
export interface ScanBatch {
  paths: string[];
  checksums: string[];
  /** mode, uid, gid, size, mtimeMs per entry. */
  stats: number[];
  /** Symlink targets by index into `paths`. */
  links: [index: number, target: string][];
  /** Subdirectories to list next. */
  dirs: string[];
  /** Files of a big directory left for other workers. */
  files: string[];
}

/** Entries a directory task hashes itself; the rest go back as `files` batches. */
export const DIR_BATCH = 256;
