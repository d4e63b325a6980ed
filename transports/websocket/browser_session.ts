/**
 * Sessions from a browser page over a WebSocket: push a folder the user picked to an
 * `fscache serve`, or pull a cached source from one into the page's own cache (OPFS).
 * The diff-copy sender and receiver are the shared ones; they need synchronous file
 * access, which OPFS does not give a page, so both run on a {@linkcode MemoryFileSystem}:
 * a pushed folder's files are read only when the server asks for them, and a pulled tree
 * is received in memory, then written into the snapshot by the folder transport (which
 * writes only what changed). Runtime-agnostic: needs a global `WebSocket`, `File`, `Blob`.
 * @module
 */
import { FSCacheError } from "../../core/errors.ts";
import type { FSCache } from "../../core/fscache.ts";
import { joinPath } from "../../core/path.ts";
import type { CacheUpdater, CopyRequest, Transport } from "../../core/types.ts";
import { BrowserFolderTransport, listPicked, type PickedDirectory, type PickedFolder } from "../browser_folder.ts";
import type { DiffCopyConnection } from "../diffcopy/framing.ts";
import { decodePacket, PacketType } from "../diffcopy/packet.ts";
import { type ReceiveResult, receiveDiffCopy } from "../diffcopy/receiver.ts";
import { walkSource } from "../diffcopy/sender.ts";
import { type PushResult, pushTree } from "../session/client.ts";
import { FrameReader, frame, isControl } from "../session/frames.ts";
import { pullSession } from "../session/pull.ts";
import { connectWebSocket, type WebSocketLike } from "./connection.ts";
import { MemoryFileSystem } from "./memory_fs.ts";

/** Where and as whom to connect. */
export interface ServerOptions {
  /** The server's WebSocket address, e.g. `ws://127.0.0.1:7373/`. */
  url: string;
  /** The token `fscache serve --token-file` was given. */
  token?: string;
  signal?: AbortSignal;
  /** The WebSocket class (default the global one; on Node 20, `ws`'s). */
  WebSocket?: new (
    url: string,
  ) => WebSocketLike;
}

/** Options of {@linkcode pushFolder}. */
export interface PushFolderOptions extends ServerOptions {
  /** Key of the snapshot on the server (default: a fresh `push-<uuid>`). */
  key?: string;
  /** Default `folder:<the folder's name>`: a repeat push of the folder sends only changes. */
  sharedKey?: string;
  /** `.dockerignore`-style patterns left out. */
  excludes?: readonly string[];
  /** Owner every pushed entry reports (a page cannot see real owners); default 0. */
  uid?: number;
  gid?: number;
  /** Told the bytes of every file chunk sent. */
  onData?(bytes: number): void;
}

/**
 * Pushes a picked folder (the `FileList` of `<input type="file" webkitdirectory>`, or a
 * directory handle from `showDirectoryPicker()`) to a server as a snapshot. Files go as
 * mode 0644, directories 0755 (a page cannot see modes); only the files the server asks
 * for (new or changed since the last push with the same shared key) are read.
 *
 * @example
 * ```ts
 * input.onchange = async () => {
 *   const result = await pushFolder(input.files!, { url: "ws://127.0.0.1:7373/", token });
 *   console.log(result.checksum, result.bytesSent);
 * };
 * ```
 */
export async function pushFolder(folder: PickedFolder, options: PushFolderOptions): Promise<PushResult> {
  const fs = new MemoryFileSystem({ uid: options.uid ?? 0, gid: options.gid ?? 0, unloadAfterRead: true });
  const root = "/folder";
  fs.mkdirSync(root);
  for (const [path, entry] of [...(await listPicked(folder))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const full = joinPath(root, path);
    if (entry.type === "dir") fs.mkdirSync(full, { recursive: true });
    else {
      fs.mkdirSync(full.slice(0, full.lastIndexOf("/")), { recursive: true });
      fs.addBlob(full, entry.file, { mtimeMs: entry.file.lastModified });
    }
  }
  // The sender numbers entries in walk order: the same walk tells which file a REQ means.
  const byId = walkSource(fs, root, options.excludes).map((entry) => joinPath(root, entry.stat.path));
  const connection = await connectWebSocket(options.url, options.WebSocket ? { WebSocket: options.WebSocket } : {});
  return await pushTree(loadOnRequest(connection, fs, byId), {
    fs,
    root,
    key: options.key ?? `push-${crypto.randomUUID()}`,
    sharedKey: options.sharedKey ?? `folder:${folderName(folder)}`,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.excludes ? { excludes: options.excludes } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onData ? { onData: options.onData } : {}),
  });
}

/**
 * Passes the server's frames through, reading a file's content into memory before the
 * REQ for it reaches the sender (whose reads are synchronous); the file system drops it
 * once the sender has read it: memory holds only the files in flight, never the folder.
 */
function loadOnRequest(connection: DiffCopyConnection, fs: MemoryFileSystem, byId: string[]): DiffCopyConnection {
  const frames = new FrameReader(connection.readable);
  const readable = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const payload = await frames.next();
        if (payload === undefined) {
          controller.close();
          return;
        }
        if (!isControl(payload)) {
          const p = decodePacket(payload);
          const path = p.type === PacketType.REQ ? byId[p.id] : undefined;
          // read here, dropped when the sender closes it (unloadAfterRead)
          if (path !== undefined) await fs.load(path);
        }
        controller.enqueue(frame(payload));
      },
      cancel: (reason) => frames.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  return { readable, writable: connection.writable };
}

