/**
 * The pushing side of a session: `hello`, then (when the server asks) the tree with
 * the diff-copy sender, then the server's result. Runtime-agnostic: give it any
 * {@linkcode DiffCopyConnection}.
 * @module
 */
import { FSCacheError, isFSCacheError } from "../../core/errors.ts";
import type { FileSystem } from "../../core/file_system.ts";
import type { DiffCopyConnection } from "../diffcopy/framing.ts";
import { isSourceFailure, type SendResult, sendDiffCopy } from "../diffcopy/sender.ts";
import type { SourceListings } from "../diffcopy/source_listings.ts";
import type { WalkThreads } from "../diffcopy/source_runs.ts";
import { controlFrame, diffCopyChannel, FrameReader, isControl } from "./frames.ts";
import { firstServerReply, parseServerMessage, remoteError, SESSION_VERSION, type ServerMessage } from "./handshake.ts";

/** Options of {@linkcode pushTree}. */
export interface PushOptions {
  fs: FileSystem;
  /** The directory to push. */
  root: string;
  key: string;
  sharedKey?: string;
  token?: string;
  /** `.dockerignore` patterns left out. */
  excludes?: readonly string[];
  signal?: AbortSignal;
  /** Largest frame accepted from the server (default 4 MiB). */
  maxFrameBytes?: number;
  /** Told the bytes of every file chunk sent. */
  onData?(bytes: number): void;
  /** Other threads to walk a large tree on (default: this one only). */
  walkThreads?: WalkThreads;
  /** Told each device, fifo or socket left out (see `SendOptions.onSkipped`). */
  onSkipped?(path: string): void;
  /**
   * Listings from the last push of this tree (see `SendOptions.listings`). After a push
   * that sent the tree (not `reused`), it holds this push's listings, to be saved.
   */
  listings?: SourceListings;
  /** The process's working directory, where `fs` is the disk (see `SendOptions.cwd`). */
  cwd?: () => string;
  /**
   * Told why a push is made once more (see {@linkcode pushTree}): a file changed while it
   * was sent.
   */
  onRetry?(err: FSCacheError): void;
}

/** What a push did: the server's result plus what went over the wire. */
export interface PushResult {
  key: string;
  /** `dir:<hex>` checksum of the snapshot the server holds now. */
  checksum: string;
  /** True when the server already had the key (or another client's push filled it). */
  reused: boolean;
  added: number;
  modified: number;
  deleted: number;
  filesSent: number;
  /** File content bytes sent. */
  bytesSent: number;
  /** Every byte read and written on the connection, framing and handshake included. */
  wireBytes: number;
}

/** The next control message, skipping diff-copy frames still in flight after a failed transfer. */
async function nextControl(frames: FrameReader): Promise<ServerMessage | undefined> {
  for (;;) {
    const payload = await frames.next().catch(() => undefined);
    if (payload === undefined) return undefined;
    if (isControl(payload)) return parseServerMessage(payload);
  }
}

/**
 * Pushes `options.root` to the server on `connection` as `options.key`.
 *
 * Given a function that opens a connection instead, a push that failed because a file
 * changed while it was sent (`ERR_SOURCE_CHANGED`: a file being written, an editor
 * saving) is made once more, on a new connection, as a local sync looks at such a file
 * once more: the first push has ended on the server by then, its snapshot marked stale,
 * and the second sends only what the first did not. A second change fails the push.
 *
 * @example
 * ```ts
 * const result = await pushTree(connection, { fs, root: "/home/me/app", key: "build-42", sharedKey: "app" });
 * result.bytesSent; // 0 when nothing changed since the last push
 * await pushTree(() => connectSession("build-host", 7373), { fs, root: "/home/me/app", key: "build-43" });
 * ```
 */
export async function pushTree(
  connection: DiffCopyConnection | (() => Promise<DiffCopyConnection>),
  options: PushOptions,
): Promise<PushResult> {
  if (typeof connection !== "function") return await pushOnce(connection, options);
  try {
    return await pushOnce(await connection(), options);
  } catch (err) {
    if (!isFSCacheError(err, "ERR_SOURCE_CHANGED") || options.signal?.aborted) throw err;
    options.onRetry?.(err);
    return await pushOnce(await connection(), options);
  }
}

async function pushOnce(connection: DiffCopyConnection, options: PushOptions): Promise<PushResult> {
  const frames = new FrameReader(connection.readable, options.maxFrameBytes);
  const streamWriter = connection.writable.getWriter();
  let written = 0;
  const writer = {
    write(bytes: Uint8Array): Promise<void> {
      written += bytes.length;
      return streamWriter.write(bytes);
    },
    writesReleased: connection.writesReleased,
  };
  const onAbort = () => void frames.cancel(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await writer.write(
      controlFrame({
        v: SESSION_VERSION,
        type: "hello",
        key: options.key,
        ...(options.sharedKey === undefined ? {} : { sharedKey: options.sharedKey }),
        ...(options.token === undefined ? {} : { token: options.token }),
      }),
    );
    let reply = await firstServerReply(frames);
    let sent: SendResult | undefined;
    if (reply.type === "send") {
      try {
        sent = await sendDiffCopy(diffCopyChannel(frames, writer), {
          fs: options.fs,
          root: options.root,
          ...(options.excludes ? { excludes: options.excludes } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.onData ? { onData: options.onData } : {}),
          ...(options.walkThreads ? { walkThreads: options.walkThreads } : {}),
          ...(options.onSkipped ? { onSkipped: options.onSkipped } : {}),
          ...(options.listings ? { listings: options.listings } : {}),
          ...(options.cwd ? { cwd: options.cwd } : {}),
        });
      } catch (err) {
        // The server's own report says more than "receiver failed", when it got to send one;
        // of a failure of our source it says only what we told it (awaited all the same:
        // the server has then ended the session, and a push again finds the key free).
        const report = options.signal?.aborted ? undefined : await nextControl(frames);
        if (isSourceFailure(err)) throw err;
        if (report?.type === "error") throw remoteError(report);
        throw err;
      }
      const next = await nextControl(frames);
      if (!next) throw new FSCacheError("ERR_PROTOCOL", "the server closed the session without a result");
      reply = next;
    }
    if (reply.type === "error") throw remoteError(reply);
    if (reply.type !== "result") throw new FSCacheError("ERR_PROTOCOL", `unexpected "${reply.type}" from the server`);
    await streamWriter.close().catch(() => undefined);
    return {
      key: reply.key,
      checksum: reply.checksum,
      reused: reply.reused,
      added: reply.added,
      modified: reply.modified,
      deleted: reply.deleted,
      filesSent: sent?.filesSent ?? 0,
      bytesSent: sent?.bytesSent ?? 0,
      wireBytes: frames.wireBytes + written,
    };
  } catch (err) {
    if (options.signal?.aborted) {
      throw new FSCacheError("ERR_ABORTED", "push aborted", { key: options.key, cause: options.signal.reason });
    }
    throw err;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    await streamWriter.abort().catch(() => undefined);
    await frames.cancel();
  }
}
