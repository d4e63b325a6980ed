/**
 * The sending end of the diff-copy protocol (SPEC §5.2): walks a directory in walk
 * order, sends one STAT per entry (numbered from 0) and an empty STAT, then serves
 * REQ{id} with DATA chunks and an empty DATA, file after file into large batched
 * writes, until the receiver's FIN, which it answers with FIN.
 * @module
 */
import { describeError, errorCode, FSCacheError, isGone, pathOf } from "../../core/errors.ts";
import type { FileSystem } from "../../core/file_system.ts";
import { joinPath } from "../../core/path.ts";
import { type DiffCopyConnection, type PacketChannel, packetChannel } from "./framing.ts";
import { PacketType, packet, packetTypeName } from "./packet.ts";
import type { SourceListings } from "./source_listings.ts";
import { sourceBatches, type WalkThreads } from "./source_runs.ts";

export { type SourceEntry, SourceWalker, walkSource } from "./source_walker.ts";

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
  /** Other threads to walk a large tree on (see `source_runs.ts`); default: this one only. */
  walkThreads?: WalkThreads;
  /**
   * Told each device, fifo or socket left out of the tree (as a local sync leaves them
   * out): fscache's receivers cannot make them, and a STAT carries no device numbers here.
   */
  onSkipped?(path: string): void;
  /**
   * The client's listings from the last send of this tree ({@linkcode SourceListings}):
   * directories that did not change since are not read again. It holds this send's
   * listings afterwards, to be saved for the next. Default: every directory is read.
   */
  listings?: SourceListings;
  /**
   * The process's working directory (`process.cwd`), where relative paths on `fs`
   * resolve against it: while it is the root, the walk on this thread looks entries up
   * by relative path, sparing a path built per entry.
   */
  cwd?: () => string;
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

/** Entries walked between two looks at the wire: the first STATs leave while the walk goes on. */
const WALK_BATCH = 2000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Errors {@linkcode sendDiffCopy} threw for its source, not for the connection or the receiver. */
const sourceFailures = new WeakSet<object>();

/**
 * True for an error {@linkcode sendDiffCopy} threw because of the tree it was sending (a
 * directory or file it could not read, a file that changed while it was sent), not
 * because of the connection or the receiver: the receiver's report of such a failure
 * only echoes it.
 *
 * @example
 * ```ts
 * try {
 *   await sendDiffCopy(connection, { fs, root: "." });
 * } catch (err) {
 *   if (isSourceFailure(err)) console.error(`fix the source: ${(err as Error).message}`);
 * }
 * ```
 */
export function isSourceFailure(err: unknown): boolean {
  return typeof err === "object" && err !== null && sourceFailures.has(err);
}

/** `err`, met reading the source, as an {@linkcode FSCacheError} keeping its code and path. */
function sourceFailure(err: unknown): FSCacheError {
  const path = pathOf(err);
  const failure =
    err instanceof FSCacheError
      ? err
      : new FSCacheError(errorCode(err) ?? "ERR_TRANSPORT", describeError(err), {
          ...(path === undefined ? {} : { path }),
          cause: err,
        });
  sourceFailures.add(failure);
  return failure;
}

/** `batches`, any error of the walk made a {@linkcode sourceFailure}. */
async function* asSourceFailures<T>(batches: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* batches;
  } catch (err) {
    throw sourceFailure(err);
  }
}

/**
 * A file that is no longer what its STAT declared. The STAT has gone: the receiver would
 * otherwise fail on the size alone, or keep a file the source no longer has.
 */
function sourceChanged(path: string, what: string): FSCacheError {
  return sourceFailure(
    new FSCacheError("ERR_SOURCE_CHANGED", `source file changed while it was sent: ${path} (${what})`, { path }),
  );
}

/**
 * Sends the tree at `options.root` over `connection` (a byte connection, or the packet
 * channel of a session). STATs go out in large batched writes while the walk goes on
 * (a batch every couple of thousand entries); REQs are served as they
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
  const asked: [id: number, path: string][] = [];
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
  options.listings?.restart();
  const onAbort = () => fail(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    // By id: the path of each regular file not yet asked for, and its size. Only
    // these are kept, not the walked entries: 100k entries kept alive until the end cost
    // a no-op push ~0.2 s of garbage collection, moving them out of the young generation.
    const files: (string | undefined)[] = [];
    const sizes: number[] = [];
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
        const path = files[p.id];
        if (path === undefined) throw new FSCacheError("ERR_PROTOCOL", `REQ for unknown or repeated id ${p.id}`);
        files[p.id] = undefined;
        asked.push([p.id, path]);
        poke();
      }
    };
    const chunkSize = options.chunkSize ?? 32 * 1024;
    const sendFile = async (id: number, path: string) => {
      // A file that vanished, shrank or grew since its STAT fails the send. fsutil sends
      // whatever it reads (nothing, for a vanished file), which its receiver keeps: a
      // snapshot unlike the source, under a checksum of neither.
      let fd: number;
      try {
        fd = fs.openSync(joinPath(options.root, path), "r");
      } catch (err) {
        throw isGone(err) ? sourceChanged(path, "it vanished") : sourceFailure(err);
      }
      const size = sizes[id] as number;
      let sent = 0;
      const read = (buffer: Uint8Array, offset: number, length: number) => {
        let n: number;
        try {
          n = fs.readSync(fd, buffer, offset, length, null);
        } catch (err) {
          throw sourceFailure(err);
        }
        // Thrown before the chunk is queued: no byte beyond the declared size goes out.
        if (sent + n > size) throw sourceChanged(path, `it grew past the ${size} bytes walked`);
        return n;
      };
      try {
        for (;;) {
          // Chunks sized to what is left, so the frame header is rarely moved. The last
          // chunk asks for one byte more than is left: a read that gives exactly what is
          // left has met the end, and the read that would only say so (one per file,
          // 10,000 system calls in a small first push) is saved.
          const left = size - sent;
          const expected = left > 0 ? Math.min(chunkSize, left + 1) : chunkSize;
          const { bytes, filled } = writer.queueRead(id, expected, read);
          if (bytes === 0) break;
          if (filled) await filled;
          if (failure) return;
          sent += bytes;
          result.bytesSent += bytes;
          options.onData?.(bytes);
          if (bytes === left && left < expected) break;
        }
      } finally {
        fs.closeSync(fd);
      }
      if (sent < size) throw sourceChanged(path, `it shrank to ${sent} of the ${size} bytes walked`);
      const filled = writer.queue(packet(PacketType.DATA, { id }));
      if (filled) await filled;
      result.filesSent++;
    };
    const pump = async () => {
      const batches = sourceBatches(
        fs,
        options.root,
        options.excludes ?? [],
        WALK_BATCH,
        options.walkThreads,
        options.onSkipped,
        options.listings,
        options.cwd,
      );
      for await (const batch of asSourceFailures(batches)) {
        for (const entry of batch) {
          const regular = (entry.stat.mode & 0x8f280000) === 0;
          files.push(regular ? entry.stat.path : undefined);
          sizes.push(regular ? entry.stat.size : 0);
          const filled = writer.queue(packet(PacketType.STAT, { stat: entry.stat }));
          if (filled) await filled;
          if (failure) return;
        }
        // out now, so the receiver checks these while the next batch is walked
        await writer.flush();
        if (failure) return;
      }
      result.entries = files.length;
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
          const [id, path] = asked[i] as [number, string];
          await sendFile(id, path);
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
