/**
 * The sender's walk of the diff-copy protocol (SPEC §5.2), resumable: entries come out
 * in batches, so the sender can put the first STATs on the wire while it is still
 * walking, and the receiver checks them meanwhile (for 100k entries the two halves of
 * that work took about as long as each other, one after the other).
 * @module
 */
import type { FileStats, FileSystem } from "../../core/file_system.ts";
import { compareWalkOrder } from "../../core/names.ts";
import { joinPath } from "../../core/path.ts";
import { microsOfMs } from "../file_time.ts";
import { type ExcludeMatcher, excludeMatcher } from "./excludes.ts";
import { goModeFromPosix } from "./file_mode.ts";
import type { Stat } from "./packet.ts";
import type { SourceListings } from "./source_listings.ts";

/** One entry of the sender's walk. */
export interface SourceEntry {
  stat: WalkedStat;
  /** `dev:ino` of a regular file with more than one link (hard links are decided by it). */
  inode?: string;
}

/** Options of {@linkcode SourceWalker}. */
export interface SourceWalkOptions {
  /**
   * Walk only these, in this order: the root's names, paths below it (`dir/sub`: that
   * subtree) and directories ending in `/` (`dir/`: its own entry only). One run of a
   * walk shared between threads; paths below the root only without `!` exceptions.
   */
  only?: readonly string[];
  /**
   * `dev:ino` → first path seen, shared by the walks of consecutive runs so that the
   * first path of an inode in walk order is the one the others link to.
   */
  inodes?: Map<string, string>;
  /**
   * Listings from the last push of this tree: a directory whose listing key is the
   * recorded one is not read again. Filled with this walk's listings meanwhile.
   */
  listings?: SourceListings;
  /**
   * The process's working directory (`process.cwd`): while it is the root, entries are
   * looked up by their relative paths. For a walk on the thread that alone changes it,
   * as `listings` (not in a worker: there the main thread could change it between a look
   * and a lookup).
   */
  cwd?: () => string;
}

interface Frame {
  rel: string;
  names: string[];
  next: number;
  /** Below an excluded directory (entered only because an exception may re-include something). */
  excluded: boolean;
  /** For an excluded directory: the absolute index its first child would get; else -1. */
  tentative: number;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
/** Shared by every walked stat: the sender never reads or sets xattrs. */
const NO_XATTRS: Map<string, Uint8Array> = new Map();

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/**
 * A walked entry's `Stat`, its time kept as whole microseconds: a double `mtimeMs` holds
 * no more, and a receiver that stores the value and reads it back must get the same
 * number again. The encoder writes that number without BigInt (`packet_encoder.ts`);
 * `modTime`, read-only here, is made only when read (a BigInt per entry, and its
 * garbage, was a measurable part of a no-op push).
 *
 * @example
 * ```ts
 * const s = new WalkedStat("a.txt", 0o644, 1000, 1000, 4, 1_700_000_000_123_456, "");
 * s.modTime; // 1_700_000_000_123_456_000n
 * ```
 */
export class WalkedStat implements Stat {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** `mtimeMs` in whole microseconds, as walked (not held within int64: `modTime` is). */
  readonly modTimeUs: number;
  linkname: string;
  devmajor = 0;
  devminor = 0;
  xattrs: Map<string, Uint8Array> = NO_XATTRS;

  constructor(path: string, mode: number, uid: number, gid: number, size: number, modTimeUs: number, linkname: string) {
    this.path = path;
    this.mode = mode;
    this.uid = uid;
    this.gid = gid;
    this.size = size;
    this.modTimeUs = modTimeUs;
    this.linkname = linkname;
  }

