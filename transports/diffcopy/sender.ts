/**
 * The sending end of the diff-copy protocol (SPEC §5.2): walks a directory in walk
 * order, sends one STAT per entry (numbered from 0) and an empty STAT, then serves
 * REQ{id} with DATA chunks and an empty DATA, a few files at a time, until the
 * receiver's FIN, which it answers with FIN.
 * @module
 */
import { describeError, FSCacheError } from "../../core/errors.ts";
import type { FileSystem } from "../../core/file_system.ts";
import { compareWalkOrder } from "../../core/names.ts";
import { joinPath } from "../../core/path.ts";
import { excludeMatcher } from "./excludes.ts";
import { goModeFromPosix } from "./file_mode.ts";
import { type DiffCopyConnection, PacketReader, PacketWriter } from "./framing.ts";
import { PacketType, packet, packetTypeName, type Stat, stat } from "./packet.ts";

/** Options of {@linkcode sendDiffCopy}. */
export interface SendOptions {
  fs: FileSystem;
  /** The directory to send. */
  root: string;
  signal?: AbortSignal;
  /** Files sent at once (default 4, as fsutil). */
  concurrency?: number;
  /** DATA chunk size (default 32 KiB, as fsutil). */
  chunkSize?: number;
  /** Largest frame accepted from the receiver (default 4 MiB). */
  maxFrameBytes?: number;
  /** `.dockerignore` patterns left out of the walk (matched as the local transport does). */
  excludes?: readonly string[];
  /** Told the bytes of every DATA chunk sent, for progress displays. */
  onData?(bytes: number): void;
}

/** What a send did. */
export interface SendResult {
  entries: number;
  filesSent: number;
  /** File content bytes sent. */
  bytesSent: number;
  /** Bytes written to and read from the wire. */
  wireBytesOut: number;
  wireBytesIn: number;
}

/** One entry of the sender's walk. */
export interface SourceEntry {
  stat: Stat;
  /** Full path on the sender's file system. */
  full: string;
}

