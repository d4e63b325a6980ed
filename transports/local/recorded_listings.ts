/**
 * Directory listings a repeat local sync takes from the record of the last one instead
 * of reading the directory: those of directories whose listing key
 * (`core/listing_key.ts`) is the one recorded. The walk still `lstat`s each entry: a
 * file's content changes without its directory. The key also hashes the walk's
 * options, since the excludes decide which entries were recorded.
 * @module
 */
import { isBelow } from "../../core/path.ts";
import { LISTING_KEY_AT, type RecordedTable, TABLE_STAT_FIELDS } from "../../core/recorded_table.ts";

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

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

  /** Whether entry `at` was recorded as a regular file. */
  isFile(at: number): boolean {
    return ((this.#stats[at * TABLE_STAT_FIELDS] as number) & S_IFMT) === S_IFREG;
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