function folderName(folder: PickedFolder): string {
  if ((folder as PickedDirectory).kind === "directory") return (folder as PickedDirectory).name;
  const first = Array.from(folder as ArrayLike<{ webkitRelativePath?: string; name: string }>)[0];
  return first?.webkitRelativePath?.split("/")[0] || "folder";
}

/** Options of {@linkcode pullInto}. */
export interface PullIntoOptions extends ServerOptions {
  /** The server's key to pull. */
  key: string;
  /** Key in the page's cache (default: the same key; if it is cached already, nothing moves). */
  localKey?: string;
  /** Shared key in the page's cache (default `pull:<key>`). */
  sharedKey?: string;
}

/** What {@linkcode pullInto} did. */
export interface PullIntoResult {
  /** The key in the page's cache. */
  key: string;
  /** `dir:<hex>` checksum of the page's snapshot (with the page backend's modes and owner). */
  checksum: string;
  /** The checksum the server announced; equal to `checksum` when modes and owners match. */
  serverChecksum: string | undefined;
  /** True when the page had the key already: nothing was transferred. */
  reused: boolean;
  filesReceived: number;
  bytesReceived: number;
}

/** The transport name {@linkcode pullInto} registers on a cache. */
export const PULL_TRANSPORT = "websocket-pull";

interface PullRequest {
  url: string;
  key: string;
  token?: string;
  WebSocket?: new (url: string) => WebSocketLike;
  report: { serverChecksum?: string; received?: ReceiveResult };
}

/**
 * Receives a pulled tree into a snapshot: diff-copy into memory, then the folder
 * transport writes it into the snapshot (only what differs from what it holds). The
 * request's `id.pull` says from where.
 *
 * @example
 * ```ts
 * cache.registerTransport("websocket-pull", new WebSocketPullTransport());
 * ```
 */
export class WebSocketPullTransport implements Transport {
  async copy(request: CopyRequest): Promise<void> {
    const pull = request.id.pull as PullRequest | undefined;
    if (!pull) throw new FSCacheError("ERR_INVALID_OPTION", "a pull needs id.pull", { key: request.id.key });
    const staging = new MemoryFileSystem();
    const root = "/tree";
    staging.mkdirSync(root);
    const connection = await connectWebSocket(pull.url, pull.WebSocket ? { WebSocket: pull.WebSocket } : {});
    const { announced, value } = await pullSession(
      connection,
      { key: pull.key, ...(pull.token === undefined ? {} : { token: pull.token }), signal: request.signal },
      (channel) =>
        receiveDiffCopy(channel, {
          dest: root,
          fs: staging,
          updater: silentUpdater(request.updater),
          signal: request.signal,
        }),
    );
    pull.report.serverChecksum = announced.checksum;
    pull.report.received = value;
    await new BrowserFolderTransport().copy({
      ...request,
      id: { ...request.id, folder: stagedDirectory(staging, root, "") },
    });
  }
}

/** The staging receive reports to nobody: the folder transport reports the real writes. */
function silentUpdater(updater: CacheUpdater): CacheUpdater {
  return { markSupported() {}, handleChange() {}, sha256: updater.sha256 };
}

/** A directory of the staging file system as a picked directory, for the folder transport. */
function stagedDirectory(fs: MemoryFileSystem, full: string, name: string): PickedDirectory {
  return {
    kind: "directory",
    name,
    async *values() {
      for (const child of fs.readdirSync(full).sort()) {
        const path = joinPath(full, child);
        const st = fs.lstatSync(path);
        if (st.isDirectory()) yield stagedDirectory(fs, path, child);
        else if (st.isFile()) {
          yield {
            kind: "file" as const,
            name: child,
            getFile: async () => new File([fs.readFileSync(path) as BlobPart], child, { lastModified: st.mtimeMs }),
          };
        } else {
          throw new FSCacheError("ENOTSUP", `a browser cache cannot hold the symlink ${path.slice(6)}`, {
            path: path.slice(6),
          });
        }
      }
    },
  };
}

/**
 * Pulls the server's cached source `key` into the page's cache, as a snapshot under
 * `localKey`, through `cache.syncFrom`. The tree moves with diff-copy; modes and owners
 * in the page's snapshot are the OPFS backend's (so `checksum` equals `serverChecksum`
 * when the server's files have the backend's modes and owner).
 *
 * @example
 * ```ts
 * const result = await pullInto(cache, { url: "ws://127.0.0.1:7373/", key: "build-42", token });
 * await using src = await cache.get(result.key);
 * ```
 */
export async function pullInto(cache: FSCache, options: PullIntoOptions): Promise<PullIntoResult> {
  try {
    cache.registerTransport(PULL_TRANSPORT, new WebSocketPullTransport());
  } catch (err) {
    if (!(err instanceof FSCacheError && err.code === "ERR_TRANSPORT_EXISTS")) throw err;
  }
  const report: PullRequest["report"] = {};
  const pull: PullRequest = { url: options.url, key: options.key, report };
  if (options.token !== undefined) pull.token = options.token;
  if (options.WebSocket !== undefined) pull.WebSocket = options.WebSocket;
  const key = options.localKey ?? options.key;
  await using source = await cache.syncFrom(
    { key, sharedKey: options.sharedKey ?? `pull:${options.key}`, transport: PULL_TRANSPORT, pull },
    options.signal ? { signal: options.signal } : {},
  );
  return {
    key,
    checksum: await source.hash("."),
    serverChecksum: report.serverChecksum,
    reused: report.received === undefined,
    filesReceived: report.received?.filesReceived ?? 0,
    bytesReceived: report.received?.bytesReceived ?? 0,
  };
}
