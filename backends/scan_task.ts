/**
 * One unit of a scan: list and hash a directory, or hash a batch of files, with
 * synchronous `node:fs` calls (~1 µs each, against ~50 µs awaited) and `node:crypto`.
 * Names that are not UTF-8 are read as bytes and travel escaped (`core/names.ts`);
 * their paths go to `node:fs` as bytes. Kept apart from `scan_worker.ts` so the main
 * thread can run tasks without loading the worker module.
 * @module
 */
import { Buffer } from "node:buffer";
import * as nodeFs from "node:fs";
import type { FileSystem } from "../core/file_system.ts";
import { decodeName, encodeName } from "../core/names.ts";
import { hashEntrySync, READ_CHUNK } from "../core/tree_scan.ts";
import { nodeSha256 } from "./node_sha256.ts";

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

const fs = nodeFs as unknown as FileSystem;
/** Allocated on first use, so a thread that never hashes never holds it. */
let buffer: Buffer | undefined;
const REPLACEMENT = "\ufffd";

function hasEscapes(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc80 && c <= 0xdcff) return true;
  }
  return false;
}

/** What to hand `node:fs` for `root/rel`: a string, or bytes when `rel` holds escaped bytes. */
function fsPath(root: string, rel: string): string {
  const text = rel === "." ? root : `${root}/${rel}`;
  if (!hasEscapes(rel)) return text;
  return Buffer.from(encodeName(text)) as unknown as string;
}

function listDir(path: string): string[] {
  const names = nodeFs.readdirSync(path);
  if (!names.some((n) => n.includes(REPLACEMENT))) return names;
  // Some name is not UTF-8 (or really holds U+FFFD): read the bytes to tell which.
  return nodeFs.readdirSync(path, { encoding: "buffer" }).map((b) => decodeName(b));
}

function hashInto(out: ScanBatch, root: string, rel: string, stats: nodeFs.Stats): void {
  const full = fsPath(root, rel);
  let link: string | undefined;
  if (stats.isSymbolicLink()) link = decodeName(nodeFs.readlinkSync(full, { encoding: "buffer" }));
  buffer ??= Buffer.allocUnsafe(READ_CHUNK);
  const entry = hashEntrySync(fs, full, rel, stats, nodeSha256, buffer, link);
  if (!entry) return;
  const s = entry.stat;
  if (link !== undefined) out.links.push([out.paths.length, link]);
  out.paths.push(rel);
  out.checksums.push(entry.checksum);
  out.stats.push(s.mode, s.uid, s.gid, s.size, s.mtimeMs);
}

function lstatOrSkip(path: string): nodeFs.Stats | undefined {
  try {
    return nodeFs.lstatSync(path);
  } catch (err) {
    // Deleted since it was listed: a scan of a tree that changes meanwhile is best effort.
    if ((err as { code?: string }).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Runs one task synchronously; workers call it, and so may the main thread when it
 * has nothing better to do (the CLI).
 *
 * @example
 * ```ts
 * const batch = runScanTask({ op: "dir", root: "/srv/ctx", dir: "." });
 * ```
 */
export function runScanTask(task: ScanTask): ScanBatch {
  const out: ScanBatch = { paths: [], checksums: [], stats: [], links: [], dirs: [], files: [] };
  if (task.op === "files") {
    for (const rel of task.paths) {
      const stats = lstatOrSkip(fsPath(task.root, rel));
      if (stats) hashInto(out, task.root, rel, stats);
    }
    return out;
  }
  let hashed = 0;
  for (const name of listDir(fsPath(task.root, task.dir))) {
    const rel = task.dir === "." ? name : `${task.dir}/${name}`;
    const stats = lstatOrSkip(fsPath(task.root, rel));
    if (!stats) continue;
    if (stats.isDirectory()) {
      hashInto(out, task.root, rel, stats);
      out.dirs.push(rel);
    } else if (hashed < DIR_BATCH) {
      hashInto(out, task.root, rel, stats);
      hashed++;
    } else out.files.push(rel);
  }
  return out;
}
