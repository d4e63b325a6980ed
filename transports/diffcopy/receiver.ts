/**
 * The receiving end of the diff-copy protocol (SPEC §5.2–5.3): reads and validates the
 * sender's entry list, diffs it against the destination, applies deletions,
 * directories and links, requests only the files that changed, writes them while
 * hashing, reports every change to the `CacheUpdater`, and ends with FIN. Anything
 * invalid ends the session with ERR to the peer and an `FSCacheError` here; nothing
 * is ever written outside the destination.
 * @module
 */
import { startEntryChecksum } from "../../core/entry_checksum.ts";
import { describeError, FSCacheError } from "../../core/errors.ts";
import type { CacheUpdater, ChangeKind, CopyRequest, RecordedTree } from "../../core/types.ts";
import { fileTime } from "../file_time.ts";
import { ChangePlanner } from "./diff.ts";
import { restoreDirTimes, touchedDirs } from "./dir_times.ts";
import { EarlyDirs } from "./early_dirs.ts";
import { entryStatOf, headerOf } from "./entry_info.ts";
import type { WriteThreads } from "./file_batches.ts";
import { FileReceiver, type FileTransfer } from "./file_receiver.ts";
import { type DiffCopyConnection, type PacketChannel, type PacketReader, packetChannel } from "./framing.ts";
import { type Packet, PacketType, packet, packetTypeName } from "./packet.ts";
import type { PacketWriter } from "./packet_writer.ts";
import { SafeTree } from "./safe_tree.ts";
import { type Snapshot, snapshotFromDisk, snapshotFromRecord } from "./snapshot.ts";
import { type IncomingEntry, type ReceiveLimits, StatValidator } from "./stat_validator.ts";

/** Options of {@linkcode receiveDiffCopy}. */
export interface ReceiveOptions extends Partial<ReceiveLimits> {
  /** Largest frame accepted (default 4 MiB). */
  maxFrameBytes?: number;
  /**
   * Files requested and not yet complete (default 256). A temporary file is open only
   * while its DATA is arriving, so this bounds open files only against a sender that
   * interleaves many files; fsutil sends at most 4 at once.
   */
  maxFilesInFlight?: number;
  /** Declared bytes of the files requested and not yet complete (default 16 MiB; one file may exceed it). */
  maxBytesInFlight?: number;
  /** Other threads to write a large change set's small files on (see `file_batches.ts`). */
  writeThreads?: WriteThreads;
  /**
   * Make each new directory as soon as its STAT is checked, while the sender still
   * walks and the receiving thread mostly waits, instead of after the last STAT: the
   * small benchmark tree's 1,110 directories had held its first REQ back by ~0.1 s. A
   * stream rejected later then leaves those directories behind, so this is for
   * receives into a cache snapshot, which a failed sync leaves marked stale for the
   * next one to repair (the session server and `DiffCopyTransport` turn it on).
   * Default `false`: a stream rejected while its entries are read leaves the
   * destination as it was.
   */
  earlyDirs?: boolean;
}

/** Where a receive writes: the fields of a `CopyRequest` it uses. */
export type ReceiveTarget = Pick<CopyRequest, "dest" | "fs" | "updater"> & {
  signal?: AbortSignal;
  previous?: RecordedTree;
};