  /**
   * The STAT's `modTime` (int64 nanoseconds), held within int64: a time after 2262-04-11
   * would otherwise wrap around to 1901 on the receiver (fsutil's Go sender cannot send it either).
   */
  get modTime(): bigint {
    const ns = BigInt(this.modTimeUs) * 1000n;
    return ns > INT64_MAX ? INT64_MAX : ns < INT64_MIN ? INT64_MIN : ns;
  }
}

/**
 * Walks `root` (without following symlinks) into STATs in walk order. Devices, fifos
 * and sockets are skipped (listed in `skipped`: no receiver here can make them, and
 * fsutil's sends devices without their numbers); a second path to an inode already seen becomes a hard link (fsutil's rule).
 * Excluded entries are left out; an excluded directory is still entered when a `!`
 * exception could re-include something below it, and kept only if something was —
 * such a directory's entry is held back until that is known.
 *
 * @example
 * ```ts
 * const walker = new SourceWalker(fs, "/home/me/project", ["node_modules"]);
 * for (let batch = walker.next(1000); batch; batch = walker.next(1000)) send(batch);
 * ```
 */
export class SourceWalker {
  /** Devices, fifos and sockets met so far, left out of the walk. */
  readonly skipped: string[] = [];
  readonly #fs: FileSystem;
  readonly #root: string;
  readonly #matcher: ExcludeMatcher | undefined;
  readonly #inodes: Map<string, string>;
  readonly #listings: SourceListings | undefined;
  /** Before any directory is read: what a listing key's racy check measures from. */
  readonly #start = Date.now();
  readonly #stack: Frame[] = [];
  readonly #cwd: (() => string) | undefined;
  /** The working directory is the root, as of this batch: entries are looked up by relative path. */
  #relative = false;
  /** Walked entries not handed out yet; `#out` of them came before. */
  #pending: SourceEntry[] = [];
  #out = 0;

  constructor(fs: FileSystem, root: string, excludes: readonly string[] = [], options: SourceWalkOptions = {}) {
    this.#fs = fs;
    this.#root = root;
    this.#matcher = excludeMatcher(excludes);
    this.#inodes = options.inodes ?? new Map();
    this.#listings = options.listings;
    this.#cwd = options.cwd;
    const names = options.only ? [...options.only] : this.#list(".");
    this.#stack.push({ rel: ".", names, next: 0, excluded: false, tentative: -1 });
  }