const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Walks `root` (without following symlinks) into STATs in walk order. Sockets are
 * skipped; a second path to an inode already seen becomes a hard link (fsutil's rule).
 * Excluded entries are left out; an excluded directory is still entered when a `!`
 * exception could re-include something below it, and kept only if something was.
 *
 * @example
 * ```ts
 * const entries = walkSource(fs, "/home/me/project", ["node_modules"]);
 * entries[0].stat.path; // "a.txt"
 * ```
 */
export function walkSource(fs: FileSystem, root: string, excludes: readonly string[] = []): SourceEntry[] {
  const out: SourceEntry[] = [];
  const inodes = new Map<string, string>();
  const matcher = excludeMatcher(excludes);
  const walk = (rel: string, parentExcluded: boolean) => {
    for (const name of fs.readdirSync(joinPath(root, rel)).sort(compareWalkOrder)) {
      const path = rel === "." ? name : `${rel}/${name}`;
      const ignored = matcher?.ignores(path) ?? false;
      const excluded = parentExcluded || ignored;
      if (excluded && !matcher?.hasExceptions) continue;
      const full = joinPath(root, path);
      const st = fs.lstatSync(full);
      const type = st.mode & S_IFMT;
      if (type === S_IFSOCK) continue;
      if (excluded && ignored && !st.isDirectory()) continue;
      const s = stat({
        path,
        mode: goModeFromPosix(st.mode),
        uid: st.uid,
        gid: st.gid,
        // whole microseconds: a double mtimeMs holds no more, and a receiver that stores
        // this value and reads it back must get the same number again
        modTime: BigInt(Math.round(st.mtimeMs * 1000)) * 1000n,
      });
      if (!st.isDirectory()) s.size = st.size;
      if (st.isSymbolicLink()) s.linkname = fs.readlinkSync(full);
      if (st.isFile() && st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = inodes.get(key);
        if (first === undefined) inodes.set(key, path);
        // fsutil keeps the size on hard links (its mkstat sets it after the link check)
        else s.linkname = first;
      }
      out.push({ stat: s, full });
      if (st.isDirectory()) {
        const index = out.length;
        const dirExcluded = excluded && ignored;
        walk(path, dirExcluded);
        // an excluded directory nothing below was re-included from is left out again
        if (dirExcluded && out.length === index) out.pop();
      }
    }
  };
  walk(".", false);
  return out;
}

/** A queue of file ids that workers wait on. */
class Jobs {
  readonly #items: [number, string][] = [];
  readonly #waiters: ((job: [number, string] | undefined) => void)[] = [];
  #closed = false;
  push(job: [number, string]): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(job);
    else this.#items.push(job);
  }
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
  }
  take(): Promise<[number, string] | undefined> {
    const job = this.#items.shift();
    if (job || this.#closed) return Promise.resolve(job);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/**
 * Sends the tree at `options.root` over `connection`.
 *
 * @example
 * ```ts
 * const result = await sendDiffCopy(connection, { fs, root: "/home/me/project" });
 * result.bytesSent; // 0 when the receiver already had everything
 * ```
 */
export async function sendDiffCopy(connection: DiffCopyConnection, options: SendOptions): Promise<SendResult> {
  const { fs, signal } = options;
  const reader = new PacketReader(connection.readable, options.maxFrameBytes);
  const writer = new PacketWriter(connection.writable);
  const result: SendResult = { entries: 0, filesSent: 0, bytesSent: 0, wireBytesOut: 0, wireBytesIn: 0 };
  const jobs = new Jobs();
  let failure: FSCacheError | undefined;
  let stopping: Promise<void> | undefined;
  const fail = (err: unknown) => {
    if (failure) return;
    failure = signal?.aborted
      ? new FSCacheError("ERR_ABORTED", "diff-copy send aborted", { cause: signal.reason })
      : err instanceof FSCacheError
        ? err
        : new FSCacheError("ERR_TRANSPORT", describeError(err), { cause: err });
    jobs.close();
    stopping = (async () => {
      if (failure.code === "ERR_REMOTE") await writer.abort(failure);
      else await writer.sendAndAbort(packet(PacketType.ERR, { data: encoder.encode(failure.message) }), failure);
      await reader.cancel(failure);
    })();
  };
  const onAbort = () => fail(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const entries = walkSource(fs, options.root, options.excludes);
    result.entries = entries.length;
    const files = new Map<number, string>();
    entries.forEach((entry, id) => {
      if ((entry.stat.mode & 0x8f280000) === 0) files.set(id, entry.full);
    });
    const readLoop = async () => {
      for (;;) {
        const p = await reader.next();
        if (!p) throw new FSCacheError("ERR_PROTOCOL", "connection closed before FIN");
        if (p.type === PacketType.FIN) return;
        if (p.type === PacketType.ERR) {
          throw new FSCacheError("ERR_REMOTE", `receiver failed: ${decoder.decode(p.data)}`);
        }
        if (p.type !== PacketType.REQ) {
          throw new FSCacheError("ERR_PROTOCOL", `unexpected ${packetTypeName(p.type)} packet from the receiver`);
        }
        const full = files.get(p.id);
        if (full === undefined) throw new FSCacheError("ERR_PROTOCOL", `REQ for unknown or repeated id ${p.id}`);
        files.delete(p.id);
        jobs.push([p.id, full]);
      }
    };
    const sendStats = async () => {
      for (const entry of entries) {
        if (failure) return;
        await writer.send(packet(PacketType.STAT, { stat: entry.stat }));
      }
      await writer.send(packet(PacketType.STAT));
    };
    const chunkSize = options.chunkSize ?? 32 * 1024;
    const worker = async () => {
      const buf = new Uint8Array(chunkSize);
      for (let job = await jobs.take(); job && !failure; job = await jobs.take()) {
        const [id, full] = job;
        let fd: number | undefined;
        try {
          fd = fs.openSync(full, "r");
        } catch {
          // vanished since the walk: an empty file, as fsutil does; the receiver sees the size differ
        }
        if (fd !== undefined) {
          try {
            for (
              let n = fs.readSync(fd, buf, 0, chunkSize, null);
              n > 0;
              n = fs.readSync(fd, buf, 0, chunkSize, null)
            ) {
              if (failure) return;
              await writer.send(packet(PacketType.DATA, { id, data: buf.subarray(0, n) }));
              result.bytesSent += n;
              options.onData?.(n);
            }
          } finally {
            fs.closeSync(fd);
          }
        }
        await writer.send(packet(PacketType.DATA, { id }));
        result.filesSent++;
      }
    };
    const workers = Array.from({ length: Math.max(1, options.concurrency ?? 4) }, () => worker().catch(fail));
    await Promise.all([readLoop().then(() => jobs.close(), fail), sendStats().catch(fail), ...workers]);
    if (!failure) {
      await writer.send(packet(PacketType.FIN));
      await writer.close();
      await reader.cancel();
    }
  } catch (err) {
    fail(err);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  if (failure) {
    await stopping;
    throw failure;
  }
  result.wireBytesOut = writer.wireBytes;
  result.wireBytesIn = reader.wireBytes;
  return result;
}
