/**
 * Received files written in batches, on another thread: the content of small files
 * gathered whole on the receiving thread, then created, written, hashed, chmod-ed,
 * timed and (over an old path) renamed into place with the same {@linkcode SafeTree}
 * rules as the receiver's own writes (SPEC §5.3). Runtime-agnostic: the caller says
 * which thread runs a batch.
 * @module
 */
import { type EntryHeader, startEntryChecksum } from "../../core/entry_checksum.ts";
import type { FileSystem } from "../../core/file_system.ts";
import type { Sha256Factory } from "../../core/types.ts";
import { fileTime } from "../file_time.ts";
import type { SafeTree } from "./safe_tree.ts";

/** Complete files for one thread to write below `dest`. */
export interface ReceivedFileBatch {
  dest: string;
  /**
   * One receive's own id: a writing thread may keep which directories it checked for the
   * batches of one receive, never for another's (that one may have replaced them).
   */
  session: string;
  paths: string[];
  /** Permission bits. */
  modes: number[];
  /** Sender mtimes, ns. */
  modTimes: bigint[];
  /** The path held something before (see `SafeTree.openFile`). */
  existed: boolean[];
  /** Entry headers the checksums start from. */
  headers: EntryHeader[];
  /** The files' content, each at its offset; handed back when written, to be filled again. */
  data: Uint8Array;
  offsets: number[];
  sizes: number[];
}

/**
 * New directories for another thread to make below `dest`, in walk order (a parent
 * before what it holds), while the receiving thread goes on reading the entry list.
 */
export interface ReceivedDirBatch {
  dest: string;
  /** As {@linkcode ReceivedFileBatch.session}. */
  session: string;
  paths: string[];
  /** Modes as the sender stated them (see `SafeTree.mkdir`). */
  modes: number[];
}

/** What writing a batch answers: each file's entry checksum (hex), in order, and the batch's buffer. */
export interface WrittenFiles {
  sums: string[];
  data: Uint8Array;
}

/** Where batches are written. */
export interface WriteThreads {
  /** Threads writing at once (0: none, everything is written on the receiving thread). */
  lanes: number;
  /** Change sets from this many files (default 512) or bytes (default 16 MiB) on are written elsewhere. */
  minFiles?: number;
  minBytes?: number;
  /** True when batches for this file system can be written elsewhere (the disk). */
  accepts(fs: FileSystem): boolean;
  /** Writes a batch elsewhere (its buffer moved there and back, not copied). */
  write(batch: ReceivedFileBatch): Promise<WrittenFiles>;
  /**
   * Makes a batch's directories on one thread, batches in the order they are given, so
   * that a parent made by one batch is there for the next. Absent: the receiving thread
   * makes them itself.
   */
  makeDirs?(batch: ReceivedDirBatch): Promise<void>;
  /**
   * Batch buffers handed back, kept here for the receives to come (each takes from it
   * and returns to it, up to what one receive holds at most). Without it, each receive
   * allocates its own (eight of 4 MiB with two lanes), whose pages the kernel faults in
   * and zeroes again, and a server holds the last receive's until they are collected.
   * Absent: each receive keeps its own.
   */
  spare?: Uint8Array[];
}

/**
 * Writes a batch synchronously (what a writing thread does); answers the entry
 * checksums. On a failure the file being written is removed (a temporary file, or the
 * new path it was being written to), as the receiver's own cleanup does.
 *
 * @example
 * ```ts
 * const { sums } = writeReceivedFiles(new SafeTree(fs, batch.dest), nodeSha256, batch);
 * ```
 */
export function writeReceivedFiles(tree: SafeTree, sha256: Sha256Factory, batch: ReceivedFileBatch): WrittenFiles {
  const out: string[] = [];
  for (let i = 0; i < batch.paths.length; i++) {
    const path = batch.paths[i] as string;
    const at = batch.offsets[i] as number;
    const data = batch.data.subarray(at, at + (batch.sizes[i] as number));
    const target = tree.openFile(path, batch.existed[i] as boolean, data.length, batch.modes[i] as number);
    let open = true;
    try {
      tree.write(target, data);
      const hash = startEntryChecksum(sha256, batch.headers[i] as EntryHeader);
      hash.update(data);
      open = false; // closed by finishFile even when it fails
      tree.finishFile(target, path, data.length, batch.modes[i] as number, fileTime(batch.modTimes[i] as bigint));
      out.push(hash.digest());
    } catch (err) {
      tree.abandonFile(target, open);
      throw err;
    }
  }
  return { sums: out, data: batch.data };
}

/**
 * Makes a batch's directories with {@linkcode SafeTree.mkdir}, in order (what a writing
 * thread does for `WriteThreads.makeDirs`); the first failure ends the batch.
 *
 * @example
 * ```ts
 * makeReceivedDirs(new SafeTree(fs, batch.dest), batch);
 * ```
 */
export function makeReceivedDirs(tree: SafeTree, batch: ReceivedDirBatch): void {
  for (let i = 0; i < batch.paths.length; i++) tree.mkdir(batch.paths[i] as string, batch.modes[i] as number);
}