  /** The next entries (about `budget` of them, maybe none yet), or `undefined` once all were given. */
  next(budget: number): SourceEntry[] | undefined {
    if (this.#stack.length === 0 && this.#pending.length === 0) return undefined;
    // Nothing else runs on this thread until the batch is walked: the working directory
    // stays what it is now. A path built per entry (and copied into one piece by the
    // call) cost a no-op push of 11k entries ~10 ms.
    this.#relative = this.#cwd?.() === this.#root;
    let walked = 0;
    while (this.#stack.length > 0 && walked < budget) {
      const frame = this.#stack[this.#stack.length - 1] as Frame;
      if (frame.next >= frame.names.length) {
        this.#stack.pop();
        // an excluded directory nothing below was re-included from is left out again
        if (frame.tentative === this.#out + this.#pending.length) this.#pending.pop();
        continue;
      }
      walked++;
      const name = frame.names[frame.next++] as string;
      // an `only` item `dir/` stands for the directory's own entry
      if (frame.rel === "." && name.endsWith("/")) {
        const depth = this.#stack.length;
        this.#visit(frame, name.slice(0, -1));
        if (this.#stack.length > depth) this.#stack.pop();
      } else this.#visit(frame, name);
    }
    return this.#release();
  }

  /** Hands out what no open excluded directory may still take back. */
  #release(): SourceEntry[] {
    let keep = this.#pending.length;
    for (const frame of this.#stack) {
      if (frame.tentative >= 0) {
        // the directory's own entry sits just before its first child
        keep = frame.tentative - 1 - this.#out;
        break;
      }
    }
    const ready = keep === this.#pending.length ? this.#pending : this.#pending.slice(0, keep);
    this.#pending = keep === this.#pending.length ? [] : this.#pending.slice(keep);
    this.#out += ready.length;
    return ready;
  }

  #list(rel: string): string[] {
    return this.#fs.readdirSync(joinPath(this.#root, rel)).sort(compareWalkOrder);
  }

  #visit(frame: Frame, name: string): void {
    const path = frame.rel === "." ? name : `${frame.rel}/${name}`;
    const matcher = this.#matcher;
    const ignored = matcher?.ignores(path) ?? false;
    const excluded = frame.excluded || ignored;
    if (excluded && !matcher?.hasExceptions) return;
    let full = this.#relative ? path : joinPath(this.#root, path);
    let st: FileStats;
    try {
      st = this.#fs.lstatSync(full);
    } catch (err) {
      if (!this.#relative) throw err;
      // Again by the absolute path, so that a failure names the entry as it did before.
      full = joinPath(this.#root, path);
      st = this.#fs.lstatSync(full);
    }
    const type = st.mode & S_IFMT;
    if (type !== S_IFDIR && type !== S_IFREG && type !== S_IFLNK) {
      if (!ignored) this.skipped.push(path);
      return;
    }
    if (excluded && ignored && type !== S_IFDIR) return;
    const s = new WalkedStat(
      path,
      goModeFromPosix(st.mode),
      st.uid,
      st.gid,
      type === S_IFDIR ? 0 : st.size,
      microsOfMs(st.mtimeMs),
      type === S_IFLNK ? this.#fs.readlinkSync(full) : "",
    );
    const entry: SourceEntry = { stat: s };
    if (type === S_IFREG && st.nlink > 1) {
      entry.inode = `${st.dev}:${st.ino}`;
      linkToFirst(this.#inodes, entry);
    }
    this.#pending.push(entry);
    if (type === S_IFDIR) {
      const dirExcluded = excluded && ignored;
      const tentative = dirExcluded ? this.#out + this.#pending.length : -1;
      const names = this.#listings
        ? this.#listings.list(path, st, this.#start, () => this.#list(path))
        : this.#list(path);
      this.#stack.push({ rel: path, names, next: 0, excluded: dirExcluded, tentative });
    }
  }
}

/**
 * Makes `entry` (a regular file with more links) a hard link to the first path of its
 * inode in `inodes`, or that first path itself. fsutil keeps the size on hard links (its
 * mkstat sets it after the link check).
 *
 * @example
 * ```ts
 * linkToFirst(inodes, entry); // entry.stat.linkname: "" or the first path
 * ```
 */
export function linkToFirst(inodes: Map<string, string>, entry: SourceEntry): void {
  entry.stat.linkname = earlierPathOf(inodes, entry.inode as string, entry.stat.path) ?? "";
}

/**
 * The path `inode` (`dev:ino`) was first met under, in walk order, or `undefined` when
 * `path` is that first path (recorded in `inodes` now): the rule by which a later name
 * of a file is a hard link to its first, for the sender and the receiver's disk walk alike.
 *
 * @example
 * ```ts
 * earlierPathOf(inodes, "2049:77", "a.txt"); // undefined
 * earlierPathOf(inodes, "2049:77", "b.txt"); // "a.txt"
 * ```
 */
export function earlierPathOf(inodes: Map<string, string>, inode: string, path: string): string | undefined {
  const first = inodes.get(inode);
  if (first === undefined) inodes.set(inode, path);
  return first;
}

/**
 * The whole walk at once (see {@linkcode SourceWalker}).
 *
 * @example
 * ```ts
 * const entries = walkSource(fs, "/home/me/project", ["node_modules"]);
 * entries[0].stat.path; // "a.txt"
 * ```
 */
export function walkSource(fs: FileSystem, root: string, excludes: readonly string[] = []): SourceEntry[] {
  const walker = new SourceWalker(fs, root, excludes);
  const out: SourceEntry[] = [];
  for (let batch = walker.next(Number.POSITIVE_INFINITY); batch; batch = walker.next(Number.POSITIVE_INFINITY)) {
    for (const entry of batch) out.push(entry);
  }
  return out;
}
