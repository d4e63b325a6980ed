/**
 * Directory listings a repeat walk may take from the record instead of reading the
 * directory. Every change to a directory's entries moves its status-change time
 * (`ctime`), which no call can set back; so a directory whose inode and `ctime` are
 * those the last sync recorded holds the entries that sync recorded under it. The
 * walk still `lstat`s each of them: a file's content changes without its directory.
 *
 * Each directory's identity goes into one number, its listing key: a hash of its
 * device, inode, `ctime` and `mtime` and of the walk's options (excludes decide which
 * entries were recorded). Two limits keep a key honest:
 * - A directory changed less than {@linkcode RACY_MS} before the walk began gets no
 *   key: a change right after the walk read it could fall in the same clock tick, and
 *   leave its `ctime` as recorded (as git's "racily clean" index entries).
 * - Only a file system that reports `ctimeMs` gets keys (the disk and `memfs` do).
 * @module
 */
import type { FileStats } from "../../core/file_system.ts";
import { isBelow } from "../../core/path.ts";
import { LISTING_KEY_AT, type RecordedTable, TABLE_STAT_FIELDS } from "../../core/recorded_table.ts";

/**
 * How long before the walk began a directory must have last changed to get a key, in
 * ms: more than any clock tick of a file system's timestamps (whole seconds at worst,
 * as Deno's `node:fs` reports `ctime`), and than a file system clock lagging the
 * process clock.
 */
export const RACY_MS = 3000;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

/** Room to read a float64's bits as two 32-bit words. */
const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);

/**
 * The listing key of a directory `stats` describes, for a walk with options hashed to
 * `salt` (see {@linkcode walkSalt}) that began at `walkStart` (ms since the epoch);
 * `NaN` when it cannot have one. Always a safe integer otherwise.
 *
 * @example
 * ```ts
 * const key = listingKeyOf(fs.lstatSync("/src/app/lib"), walkSalt({ excludes: [] }), Date.now());
 * ```
 */
export function listingKeyOf(stats: FileStats, salt: number, walkStart: number): number {
  const ctime = stats.ctimeMs;
  const settled = walkStart - RACY_MS;
  if (ctime === undefined || !(ctime < settled) || !(stats.mtimeMs < settled)) return Number.NaN;
  let a = salt ^ 0x9e3779b9;
  let b = salt ^ 0x85ebca6b;
  for (const value of [stats.dev, stats.ino, ctime, stats.mtimeMs]) {
    bits[0] = value;
    for (const word of words) {
      a = mix(a ^ word);
      b = mix(b ^ Math.imul(word, 0xcc9e2d51));
    }
  }
  // 21 bits of one hash above 32 of the other: any integer below 2^53.
  return (a >>> 11) * 2 ** 32 + (b >>> 0);
}

/**
 * A 32-bit hash of the walk options that decide which entries a walk records.
 *
 * @example
 * ```ts
 * walkSalt({ excludes: ["node_modules"] }) !== walkSalt({ excludes: [] }); // true
 * ```
 */
export function walkSalt(options: { excludes?: readonly string[]; followRootSymlink?: boolean }): number {
  const text = JSON.stringify([options.excludes ?? [], options.followRootSymlink !== false]);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** murmur3's finalizer: every input bit moves about half of the output bits. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/**
 * The record a walk reads its listings from. The walk and the table are both in walk
 * order, so a directory taken from the record is walked as the run of table entries
 * below it, each child found by its index: no listing is built (building them all
 * first cost a resync of 11k entries ~10 ms, half of what not reading saved).
 *
 * @example
 * ```ts
 * const listings = new RecordedListings(previous);
 * const at = listings.search("lib");
 * if (listings.matches(at, listingKeyOf(stats, salt, start))) walkRun(at + 1, listings.end(at));
 * ```
 */
export class RecordedListings {
  /** The recorded paths, in walk order. */
  readonly paths: readonly string[];
  readonly #stats: Float64Array;
  readonly #table: RecordedTable;

  constructor(table: RecordedTable) {
    this.#table = table;
    this.paths = table.paths;
    this.#stats = table.stats;
  }

  /** Index of the recorded `path`, or -1. */
  search(path: string): number {
    return this.#table.search(path);
  }

  /** Whether entry `at` is a directory recorded with listing key `key` (never for `NaN`). */
  matches(at: number, key: number): boolean {
    if (at < 0 || Number.isNaN(key)) return false;
    const o = at * TABLE_STAT_FIELDS;
    return ((this.#stats[o] as number) & S_IFMT) === S_IFDIR && this.#stats[o + LISTING_KEY_AT] === key;
  }

  /** Whether entry `at` was recorded as a directory. */
  isDir(at: number): boolean {
    return ((this.#stats[at * TABLE_STAT_FIELDS] as number) & S_IFMT) === S_IFDIR;
  }

  /** Whether a regular file with `size` and `mtimeMs` differs from entry `at`. */
  changed(at: number, size: number, mtimeMs: number): boolean {
    const o = at * TABLE_STAT_FIELDS;
    return this.#stats[o + 3] !== size || this.#stats[o + 4] !== mtimeMs;
  }

  /** The index just past entry `at` and everything recorded below it. */
  end(at: number): number {
    const dir = this.paths[at] as string;
    let i = at + 1;
    while (i < this.paths.length && isBelow(this.paths[i] as string, dir)) i++;
    return i;
  }

  /** Whether entry `i` lies below `dir` (`""`: the root). */
  below(i: number, dir: string): boolean {
    const path = this.paths[i];
    return path !== undefined && (dir === "" || isBelow(path, dir));
  }
}
