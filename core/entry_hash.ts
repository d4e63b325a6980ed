/**
 * Hashing one entry of a scan whose `lstat` is at hand: the synchronous loop every
 * full scan shares. Apart from `tree_scan.ts` so scan workers load only this.
 * @module
 */
import { entryStatOf, headerFromStats, startEntryChecksum } from "./entry_checksum.ts";
import { FSCacheError } from "./errors.ts";
import type { FileStats, FileSystem } from "./file_system.ts";
import type { EntryStat, Sha256Factory } from "./types.ts";

/** One scanned entry: its checksum and the stat it was hashed from. */
export interface ScannedEntry {
  checksum: string;
  stat: EntryStat;
}

/** Bytes read per `readSync`: big files stream through this, never whole into memory. */
export const READ_CHUNK: number = 1024 * 1024;

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
      throw new FSCacheError("ERR_SOURCE_CHANGED", `file shrank while it was hashed: ${path}`, { path });
    }
  } finally {
    fs.closeSync(fd);
  }
}
