/**
 * Full scans of a snapshot directory into a {@linkcode HashTree} (SPEC §4.3). The
 * scan is behind {@linkcode TreeScanner} so the runtime can supply a faster one:
 * `mod.ts` hashes real disks in worker threads; the scanner here runs the same
 * synchronous loop inline, which suits in-memory file systems.
 * @module
 */
import { scanAsync } from "./async_walk.ts";
import { entryStatOf, headerFromStats, startEntryChecksum } from "./entry_checksum.ts";
import { FSCacheError } from "./errors.ts";
import type { FileStats, FileSystem } from "./file_system.ts";
import { HashTree } from "./hash_tree.ts";
import { joinPath } from "./path.ts";
import { yieldToEventLoop } from "./snapshot_size.ts";
import type { EntryStat, Sha256Factory } from "./types.ts";

/** Makes a {@linkcode HashTree} of every entry below `root` (the root itself excluded). */
export interface TreeScanner {
  scan(fs: FileSystem, root: string, sha256: Sha256Factory, signal?: AbortSignal): Promise<HashTree>;
}

/** One scanned entry: its checksum and the stat it was hashed from. */
export interface ScannedEntry {
  checksum: string;
  stat: EntryStat;
}

/** Bytes read per `readSync`: big files stream through this, never whole into memory. */
export const READ_CHUNK: number = 1024 * 1024;
const ENTRIES_PER_TURN = 1000;

/**
 * Hashes one entry whose `lstat` is at hand: header, then the content of a regular
 * file read in `buffer`-sized chunks. `undefined` for sockets (a tar cannot hold them).
 * `path` may be anything the file system accepts (node's also takes bytes).
 *
 * @example
 * ```ts
 * const { checksum } = hashEntrySync(fs, "/snap/a.txt", "a.txt", fs.lstatSync("/snap/a.txt"), sha256, buf)!;
 * ```
 */
export function hashEntrySync(
  fs: FileSystem,
  path: string,
  name: string,
  stats: FileStats,
  sha256: Sha256Factory,
  buffer: Uint8Array,
  linkname?: string,
): ScannedEntry | undefined {
  const link = stats.isSymbolicLink() ? (linkname ?? fs.readlinkSync(path)) : undefined;
  const header = headerFromStats(name, stats, link);
  if (!header) return undefined;
  const hash = startEntryChecksum(sha256, header);
  if (header.typeflag === "0" && stats.size > 0) hashContent(fs, path, stats.size, hash, buffer);
  return { checksum: hash.digest(), stat: entryStatOf(stats, header.size, link) };
}

function hashContent(
  fs: FileSystem,
  path: string,
  size: number,
  hash: { update(d: Uint8Array): void },
  buffer: Uint8Array,
): void {
  const fd = fs.openSync(path, "r");
  try {
    let done = 0;
    // Stop at the size the header announced, so header and content always agree.
    while (done < size) {
      const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, size - done), null);
      if (n === 0) break;
      hash.update(n === buffer.length ? buffer : buffer.subarray(0, n));
      done += n;
    }
    if (done < size) {
      throw new FSCacheError("ERR_CHANGED", `file shrank while it was hashed: ${path}`, { path });
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Scans inline with synchronous calls, yielding to the event loop every thousand
 * entries. Names are whatever the file system's `readdirSync` returns (memfs and
 * other string-only file systems cannot hold non-UTF-8 names). A file system without
 * synchronous access (`fs.asyncOnly`, e.g. OPFS on a page) is walked with awaited calls.
 *
 * @example
 * ```ts
 * const tree = await inlineScanner.scan(backend.fs, dir, nodeSha256);
 * tree.hash("."); // "dir:…"
 * ```
 */
export const inlineScanner: TreeScanner = {
  async scan(fs, root, sha256, signal) {
    if (fs.asyncOnly) return await scanAsync(fs, root, sha256, signal);
    const tree = new HashTree(sha256);
    const buffer = new Uint8Array(READ_CHUNK);
    const stack = ["."];
    let visited = 0;
    while (stack.length > 0) {
      const dir = stack.pop() as string;
      for (const name of fs.readdirSync(joinPath(root, dir))) {
        if (++visited % ENTRIES_PER_TURN === 0) {
          await yieldToEventLoop();
          signal?.throwIfAborted();
        }
        const path = dir === "." ? name : `${dir}/${name}`;
        const full = joinPath(root, path);
        const stats = fs.lstatSync(full);
        const entry = hashEntrySync(fs, full, path, stats, sha256, buffer);
        if (!entry) continue;
        tree.apply("add", path, entry.checksum, entry.stat);
        if (stats.isDirectory()) stack.push(path);
      }
    }
    signal?.throwIfAborted();
    return tree;
  },
};