/** What a receive did. */
export interface ReceiveResult {
  entries: number;
  added: number;
  modified: number;
  deleted: number;
  filesReceived: number;
  /** File content bytes received. */
  bytesReceived: number;
  /** Bytes read from and written to the wire. */
  wireBytesIn: number;
  wireBytesOut: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function protocolError(message: string, path?: string): FSCacheError {
  return new FSCacheError("ERR_PROTOCOL", message, path === undefined ? {} : { path });
}

/**
 * Receives a tree into `target.dest` over `connection`.
 *
 * @example
 * ```ts
 * const result = await receiveDiffCopy(connection, { dest: "/srv/snap/1", fs, updater });
 * result.filesReceived; // only the files that changed
 * ```
 */
export async function receiveDiffCopy(
  connection: DiffCopyConnection | PacketChannel,
  target: ReceiveTarget,
  options: ReceiveOptions = {},
): Promise<ReceiveResult> {
  const session = new ReceiveSession(connection, target, options);
  const signal = target.signal;
  const onAbort = () => void session.reader.cancel(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await session.run();
  } catch (err) {
    const error = toFSCacheError(err, signal);
    // a thread still writing into the snapshot would race with the receive that repairs it
    await Promise.all([session.files.settle(), session.early.settle()]);
    session.files.discard();
    if (error.code === "ERR_REMOTE" || error.code === "ERR_ABORTED") {
      await session.writer.abort(error);
      await session.reader.cancel(error);
    } else {
      const message = error.path === undefined ? error.message : `${error.message} (path ${error.path})`;
      await session.writer.sendAndAbort(packet(PacketType.ERR, { data: encoder.encode(message) }), error);
      await session.reader.drainThenCancel(error);
    }
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

function toFSCacheError(err: unknown, signal?: AbortSignal): FSCacheError {
  if (signal?.aborted) {
    return new FSCacheError("ERR_ABORTED", "diff-copy receive aborted", { cause: signal.reason });
  }
  if (err instanceof FSCacheError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const path = (err as { path?: unknown } | null)?.path;
  return new FSCacheError(typeof code === "string" ? code : "ERR_TRANSPORT", describeError(err), {
    cause: err,
    path: typeof path === "string" ? path : undefined,
  });
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

class ReceiveSession {
  readonly reader: PacketReader;
  readonly writer: PacketWriter;
  readonly #target: ReceiveTarget;
  readonly #options: ReceiveOptions;
  readonly #tree: SafeTree;
  readonly #updater: CacheUpdater;
  readonly files: FileReceiver;
  /** New directories made while the STATs were still arriving (see `#readStats`). */
  readonly early: EarlyDirs;
  readonly #result: ReceiveResult = {
    entries: 0,
    added: 0,
    modified: 0,
    deleted: 0,
    filesReceived: 0,
    bytesReceived: 0,
    wireBytesIn: 0,
    wireBytesOut: 0,
  };

  constructor(connection: DiffCopyConnection | PacketChannel, target: ReceiveTarget, options: ReceiveOptions) {
    const channel = "reader" in connection ? connection : packetChannel(connection, options.maxFrameBytes);
    this.reader = channel.reader;
    this.writer = channel.writer;
    this.#target = target;
    this.#options = options;
    this.#tree = new SafeTree(target.fs, target.dest);
    // One id for the receive's file and directory batches: a writing thread then keeps
    // one view of the destination for both (the directories it made are checked already).
    const session = crypto.randomUUID();
    this.early = new EarlyDirs(this.#tree, options.writeThreads, session);
    this.#updater = target.updater;
    this.files = new FileReceiver({
      reader: this.reader,
      writer: this.writer,
      tree: this.#tree,
      session,
      sha256: target.updater.sha256,
      ...options,
      done: ({ entry, existed }, checksum) => {
        this.#result.filesReceived++;
        this.#report(existed ? "modify" : "add", entry.path, checksum, entry);
      },
      received: (bytes) => {
        this.#result.bytesReceived += bytes;
      },
      unexpected: (p, expected) => this.#unexpected(p, expected),
    });
  }

  async run(): Promise<ReceiveResult> {
    // What we hold is read first: this thread is idle anyway while the sender walks.
    const { previous, fs, dest } = this.#target;
    const snapshot = previous ? snapshotFromRecord(previous) : snapshotFromDisk(fs, dest);
    const planner = new ChangePlanner(snapshot, {
      compareOwner: previous !== undefined,
      linkTimes: this.#tree.linkTimes,
    });
    const incoming = await this.#readStats(planner, snapshot);
    this.#checkAborted();
    this.#updater.markSupported(true);
    const plan = planner.finish(incoming);
    for (const path of plan.deletes) {
      this.#tree.remove(path);
      this.#report("delete", path);
    }
    const files: FileTransfer[] = [];
    const links: { entry: IncomingEntry; existed: boolean }[] = [];
    for (const { entry, existed } of plan.changes) {
      this.#checkAborted();
      switch (entry.kind) {
        case "dir":
          if (!this.early.has(entry.path)) this.#tree.mkdir(entry.path, entry.mode);
          this.#reportEntry(entry, existed);
          break;
        case "symlink":
          this.#tree.symlink(entry.path, entry.stat.linkname, fileTime(entry.stat.modTime));
          this.#reportEntry(entry, existed);
          break;
        case "file":
          files.push({ entry, existed });
          break;
        case "hardlink":
          links.push({ entry, existed });
          break;
        default:
          throw new FSCacheError("ERR_UNSUPPORTED", `cannot create ${entry.kind} entries`, { path: entry.path });
      }
    }
    await this.files.receive(files);
    if (links.length > 0) {
      const byPath = new Map(incoming.map((e) => [e.path, e]));
      for (const { entry, existed } of links) this.#applyHardLink(entry, existed, byPath);
    }
    this.#tree.finishModes();
    restoreDirTimes(this.#tree, incoming, touchedDirs(plan));
    await this.writer.send(packet(PacketType.FIN));
    const last = await this.reader.next();
    if (last?.type !== PacketType.FIN) throw this.#unexpected(last, "FIN");
    await this.writer.close();
    await this.reader.cancel();
    this.#result.entries = incoming.length;
    this.#result.wireBytesIn = this.reader.wireBytes;
    this.#result.wireBytesOut = this.writer.wireBytes;
    return this.#result;
  }

  #checkAborted(): void {
    if (this.#target.signal?.aborted) throw this.#target.signal.reason;
  }

  /**
   * Reads, checks and plans the STATs up to the empty one that ends them. With
   * `earlyDirs` (see {@linkcode ReceiveOptions}), a new directory is made as soon as
   * its STAT is checked, where nothing must go first: its path is not in the snapshot,
   * and its parent is the root, a directory made here, or one the snapshot holds as a
   * directory (which the STATs keep, so no delete of it can come). Most are made by a
   * writing thread, when there is one (`EarlyDirs`), sent whenever this thread is about
   * to wait for more STATs; all are there when this returns.
   */
  async #readStats(planner: ChangePlanner, snapshot: Snapshot): Promise<IncomingEntry[]> {
    const validator = new StatValidator(this.#options);
    const incoming: IncomingEntry[] = [];
    const early = this.#options.earlyDirs === true;
    for (;;) {
      let p = this.reader.nextBuffered();
      if (!p) {
        this.early.flush();
        p = await this.reader.next();
      }
      if (p?.type !== PacketType.STAT) throw this.#unexpected(p, "STAT");
      if (!p.stat) {
        await this.early.done();
        return incoming;
      }
      const entry = validator.check(p.stat);
      incoming.push(entry);
      const change = planner.add(entry);
      if (early && change && !change.existed && entry.kind === "dir" && this.#parentMade(entry.path, snapshot)) {
        this.#checkAborted();
        this.early.make(entry.path, entry.mode);
      }
    }
  }

  /** Whether `path`'s parent is a directory that stays: see `#readStats`. */
  #parentMade(path: string, snapshot: Snapshot): boolean {
    const slash = path.lastIndexOf("/");
    if (slash === -1) return true;
    const parent = path.slice(0, slash);
    if (this.early.has(parent)) return true;
    const have = snapshot.get(parent);
    return have !== undefined && (have.mode & S_IFMT) === S_IFDIR;
  }

  #unexpected(p: Packet | undefined, expected: string): FSCacheError {
    this.#checkAborted();
    if (!p) return protocolError(`connection closed while waiting for ${expected}`);
    if (p.type === PacketType.ERR) {
      return new FSCacheError("ERR_REMOTE", `sender failed: ${decoder.decode(p.data)}`);
    }
    return protocolError(`unexpected ${packetTypeName(p.type)} packet while waiting for ${expected}`);
  }

  #report(kind: ChangeKind, path: string, checksum?: string, entry?: IncomingEntry): void {
    if (kind === "delete") this.#result.deleted++;
    else if (kind === "add") this.#result.added++;
    else this.#result.modified++;
    this.#updater.handleChange(kind, path, checksum, entry && entryStatOf(entry));
  }

  #reportEntry(entry: IncomingEntry, existed: boolean): void {
    const hash = startEntryChecksum(this.#updater.sha256, headerOf(entry)!);
    this.#report(existed ? "modify" : "add", entry.path, hash.digest(), entry);
  }

  #applyHardLink(entry: IncomingEntry, existed: boolean, byPath: Map<string, IncomingEntry>): void {
    const targetPath = entry.stat.linkname;
    const target = byPath.get(targetPath) as IncomingEntry;
    const have = this.#tree.lstat(entry.path);
    const targetStat = this.#tree.lstat(targetPath);
    if (have?.isFile() && targetStat && have.ino === targetStat.ino && have.dev === targetStat.dev) return;
    this.#tree.link(entry.path, targetPath);
    const hash = startEntryChecksum(this.#updater.sha256, headerOf(target, entry.path)!);
    const fs = this.#target.fs;
    const fd = fs.openSync(this.#tree.full(entry.path), "r");
    try {
      const buf = new Uint8Array(64 * 1024);
      for (let n = fs.readSync(fd, buf, 0, buf.length, null); n > 0; n = fs.readSync(fd, buf, 0, buf.length, null)) {
        hash.update(buf.subarray(0, n));
      }
    } finally {
      fs.closeSync(fd);
    }
    this.#report(existed ? "modify" : "add", entry.path, hash.digest(), entry);
  }
}
