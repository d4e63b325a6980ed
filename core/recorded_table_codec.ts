/**
 * The stored hash tree, version 4: a {@linkcode RecordedTable}'s columns as they are,
 * so that reading and writing them is a few copies rather than a loop over every entry.
 * Resyncs read the tree before they walk and write it after every change; in
 * version 2 (entries one by one, names sharing prefixes, numbers as varints), decoding
 * 11k entries took ~26 ms and folding, sizing and encoding them again ~25 ms, most of it
 * in loops the JIT had not compiled yet.
 *
 * Layout (numbers little-endian): `"FSHT"` · version u8 (4) · root digest (32 bytes) ·
 * entry count u32 · content size f64 (-1 when not exact) · names' byte length u32 ·
 * link count u32 · stats (6 float64 per entry: mode, uid, gid, size, mtimeMs,
 * listingKey; mode NaN for an entry without a stat, listingKey NaN for none) ·
 * checksums (32 bytes per entry) · names (UTF-8 or
 * escaped bytes, NUL-separated, walk order) · links (entry index u32, byte length u32,
 * bytes; by index, ascending) · CRC-32 (big-endian) of everything before it.
 *
 * Taken as stored, as the CRC guards them against damage: the digest, the content size,
 * the checksums and the stats. Checked, as a tree must never name a path outside its
 * snapshot: every name is clean and relative, and strictly after the one before in walk
 * order. Version 3 (the same without listing keys: 5 stat numbers per entry) is still
 * read here, versions 1 and 2 in `recorded_table_v2.ts`.
 * @module
 */
import { corrupt, hexOf, LITTLE_ENDIAN } from "./byte_io.ts";
import { compareWalkOrder, decodeName, decodeNameText } from "./names.ts";
import { RecordedTable, TABLE_STAT_FIELDS } from "./recorded_table.ts";
import { decodeVersion2 } from "./recorded_table_v2.ts";
import {
  COUNT_AT,
  checkedBody,
  DIGEST_BYTES,
  HEADER_BYTES,
  LINK_COUNT_AT,
  NAMES_LENGTH_AT,
  SIZE_AT,
  VERSION,
  VERSION_3,
} from "./tree_format.ts";

export { encodeRecordedTable } from "./recorded_table_encoder.ts";

/** No string is longer: names beyond this cannot be one string, and are not a tree we wrote. */
const MAX_NAMES_BYTES = 2 ** 29;

/**
 * Decodes stored hash-tree bytes (any version) into a table; throws `ERR_CORRUPT` for
 * wrong magic or version, a bad CRC, truncation, sections that do not add up, and paths
 * out of order or not clean.
 *
 * The table's checksums are a view into `data`: `data` must not change after this call
 * (the stores hand out a fresh copy on every read).
 *
 * @example
 * ```ts
 * const table = decodeRecordedTable(await metaStore.getHashTree(key));
 * ```
 */
export function decodeRecordedTable(data: Uint8Array): RecordedTable {
  const { version, body } = checkedBody(data);
  if (version !== VERSION && version !== VERSION_3) return decodeVersion2(body, version);
  /** Stat numbers stored per entry: version 3 had no listing key. */
  const fields = version === VERSION ? TABLE_STAT_FIELDS : TABLE_STAT_FIELDS - 1;
  if (body.length < HEADER_BYTES) corrupt("truncated");
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const count = view.getUint32(COUNT_AT, true);
  const size = view.getFloat64(SIZE_AT, true);
  const namesLength = view.getUint32(NAMES_LENGTH_AT, true);
  const linkCount = view.getUint32(LINK_COUNT_AT, true);
  let p = HEADER_BYTES;
  if (size !== -1 && !(Number.isSafeInteger(size) && size >= 0)) corrupt("bad content size");
  if (namesLength > MAX_NAMES_BYTES) corrupt("names too long");
  // Checked before anything is allocated: the columns take 80 bytes per entry (72 in
  // version 3), each link at least 8, and `count` names at least `2 * count - 1` (a byte
  // each, NULs between).
  if (count * (fields * 8 + 32) + namesLength + linkCount * 8 > body.length - p) corrupt("truncated");
  if (linkCount > count || namesLength < count * 2 - 1 || (count === 0 && namesLength > 0)) {
    corrupt("bad section sizes");
  }

  const stats = new Float64Array(count * TABLE_STAT_FIELDS);
  if (fields !== TABLE_STAT_FIELDS) {
    for (let i = 0; i < count; i++) {
      for (let f = 0; f < fields; f++)
        stats[i * TABLE_STAT_FIELDS + f] = view.getFloat64(p + (i * fields + f) * 8, true);
      stats[i * TABLE_STAT_FIELDS + fields] = Number.NaN;
    }
  } else if (LITTLE_ENDIAN) new Uint8Array(stats.buffer).set(body.subarray(p, p + stats.length * 8));
  else for (let i = 0; i < stats.length; i++) stats[i] = view.getFloat64(p + i * 8, true);
  p += count * fields * 8;
  const sums = body.subarray(p, p + count * 32);
  p += count * 32;
  const names = body.subarray(p, p + namesLength);
  p += namesLength;
  const links = new Map<number, string>();
  let previous = -1;
  for (let k = 0; k < linkCount; k++) {
    if (p + 8 > body.length) corrupt("truncated");
    const index = view.getUint32(p, true);
    const length = view.getUint32(p + 4, true);
    p += 8;
    if (index <= previous || index >= count) corrupt("bad link index");
    if (p + length > body.length) corrupt("truncated");
    links.set(index, decodeName(body.subarray(p, p + length)));
    p += length;
    previous = index;
  }
  if (p !== body.length) corrupt("trailing bytes");
  const paths = count === 0 ? [] : checkedPaths(decodeNameText(names));
  if (paths.length !== count) corrupt("bad entry count");
  const digest = hexOf(body.subarray(5, 5 + DIGEST_BYTES));
  return new RecordedTable({ paths, sums, stats, links }, { digest, contentSize: size === -1 ? null : size });
}

/** Empty, `.` or `..` components (also a leading, trailing or double `/`), at any name's start or after any `/`. */
const UNCLEAN = /(?:^|\0|\/)\.{0,2}(?:\/|\0|$)/;

/**
 * The NUL-separated paths of `text`; throws `ERR_CORRUPT` unless every one is clean and
 * relative (one regular expression over them all) and strictly after the one before in
 * walk order. (Comparing pairs beat making every path a key that plain string order
 * compares, `/` swapped for `\x01`: for 100k paths, 23 ms against 54.)
 */
function checkedPaths(text: string): string[] {
  if (UNCLEAN.test(text)) corrupt("bad entry path");
  const paths = text.split("\0");
  for (let i = 1; i < paths.length; i++) {
    if (compareWalkOrder(paths[i - 1] as string, paths[i] as string) >= 0) corrupt("paths out of order");
  }
  return paths;
}
