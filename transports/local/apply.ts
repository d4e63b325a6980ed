/**
 * The write side of the local transport: removes, creates and copies entries in the
 * snapshot with synchronous calls (inside a worker, or inline over memory), hashing
 * each copied byte as it passes, so nothing is read twice. Writes never follow a
 * symlink: an existing entry that is not a plain single-link file is removed first.
 * @module
 */
import { headerFromStats, startEntryChecksum } from "../../core/entry_checksum.ts";
import { errorCode, FSCacheError, isGone } from "../../core/errors.ts";
import type { FileStats } from "../../core/file_system.ts";
import type { Sha256Factory } from "../../core/types.ts";
import { BLOCK_SIZE, blockPadding } from "../block_padding.ts";
import { fileTimeOfMs, linkTime } from "../file_time.ts";
import { isSparse, writeSkippingZeros } from "../sparse_write.ts";
import { inWritableDir } from "../writable_dir.ts";
import { lstatOrUndefined, removeEntry, type SyncFs } from "./sync_fs.ts";
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, STAT_FIELDS } from "./walk.ts";

/** Entries to write, in the compact shape of a walk: paths, `STAT_FIELDS` numbers each, link targets. */
export interface EntryBatch {
  paths: string[];
  stats: Float64Array;
  links: string[];
  /**
   * 1 where the plan found no snapshot entry at the path: the file is created without
   * looking first (`wx` still refuses anything that is there after all).
   */
  added?: Uint8Array;
}

/** What writing a batch gave, per entry. */
export interface BatchResult {
  /** Entry checksum, or `null` when the source entry vanished (and nothing was written). */
  checksums: (string | null)[];
  /** The source stat actually copied, when it changed after the walk (else `null`). */
  restated: (number[] | null)[];
  /** Content bytes copied. */
  bytes: number;
  /** 1 where a regular file was rewritten in place (its directory's mtime did not move). */
  inPlace?: Uint8Array;
}

/** The file systems and hasher a batch runs with. */
export interface ApplyContext {
  src: SyncFs;
  dst: SyncFs;
  sha256: Sha256Factory;
  /** Give entries the source's owner (only root can). */
  owners: boolean;
}

const CHUNK = 1 << 20;
let scratch = new Uint8Array(256 * 1024);

/**
 * Removes snapshot paths with their subtrees; missing ones are fine.
 *
 * @example
 * ```ts
 * applyDeletes(fs, "/cache/snap", ["old", "dir/gone"]);
 * ```
 */
export function applyDeletes(dst: SyncFs, dest: string, paths: readonly string[]): void {
  for (const path of paths) removeEntry(dst, `${dest}/${path}`);
}

/**
 * Creates or updates directories (parents first). Their final mode and mtime are set by
 * {@linkcode applyDirMeta} once their contents are written.
 *
 * @example
 * ```ts
 * const { checksums } = applyDirs(ctx, "/cache/snap", batch);
 * ```
 */
export function applyDirs(ctx: ApplyContext, dest: string, batch: EntryBatch): BatchResult {
  const { dst } = ctx;
  const checksums: string[] = [];
  for (let i = 0; i < batch.paths.length; i++) {
    const path = batch.paths[i] as string;
    const o = i * STAT_FIELDS;
    const target = `${dest}/${path}`;
    if (batch.added?.[i] !== 1 || !makeAddedDir(dst, dest, target)) {
      const have = lstatOrUndefined(dst, target);
      if (have && (have.mode & S_IFMT) !== S_IFDIR) removeEntry(dst, target, have);
      if (!have || (have.mode & S_IFMT) !== S_IFDIR)
        inWritableDir(dst, target, () => dst.mkdirSync(target, { mode: 0o700 }));
    }
    checksums.push(checksum(ctx, path, batch.stats, o, "", target));
  }
  return { checksums, restated: checksums.map(() => null), bytes: 0 };
}

/**
 * Makes a directory the plan found missing, without looking first; `false` when
 * something is there after all (the caller looks then). Threads making the added
 * directories of one sync share the work in runs of the walk order, so a run's first
 * directories may be inside directories another thread is still making: a missing
 * parent is made here (the other thread then finds its directory there), and only
 * with plain `mkdir`s inside `dest`, which never follow a symlink.
 */
