/**
 * Pull sessions (session version 2, `direction: "pull"`): the server sends a cached
 * source with the diff-copy sender and the client receives it, so a browser can fill
 * its own cache from a server's. Both halves live here; the push code is untouched.
 * Runtime-agnostic: Web Streams and the {@linkcode FileSystem} interface only.
 * @module
 */
import { FSCacheError } from "../../core/errors.ts";
import type { FSCache } from "../../core/fscache.ts";
import type { DiffCopyConnection, PacketChannel } from "../diffcopy/framing.ts";
import { sendDiffCopy } from "../diffcopy/sender.ts";
import { controlFrame, diffCopyChannel, FrameReader, isControl } from "./frames.ts";
import {
  firstServerReply,
  type Hello,
  PULL_SESSION_VERSION,
  type PullMessage,
  parseServerMessage,
  remoteError,
  type ServerMessage,
} from "./handshake.ts";

/** What a served pull sent. */
export interface PullReport {
  key: string;
  /** `dir:<hex>` checksum of the source sent. */
  checksum: string;
  entries: number;
  filesSent: number;
  /** File content bytes sent: only what the client did not have. */
  bytesSent: number;
}

/**
 * Serves the pull a client asked for with `hello`: announces the source (or fails with
 * `ENOENT` when the key is not cached), then sends it. The source stays referenced, so
 * no GC removes it, until the send is over.
 *
 * @example
 * ```ts
 * const report = await servePull(cache, hello, frames, writer, signal);
 * report.bytesSent;
 * ```
 */
export async function servePull(
  cache: FSCache,
  hello: Hello,
  frames: FrameReader,
  writer: WritableStreamDefaultWriter<Uint8Array>,
  signal: AbortSignal,
): Promise<PullReport> {
  await using source = await cache.get(hello.key);
  if (!source) {
    throw new FSCacheError("ENOENT", `no source is cached under key ${JSON.stringify(hello.key)}`, { key: hello.key });
  }
  const checksum = await source.hash(".");
  const announce: PullMessage = { v: PULL_SESSION_VERSION, type: "pull", key: hello.key, checksum };
  await writer.write(controlFrame(announce));
  const sent = await sendDiffCopy(diffCopyChannel(frames, writer), { fs: source.fs, root: source.root, signal });
  return { key: hello.key, checksum, entries: sent.entries, filesSent: sent.filesSent, bytesSent: sent.bytesSent };
}

/** The next control message, skipping diff-copy frames still in flight after a failed transfer. */
async function nextControl(frames: FrameReader): Promise<ServerMessage | undefined> {
  for (;;) {
    const payload = await frames.next().catch(() => undefined);
    if (payload === undefined) return undefined;
    if (isControl(payload)) return parseServerMessage(payload);
  }
}

/** Options of {@linkcode pullSession}. */
export interface PullSessionOptions {
  /** The server's key to pull. */
  key: string;
  token?: string;
  signal?: AbortSignal;
  /** Largest frame accepted from the server (default 4 MiB). */
  maxFrameBytes?: number;
}

/**
 * The client half: says `hello` with `direction: "pull"`, waits for the server's `pull`
 * and hands `receive` the diff-copy channel (run `receiveDiffCopy` on it). A refusal
 * (wrong token, unknown key) is the server's error, raised here with its code.
 *
 * @example
 * ```ts
 * const { announced } = await pullSession(connection, { key: "build-42", token }, (channel) =>
 *   receiveDiffCopy(channel, { dest, fs, updater }),
 * );
 * announced.checksum; // what the server holds, to compare with the copy
 * ```
 */
export async function pullSession<T>(
  connection: DiffCopyConnection,
  options: PullSessionOptions,
  receive: (channel: PacketChannel, announced: PullMessage) => Promise<T>,
): Promise<{ announced: PullMessage; value: T }> {
  const frames = new FrameReader(connection.readable, options.maxFrameBytes);
  const writer = connection.writable.getWriter();
  const onAbort = () => void frames.cancel(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await writer.write(
      controlFrame({
        v: PULL_SESSION_VERSION,
        type: "hello",
        direction: "pull",
        key: options.key,
        ...(options.token === undefined ? {} : { token: options.token }),
      }),
    );
    const reply = await firstServerReply(frames);
    if (reply.type === "error") throw remoteError(reply);
    if (reply.type !== "pull") throw new FSCacheError("ERR_PROTOCOL", `unexpected "${reply.type}" to a pull hello`);
    let value: T;
    try {
      value = await receive(diffCopyChannel(frames, writer), reply);
    } catch (err) {
      // A failure the server reported after the transfer started says more than ours,
      // unless ours is a failure here (a full disk, say), which the server only echoes.
      const local = (err as { code?: unknown } | null)?.code !== "ERR_REMOTE";
      const message = options.signal?.aborted || local ? undefined : await nextControl(frames);
      if (message?.type === "error") throw remoteError(message);
      throw err;
    }
    await writer.close().catch(() => undefined);
    return { announced: reply, value };
  } catch (err) {
    if (options.signal?.aborted) {
      throw new FSCacheError("ERR_ABORTED", "pull aborted", { key: options.key, cause: options.signal.reason });
    }
    throw err;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    await writer.abort().catch(() => undefined);
    await frames.cancel();
  }
}
