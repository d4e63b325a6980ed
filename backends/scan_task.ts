/**
 * One unit of a scan: walk a directory (and, while its budget lasts, the directories
 * below it), or hash a batch of files, with synchronous `node:fs` calls (~1 µs each,
 * against ~50 µs awaited) and `node:crypto`. Names that are not UTF-8 are read as
 * bytes and travel escaped (`core/names.ts`); their paths go to `node:fs` as bytes.
 * Kept apart from `scan_worker.ts` so the main thread can run tasks without loading
 * the worker module.
 * @module
 */
import { Buffer } from "node:buffer";
import * as nodeFs from "node:fs";
import { entryHeaderText, entryStatOf, headerFromStats } from "../core/entry_checksum.ts";
import { hashEntrySync, READ_CHUNK } from "../core/entry_hash.ts";
import { FSCacheError } from "../core/errors.ts";
import type { FileStats, FileSystem } from "../core/file_system.ts";
import { decodeName } from "../core/names.ts";
import { diskPath, readNamesSync } from "./disk_fs.ts";
import { closeSync, openSync, readSync } from "./node_file_io.ts";
import { lstatSync } from "./node_lstat.ts";
import { nodeSha256, sha256Hex } from "./node_sha256.ts";

/**
 * A task: walk directory `dir`, or hash the entries `paths` (relative to `root`).
 * `stats: false` asks for checksums only (all `fscache checksum` prints), which
 * spares building and sending paths and stats.
 */
export type ScanTask =
  | { op: "dir"; root: string; dir: string; stats: boolean }
  | { op: "files"; root: string; paths: string[]; stats: boolean };

/** A task's result: hashed entries (flattened to clone fast), plus work left to schedule. */
export interface ScanBatch {
  /** Entry checksums, 64 hex digits each, one after the other. */
  sums: string;
  /** With `stats`: each entry's path, in the order of `sums`. */
  paths: string[];
  /** With `stats`: mode, uid, gid, size, mtimeMs per entry. */
  stats: number[];
  /** With `stats`: symlink targets by index into `paths`. */
  links: [index: number, target: string][];
  /** Directories left to walk. */
  dirs: string[];
  /** Files of a big directory left for other tasks. */
  files: string[];
}

/** Files a directory task hashes itself; the rest go back as `files` batches. */
export const DIR_BATCH = 256;
/**
 * Work one task does before it hands the directories it has not entered back: entries
 * plus 32 KiB units of content (hashing 32 KiB costs about what an entry's four system
 * calls do), ~10 ms. Big enough that the per-task message cost (~0.1 ms) is small,
 * small enough that no thread waits long for the last task.
 */
const TASK_BUDGET = 300;

const fs = nodeFs as unknown as FileSystem;
/** Allocated on first use, so a thread that never hashes never holds it. */
let buffer: Buffer | undefined;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** `root/rel` (`root` itself for `.`). */
function fullPath(root: string, rel: string): string {
  return rel === "." ? root : `${root}/${rel}`;
}

/** What to hand `node:fs` for `root/rel`: a string, or bytes when it holds escaped bytes. */
function fsPath(root: string, rel: string): string {
  return diskPath(fullPath(root, rel));
}

/**
 * Reads all `size` bytes of the file at `path` into `into` from `offset`. Stops at
 * `size` (what the header announced), so header and content always agree.
 */
function readWhole(path: string, size: number, into: Buffer, offset: number): void {
  const fd = openSync(path, "r");
  try {
    let done = 0;
    while (done < size) {
      const n = readSync(fd, into, offset + done, size - done, null);
      if (n === 0) break;
      done += n;
    }
    if (done < size) {
      throw new FSCacheError("ERR_SOURCE_CHANGED", `file shrank while it was hashed: ${path}`, { path });
    }
  } finally {
    closeSync(fd);
  }
}

/** Hashes one entry into `out`; returns the work it cost (see `TASK_BUDGET`). */
function hashInto(out: ScanBatch, root: string, rel: string, stats: FileStats, withStats: boolean): number {
  const full = fsPath(root, rel);
  const type = stats.mode & S_IFMT;
  const link = type === S_IFLNK ? decodeName(nodeFs.readlinkSync(full, { encoding: "buffer" })) : undefined;
  const header = headerFromStats(rel, stats, link);
  if (!header) return 1;
  buffer ??= Buffer.allocUnsafe(READ_CHUNK);
  const text = entryHeaderText(header);
  let sum: string;
  if (text !== undefined && header.size === 0) {
    sum = sha256Hex(text);
  } else {
    // Most files fit the buffer after their header: read them behind it and hash once.
    // (`write(text)` writes at 0 without the offset checks `write(text, 0)` runs per file.)
    const headerBytes = text === undefined ? buffer.length : buffer.write(text);
    if (headerBytes + header.size < buffer.length) {
      readWhole(full, header.size, buffer, headerBytes);
      sum = sha256Hex(buffer.subarray(0, headerBytes + header.size));
    } else {
      sum = (hashEntrySync(fs, full, rel, stats, nodeSha256, buffer, link) as { checksum: string }).checksum;
    }
  }
  out.sums += sum;
  if (withStats) {
    const s = entryStatOf(stats, header.size, link);
    if (link !== undefined) out.links.push([out.paths.length, link]);
    out.paths.push(rel);
    out.stats.push(s.mode, s.uid, s.gid, s.size, s.mtimeMs);
  }
  return 1 + (header.size >>> 15);
}

function lstatOrSkip(path: string): FileStats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    // Deleted since it was listed: a scan of a tree that changes meanwhile is best effort.
    if ((err as { code?: string }).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Lists and hashes `dir`, then enters its subdirectories while the budget lasts; returns work left. */
function walk(out: ScanBatch, root: string, dir: string, withStats: boolean, budget: number): number {
  const subdirs: string[] = [];
  let hashed = 0;
  for (const name of readNamesSync(fullPath(root, dir))) {
    const rel = dir === "." ? name : `${dir}/${name}`;
    const stats = lstatOrSkip(fsPath(root, rel));
    if (!stats) continue;
    if ((stats.mode & S_IFMT) === S_IFDIR) {
      budget -= hashInto(out, root, rel, stats, withStats);
      subdirs.push(rel);
    } else if (hashed < DIR_BATCH) {
      budget -= hashInto(out, root, rel, stats, withStats);
      hashed++;
    } else out.files.push(rel);
  }
  for (const sub of subdirs) {
    if (budget > 0) budget = walk(out, root, sub, withStats, budget);
    else out.dirs.push(sub);
  }
  return budget;
}

/**
 * Runs one task synchronously; workers call it, and so may the main thread when it
 * has nothing better to do (the CLI).
 *
 * @example
 * ```ts
 * const batch = runScanTask({ op: "dir", root: "/srv/ctx", dir: ".", stats: true });
 * ```
 */
export function runScanTask(task: ScanTask): ScanBatch {
  const out: ScanBatch = { sums: "", paths: [], stats: [], links: [], dirs: [], files: [] };
  if (task.op === "files") {
    for (const rel of task.paths) {
      const stats = lstatOrSkip(fsPath(task.root, rel));
      if (stats) hashInto(out, task.root, rel, stats, task.stats);
    }
    return out;
  }
  walk(out, task.root, task.dir, task.stats, TASK_BUDGET);
  return out;
}