function makeAddedDir(dst: SyncFs, dest: string, target: string): boolean {
  try {
    inWritableDir(dst, target, () => dst.mkdirSync(target, { mode: 0o700 }));
    return true;
  } catch (err) {
    const code = errorCode(err);
    if (code === "EEXIST") return lstatOrUndefined(dst, target)?.isDirectory() === true;
    const parent = target.slice(0, target.lastIndexOf("/"));
    if (code !== "ENOENT" || parent.length <= dest.length) throw err;
    if (!makeAddedDir(dst, dest, parent)) throw err;
    return makeAddedDir(dst, dest, target);
  }
}

/**
 * Writes regular files and symlinks (their directories exist), each file read once:
 * the bytes read are hashed and written. A source entry that changes while it is read
 * is read again once, then the sync fails with `ERR_SOURCE_CHANGED`.
 *
 * @example
 * ```ts
 * const { checksums, bytes } = applyFiles(ctx, "/src/project", "/cache/snap", batch);
 * ```
 */
export function applyFiles(ctx: ApplyContext, source: string, dest: string, batch: EntryBatch): BatchResult {
  const out: BatchResult = { checksums: [], restated: [], bytes: 0, inPlace: new Uint8Array(batch.paths.length) };
  for (let i = 0; i < batch.paths.length; i++) {
    const path = batch.paths[i] as string;
    let stat = Array.from(batch.stats.subarray(i * STAT_FIELDS, (i + 1) * STAT_FIELDS));
    let link = batch.links[i] as string;
    let restated = false;
    for (let attempt = 0; ; attempt++) {
      const fresh = batch.added?.[i] === 1 && attempt === 0;
      const result = writeEntry(ctx, path, `${source}/${path}`, `${dest}/${path}`, stat, link, fresh);
      if (result.kind === "done") {
        if (result.inPlace) (out.inPlace as Uint8Array)[i] = 1;
        out.checksums.push(result.checksum);
        out.restated.push(restated ? stat : null);
        out.bytes += result.bytes;
        break;
      }
      if (result.kind === "gone") {
        removeEntry(ctx.dst, `${dest}/${path}`);
        out.checksums.push(null);
        out.restated.push(null);
        break;
      }
      if (attempt > 0) {
        throw new FSCacheError("ERR_SOURCE_CHANGED", `source file kept changing while it was copied: ${path}`, {
          path,
        });
      }
      stat = [result.now.mode, result.now.uid, result.now.gid, result.now.size, result.now.mtimeMs, Number.NaN];
      link = result.link;
      restated = true;
    }
  }
  return out;
}

/**
 * Sets directories' mode and mtime, children first (writing into a directory moves
 * its mtime, so this runs after everything else).
 *
 * @example
 * ```ts
 * applyDirMeta(fs, "/cache/snap", batch);
 * ```
 */
export function applyDirMeta(dst: SyncFs, dest: string, batch: EntryBatch): void {
  for (let i = 0; i < batch.paths.length; i++) {
    const target = `${dest}/${batch.paths[i] as string}`;
    const o = i * STAT_FIELDS;
    dst.chmodSync(target, (batch.stats[o] as number) & 0o7777);
    const time = fileTimeOfMs(batch.stats[o + 4] as number);
    dst.utimesSync(target, time, time);
  }
}

type WriteResult =
  | { kind: "done"; checksum: string; bytes: number; inPlace?: boolean }
  | { kind: "gone" }
  | { kind: "changed"; now: FileStats; link: string };

