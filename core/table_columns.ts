/**
 * The columns a {@linkcode RecordedTable} keeps its entries in, and filling them one
 * entry at a time (decoders, the appender, a fold's new entries).
 * @module
 */
import { checkTreeNumber } from "./byte_io.ts";
import type { EntryStat } from "./types.ts";

/**
 * Numbers per entry in `RecordedTable.stats`: mode, uid, gid, size, mtimeMs,
 * listingKey (`NaN` when none).
 */
export const TABLE_STAT_FIELDS = 6;
/** Where among an entry's stat numbers its listing key is (a walk's stats have the same layout). */
export const LISTING_KEY_AT = 5;

/** The columns of a table; `stats[i * 6]` is `NaN` for an entry recorded without a stat. */
export interface TableColumns {
  paths: string[];
  /** 32 bytes per entry. */
  sums: Uint8Array;
  stats: Float64Array;
  /** `stat.linkname` by entry index, for the entries that have one. */
  links: Map<number, string>;
}

/** Columns being filled in (`sums` and `stats` may be longer than the entries in them). */
export type TableFilling = TableColumns;

/**
 * Columns for `n` entries, to fill with {@linkcode putEntry}; `paths` when the caller
 * gathers them otherwise.
 *
 * @example
 * ```ts
 * const columns = allocateColumns(1);
 * putEntry(columns, 0, "a", sum, undefined);
 * new RecordedTable(columns).get("a")?.checksum === sum; // true
 * ```
 */
export function allocateColumns(n: number, paths: string[] = new Array<string>(n)): TableFilling {
  return {
    paths,
    sums: new Uint8Array(n * 32),
    stats: new Float64Array(n * TABLE_STAT_FIELDS),
    links: new Map(),
  };
}

/**
 * Writes entry `i` (a sha256 hex `checksum`, checked by the caller) into `columns`.
 *
 * @example
 * ```ts
 * putEntry(columns, 0, "a", sum, { mode: 0o100644, uid: 0, gid: 0, size: 1, mtimeMs: 0 });
 * ```
 */
export function putEntry(
  columns: TableFilling,
  i: number,
  path: string,
  checksum: string,
  stat: EntryStat | undefined,
): void {
  columns.paths[i] = path;
  putFields(columns, i, checksum, stat);
}

/**
 * {@linkcode putEntry} but for the path, which the caller keeps elsewhere.
 *
 * @example
 * ```ts
 * putFields(columns, 0, sum, undefined);
 * ```
 */
export function putFields(columns: TableFilling, i: number, checksum: string, stat: EntryStat | undefined): void {
  for (let b = 0; b < 32; b++) {
    columns.sums[i * 32 + b] = (hexValue(checksum.charCodeAt(b * 2)) << 4) | hexValue(checksum.charCodeAt(b * 2 + 1));
  }
  const o = i * TABLE_STAT_FIELDS;
  if (!stat) {
    columns.stats[o] = Number.NaN;
    columns.stats[o + LISTING_KEY_AT] = Number.NaN;
    return;
  }
  // Stored as they are: only numbers a file system gives (mtimes: any).
  checkTreeNumber(stat.mode);
  checkTreeNumber(stat.uid);
  checkTreeNumber(stat.gid);
  checkTreeNumber(stat.size);
  columns.stats[o] = stat.mode;
  columns.stats[o + 1] = stat.uid;
  columns.stats[o + 2] = stat.gid;
  columns.stats[o + 3] = stat.size;
  columns.stats[o + 4] = stat.mtimeMs;
  columns.stats[o + LISTING_KEY_AT] = stat.listingKey ?? Number.NaN;
  if (stat.linkname !== undefined) columns.links.set(i, stat.linkname);
}

function hexValue(c: number): number {
  return c <= 0x39 ? c - 0x30 : c - 0x57;
}
