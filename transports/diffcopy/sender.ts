/**
 * The sending end of the diff-copy protocol (SPEC §5.2): walks a directory in walk
 * order, sends one STAT per entry (numbered from 0) and an empty STAT, then serves
 * REQ{id} with DATA chunks and an empty DATA, file after file into large batched
 * writes, until the receiver's FIN, which it answers with FIN.
 * @module
 */
import { describeError, FSCacheError } from "../../core/errors.ts";
import type { FileSystem } from "../../core/file_system.ts";
import { compareWalkOrder } from "../../core/names.ts";
import { joinPath } from "../../core/path.ts";
import { excludeMatcher } from "./excludes.ts";
import { goModeFromPosix } from "./file_mode.ts";
import { type DiffCopyConnection, type PacketChannel, packetChannel } from "./framing.ts";
import { PacketType, packet, packetTypeName, type Stat, stat } from "./packet.ts";

/** Options of {@linkcode sendDiffCopy}. */
export interface SendOptions {
  fs: FileSystem;
  /** The directory to send. */
  root: string;
  signal?: AbortSignal;
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

/**
 * Sends the tree at `options.root` over `connection` (a byte connection, or the packet
 * channel of a session). STATs go out in large batched writes; REQs are served as they
 * come, every file already asked for read synchronously into the next batch, so one
 * write carries many small files and the receiver's next REQs arrive while it is sent.
 *
 * @example
 * ```ts
 * const result = await sendDiffCopy(connection, { fs, root: "/home/me/project" });
 * result.bytesSent; // 0 when the receiver already had everything
 * ```
 */
export async function sendDiffCopy(
  connection: DiffCopyConnection | PacketChannel,
  options: SendOptions,
): Promise<SendResult> {
  const { fs, signal } = options;
  const { reader, writer } = "reader" in connection ? connection : packetChannel(connection, options.maxFrameBytes);
  const result: SendResult = { entries: 0, filesSent: 0, bytesSent: 0, wireBytesOut: 0, wireBytesIn: 0 };
  let failure: FSCacheError | undefined;
  let stopping: Promise<void> | undefined;
  // ids asked for and not yet served, and a wake-up for the pump waiting on them
  const asked: [id: number, full: string][] = [];
  let finished = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const fail = (err: unknown) => {
    if (failure) return;
    failure = signal?.aborted
      ? new FSCacheError("ERR_ABORTED", "diff-copy send aborted", { cause: signal.reason })
      : err instanceof FSCacheError
        ? err
        : new FSCacheError("ERR_TRANSPORT", describeError(err), { cause: err });
    poke();
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
    // by id: the full path of each regular file not yet asked for
    const files: (string | undefined)[] = new Array(entries.length);
    entries.forEach((entry, id) => {
      if ((entry.stat.mode & 0x8f280000) === 0) files[id] = entry.full;
    });
    const readLoop = async () => {
      for (;;) {
        const p = reader.nextBuffered() ?? (await reader.next());
        if (failure) return;
        if (!p) throw new FSCacheError("ERR_PROTOCOL", "connection closed before FIN");
        if (p.type === PacketType.FIN) return;
        if (p.type === PacketType.ERR) {
          throw new FSCacheError("ERR_REMOTE", `receiver failed: ${decoder.decode(p.data)}`);
        }
        if (p.type !== PacketType.REQ) {
          throw new FSCacheError("ERR_PROTOCOL", `unexpected ${packetTypeName(p.type)} packet from the receiver`);
        }
        const full = files[p.id];
        if (full === undefined) throw new FSCacheError("ERR_PROTOCOL", `REQ for unknown or repeated id ${p.id}`);
        files[p.id] = undefined;
        asked.push([p.id, full]);
        poke();
      }
    };
    const chunkSize = options.chunkSize ?? 32 * 1024;
    const sendFile = async (id: number, full: string) => {
      let fd: number | undefined;
      try {
        fd = fs.openSync(full, "r");
      } catch {
        // vanished since the walk: an empty file, as fsutil does; the receiver sees the size differ
      }
      if (fd !== undefined) {
        const handle = fd;
        const read = (buffer: Uint8Array, offset: number, length: number) =>
          fs.readSync(handle, buffer, offset, length, null);
        const size = (entries[id] as SourceEntry).stat.size;
        try {
          for (let sent = 0; ; ) {
            // chunks sized to what is left, so the frame header is rarely moved; past the
            // declared size (a growing file), whole chunks until the end as before
            const expected = size - sent > 0 ? Math.min(chunkSize, size - sent) : chunkSize;
            const { bytes, filled } = writer.queueRead(id, expected, read);
            if (bytes === 0) break;
            if (filled) await filled;
            if (failure) return;
            sent += bytes;
            result.bytesSent += bytes;
            options.onData?.(bytes);
          }
        } finally {
          fs.closeSync(handle);
        }
      }
      const filled = writer.queue(packet(PacketType.DATA, { id }));
      if (filled) await filled;
      result.filesSent++;
    };
    const pump = async () => {
      for (const entry of entries) {
        const filled = writer.queue(packet(PacketType.STAT, { stat: entry.stat }));
        if (filled) await filled;
        if (failure) return;
      }
      writer.queue(packet(PacketType.STAT));
      await writer.flush();
      while (!failure) {
        if (asked.length === 0) {
          if (finished) return;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          continue;
        }
        // everything asked for so far goes into as few writes as it fills
        for (let i = 0; i < asked.length && !failure; i++) {
          const [id, full] = asked[i] as [number, string];
          await sendFile(id, full);
        }
        asked.length = 0;
        await writer.flush();
      }
    };
    await Promise.all([
      readLoop().then(() => {
        finished = true;
        poke();
      }, fail),
      pump().catch(fail),
    ]);
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