function writeEntry(
  ctx: ApplyContext,
  path: string,
  from: string,
  to: string,
  stat: number[],
  link: string,
  fresh: boolean,
): WriteResult {
  const { dst } = ctx;
  const type = (stat[0] as number) & S_IFMT;
  if (fresh && type === S_IFREG) {
    const result = copyFile(ctx, path, from, to, stat, undefined);
    if (result !== "exists") return result;
  }
  const have = lstatOrUndefined(dst, to);
  if (type === S_IFLNK) {
    if (have) removeEntry(dst, to, have);
    inWritableDir(dst, to, () => dst.symlinkSync(link, to));
    if (ctx.owners) dst.lchownSync?.(to, stat[1] as number, stat[2] as number);
    const time = linkTime(fileTimeOfMs(stat[4] as number));
    dst.lutimesSync?.(to, time, time);
    return { kind: "done", checksum: checksum(ctx, path, stat, 0, link, to), bytes: 0 };
  }
  if (type !== S_IFREG) {
    throw new FSCacheError("ERR_SOURCE_CHANGED", `source entry changed kind while it was copied: ${path}`, { path });
  }
  // Overwrite in place only a plain file this process may write; anything else (a link,
  // a directory, a file hard-linked elsewhere) is removed so the write cannot leak out.
  const inPlace =
    have !== undefined &&
    (have.mode & S_IFMT) === S_IFREG &&
    have.nlink === 1 &&
    (ctx.owners || (have.mode & 0o200) !== 0);
  if (have && !inPlace) removeEntry(dst, to, have);
  return copyFile(ctx, path, from, to, stat, inPlace ? (have as FileStats) : undefined) as WriteResult;
}

/**
 * Copies a regular file, hashing what it reads; `inPlace` is the plain file being
 * overwritten, else the file is created (`"exists"` when something is there).
 */
function copyFile(
  ctx: ApplyContext,
  path: string,
  from: string,
  to: string,
  stat: number[],
  inPlace: FileStats | undefined,
): WriteResult | "exists" {
  const { src, dst } = ctx;
  let input: number;
  try {
    input = src.openSync(from, "r");
  } catch (err) {
    if (isGone(err)) return { kind: "gone" };
    throw err;
  }
  let bytes = 0;
  let hashed: string;
  const mode = (stat[0] as number) & 0o7777;
  const size = stat[3] as number;
  let modeSet = false;
  /** The mode and owner the file has before the copy sets them: the old file's, or the new one's. */
  let has: { mode: number; uid: number; gid: number } | undefined;
  try {
    let output: number;
    // A sparse source is written with its holes (zeros skipped, the length set at the end);
    // a file it rewrites in place is emptied first, so that no old data stays in them.
    const sparse = dst.ftruncateSync !== undefined && isSparse(src, input, size);
    try {
      // A file overwritten in place is not truncated first: truncating a file whose blocks
      // are on disk cost ~0.2 ms here, most of a 1%-changed resync's time per file. It is
      // cut to size after the write instead, when it was longer.
      const overwrite = inPlace && dst.ftruncateSync && !sparse ? "r+" : "w";
      output = inWritableDir(dst, to, () => dst.openSync(to, inPlace ? overwrite : "wx", mode | 0o200));
    } catch (err) {
      if (errorCode(err) === "EEXIST") return "exists";
      throw err;
    }
    try {
      // What a new file got (the umask, a default ACL and a set-group-ID directory decide
      // its mode and group), where the file system tells it: an fchown or fchmod journals
      // a change of the inode (~7 µs each here, the fstat ~5 µs), so neither is made for nothing.
      has = inPlace ?? (dst.fstatSync ? dst.fstatSync(output) : undefined);
      // A file that has its owner already keeps it.
      const owned = has !== undefined && has.uid === stat[1] && has.gid === stat[2];
      if (ctx.owners && !owned) {
        if (dst.fchownSync) dst.fchownSync(output, stat[1] as number, stat[2] as number);
        else dst.lchownSync?.(to, stat[1] as number, stat[2] as number);
      }
      // The file's owner, for a checksum that records it: known already, unless there was no fstat.
      const owner = ctx.owners ? undefined : (has ?? dst.lstatSync(to));
      const hash = startEntryChecksum(
        ctx.sha256,
        headerOf(path, stat, 0, "", owner) as NonNullable<ReturnType<typeof headerOf>>,
      );
      const want = Math.min(size + 1, CHUNK);
      if (scratch.length < want + BLOCK_SIZE) scratch = new Uint8Array(want + BLOCK_SIZE);
      // The last write covers its block whole, not to read old data back (see blockPadding).
      const oldSize = inPlace && dst.ftruncateSync && !sparse ? inPlace.size : 0;
      // Reading stops at the size the walk saw: a file that grew meanwhile fails the
      // check after the copy and is copied again, so the read that would see EOF is saved.
      while (bytes < size) {
        const n = src.readSync(input, scratch, 0, want, null);
        if (n === 0) break;
        hash.update(scratch.subarray(0, n));
        const end = bytes + n;
        if (sparse) {
          writeSkippingZeros(dst, output, scratch, n, bytes);
          bytes = end;
          continue;
        }
        let length = n;
        const pad = end >= size ? blockPadding(end, oldSize) : 0;
        if (pad > 0) {
          length += pad;
          scratch.fill(0, n, length);
        }
        for (let off = 0; off < length; ) off += dst.writeSync(output, scratch, off, length - off, null);
        bytes = end;
      }
      hashed = hash.digest();
      // Longer before, or written past the end by a padded last block; a sparse copy
      // gets its length here (it may end in a hole).
      if (sparse) dst.ftruncateSync?.(output, bytes);
      else if (inPlace && (inPlace.size > bytes || blockPadding(bytes, oldSize) > 0))
        dst.ftruncateSync?.(output, bytes);
      // Through the descriptor, which spares resolving the path again; the mode of a copy
      // that turns out stale is set again when it is copied again. (Times stay by path:
      // Deno's futimesSync drops a millisecond of some fractional-second times.)
      if (dst.fchmodSync) {
        if (modeToSet(has, mode)) dst.fchmodSync(output, mode);
        modeSet = true;
      }
    } finally {
      dst.closeSync(output);
    }
  } finally {
    src.closeSync(input);
  }
  const now = lstatOrUndefined(src, from);
  if (!now) return { kind: "gone" };
  if (bytes !== size || now.size !== size || now.mtimeMs !== stat[4] || (now.mode & S_IFMT) !== S_IFREG) {
    return { kind: "changed", now, link: now.isSymbolicLink() ? src.readlinkSync(from) : "" };
  }
  if (!modeSet && modeToSet(has, mode)) dst.chmodSync(to, mode);
  const time = fileTimeOfMs(stat[4] as number);
  dst.utimesSync(to, time, time);
  return { kind: "done", checksum: hashed, bytes, inPlace: inPlace !== undefined };
}

