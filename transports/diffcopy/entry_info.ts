/**
 * What a receiver reports for an entry: its tarsum header (SPEC §4.1) and the
 * `EntryStat` it was synced from, both taken from the sender's STAT.
 * @module
 */
import { type EntryHeader, headerFromStats } from "../../core/entry_checksum.ts";
import type { FileStats } from "../../core/file_system.ts";
import type { EntryStat } from "../../core/types.ts";
import type { IncomingEntry } from "./stat_validator.ts";

/** Linux `makedev`, the inverse of what `headerFromStats` splits. */
function makedev(major: number, minor: number): number {
  return Number(
    ((BigInt(major) & 0xfffn) << 8n) |
      ((BigInt(major) & ~0xfffn) << 32n) |
      (BigInt(minor) & 0xffn) |
      ((BigInt(minor) & ~0xffn) << 12n),
  );
}

/**
 * The checksum header of an entry as the sender described it. `as` names the entry
 * under another path (a hard link hashes as its target's content under its own name).
 *
 * @example
 * ```ts
 * const hash = startEntryChecksum(updater.sha256, headerOf(entry)!);
 * ```
 */
export function headerOf(entry: IncomingEntry, as: string = entry.path): EntryHeader | undefined {
  const s = entry.stat;
  const kind = entry.kind;
  const stats: FileStats = {
    mode: entry.mode,
    uid: s.uid,
    gid: s.gid,
    size: kind === "file" ? s.size : 0,
    mtimeMs: Number(s.modTime) / 1e6,
    ino: 0,
    dev: 0,
    rdev: makedev(s.devmajor, s.devminor),
    nlink: 1,
    isFile: () => kind === "file" || kind === "hardlink",
    isDirectory: () => kind === "dir",
    isSymbolicLink: () => kind === "symlink",
  };
  return headerFromStats(as, stats, kind === "symlink" ? s.linkname : undefined);
}

/**
 * The `EntryStat` the cache records for an entry: the sender's, so that the next
 * sync compares like with like.
 *
 * @example
 * ```ts
 * updater.handleChange("add", entry.path, checksum, entryStatOf(entry));
 * ```
 */
export function entryStatOf(entry: IncomingEntry): EntryStat {
  const s = entry.stat;
  const out: EntryStat = {
    mode: entry.mode,
    uid: s.uid,
    gid: s.gid,
    size: entry.kind === "file" ? s.size : 0,
    mtimeMs: Number(s.modTime) / 1e6,
  };
  if (entry.kind === "symlink" || entry.kind === "hardlink") out.linkname = s.linkname;
  return out;
}