/**
 * Whether a copied file's mode must be set: what it `has` is unknown or another mode,
 * or it has set-user/group-ID bits, which setting the owner or writing clears.
 */
function modeToSet(has: { mode: number } | undefined, mode: number): boolean {
  return !has || (has.mode & 0o7777) !== mode || (mode & 0o6000) !== 0;
}

/** Checksum of an entry without content (directories, symlinks). */
function checksum(
  ctx: ApplyContext,
  path: string,
  stats: ArrayLike<number>,
  o: number,
  link: string,
  target: string,
): string {
  const owner = ctx.owners ? undefined : ctx.dst.lstatSync(target);
  if (ctx.owners && ((stats[o] as number) & S_IFMT) === S_IFDIR) {
    ctx.dst.lchownSync?.(target, stats[o + 1] as number, stats[o + 2] as number);
  }
  const header = headerOf(path, stats, o, link, owner);
  if (!header) throw new Error(`no tar header for ${path}`);
  return startEntryChecksum(ctx.sha256, header).digest();
}

/** The header the snapshot entry will have: the source's mode and size, the snapshot's owner. */
function headerOf(
  path: string,
  stats: ArrayLike<number>,
  o: number,
  link: string,
  owner: { uid: number; gid: number } | undefined,
) {
  const fake = {
    mode: stats[o] as number,
    uid: owner ? owner.uid : (stats[o + 1] as number),
    gid: owner ? owner.gid : (stats[o + 2] as number),
    size: stats[o + 3] as number,
    rdev: 0,
  } as FileStats;
  return headerFromStats(path, fake, link);
}
