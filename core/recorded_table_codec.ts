/**
 * The stored hash-tree format of `hash_tree_codec.ts`, read into and written from a
 * {@linkcode RecordedTable} instead of a trie: the same bytes either way. All names
 * are rebuilt into one buffer and decoded as one string (one decoder call instead of
 * one per entry), and the walk order is checked on the bytes as they are rebuilt.
 * The stored root digest becomes the table's, so a table loaded and left unchanged
 * answers `hash(".")` without touching its entries.
 * @module
 */
import { corrupt } from "./byte_io.ts";
import { HAS_LINK, HAS_STAT, openRecord } from "./hash_tree_codec.ts";
import { decodeName } from "./names.ts";
import { RecordedTable, TABLE_STAT_FIELDS } from "./recorded_table.ts";

export { encodeRecordedTable } from "./recorded_table_encoder.ts";

/**
 * Decodes stored hash-tree bytes (either version) into a table; throws `ERR_CORRUPT`
 * for what `deserializeHashTree` rejects (wrong magic or version, bad CRC, truncation,
 * paths out of order or not clean).
 *
 * The stored root digest is taken as is, not recomputed: checking it would cost the
 * very sort and hash over every entry it is stored to save. The CRC covers it with the
 * entries, so damage is caught; only bytes crafted with a matching CRC could pair a
 * wrong digest with the entries, and whoever can write the store can as well write
 * wrong entries, which no check here could tell from right ones.
 *
 * The table reads its checksums from `data` when first asked for them: `data` must
 * not change after this call (the stores hand out a fresh copy on every read).
 *
 * @example
 * ```ts
 * const table = decodeRecordedTable(await metaStore.getHashTree(key));
 * ```
 */
export function decodeRecordedTable(data: Uint8Array): RecordedTable {
  const { body, input, count, digest } = openRecord(data);
  // Decoded in passes, each a small function around one loop: the first notes where
  // each entry's pieces are, so the names can be rebuilt into one buffer of the exact
  // size and the checksums left where they are until asked for. For each entry: where
  // its checksum is (its name's suffix ends there), its suffix's and shared prefix's lengths.
  const sumAt = new Uint32Array(count);
  const lengths = new Uint32Array(count * 2);
  const stats = new Float64Array(count * TABLE_STAT_FIELDS);
  const links = new Map<number, string>();
  // Where each entry starts, and where the last ends: what storing the table again after
  // a few changes copies instead of encoding.
  const starts = new Uint32Array(count + 1);
  if (readEntries(body, input.position, count, sumAt, lengths, stats, links, starts) !== body.length) {
    corrupt("trailing or repeated entries");
  }
  const paths = count === 0 ? [] : decodeNames(rebuildNames(body, sumAt, lengths, count));
  // Gathered on first use: a sync that changes nothing needs the stored digest, not the
  // checksums. Until then the table keeps `data` instead (twice the checksums' size).
  const sums = { bytes: body, at: sumAt };
  const encoded = { bytes: body, starts, runs: count === 0 ? [] : [0, 0, count] };
  return new RecordedTable({ paths, sums, stats, links, encoded }, digest === undefined ? undefined : hex(digest));
}

/**
 * The first pass: reads each entry's numbers (stats, link name) and notes where its
 * name suffix and checksum are; returns where the entries end. Reads `bytes` by index
 * with no call per byte or number: a number's first byte is its value unless its high
 * bit is set, and a read past the end gives `undefined`, which takes the checked path.
 */
function readEntries(
  bytes: Uint8Array,
  from: number,
  count: number,
  sumAt: Uint32Array,
  lengths: Uint32Array,
  stats: Float64Array,
  links: Map<number, string>,
  starts: Uint32Array,
): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  let p = from;
  let previousLength = 0;
  for (let n = 0; n < count; n++) {
    starts[n] = p;
    let shared = bytes[p] as number;
    if (shared < 0x80) p++;
    else {
      shared = varintAt(bytes, p);
      p = varintEnd;
    }
    let suffix = bytes[p] as number;
    if (suffix < 0x80) p++;
    else {
      suffix = varintAt(bytes, p);
      p = varintEnd;
    }
    if (shared > previousLength) corrupt("bad path prefix");
    // The suffix, the checksum and the flags byte.
    if (p + suffix + 33 > end) corrupt("truncated");
    p += suffix;
    sumAt[n] = p;
    lengths[n * 2] = suffix;
    lengths[n * 2 + 1] = shared;
    previousLength = shared + suffix;
    p += 32;
    const flags = bytes[p++] as number;
    const o = n * TABLE_STAT_FIELDS;
    if (!(flags & HAS_STAT)) {
      stats[o] = Number.NaN;
      continue;
    }
    for (let f = 0; f < 4; f++) {
      let v = bytes[p] as number;
      if (v < 0x80) p++;
      else {
        v = varintAt(bytes, p);
        p = varintEnd;
      }
      stats[o + f] = v;
    }
    if (p + 8 > end) corrupt("truncated");
    stats[o + 4] = view.getFloat64(p, true);
    p += 8;
    if (flags & HAS_LINK) {
      const length = varintAt(bytes, p);
      p = varintEnd;
      if (p + length > end) corrupt("truncated");
      links.set(n, decodeName(bytes.subarray(p, p + length)));
      p += length;
    }
  }
  starts[count] = p;
  return p;
}

/**
 * Every name, NUL-separated, rebuilt from the shared prefixes and suffixes (a name's
 * prefix is copied from the previous name, just before it) and checked as it is:
 * strictly after the previous name in walk order, and a clean relative path.
 */
function rebuildNames(bytes: Uint8Array, sumAt: Uint32Array, lengths: Uint32Array, count: number): Uint8Array {
  let total = Math.max(0, count - 1);
  for (let n = 0; n < count * 2; n++) total += lengths[n] as number;
  // One string holds them all in the end, and no string is that long.
  if (total > 2 ** 29) corrupt("names too long");
  // Zero-filled: the separators are there already.
  const all = new Uint8Array(total);
  let start = 0;
  let previous = 0;
  let previousLength = 0;
  for (let n = 0; n < count; n++) {
    const suffix = lengths[n * 2] as number;
    const shared = lengths[n * 2 + 1] as number;
    const at = (sumAt[n] as number) - suffix;
    if (n > 0 && !follows(all, previous + shared, previousLength - shared, bytes, at, suffix)) {
      corrupt("paths out of order");
    }
    for (let i = 0; i < shared; i++) all[start + i] = all[previous + i] as number;
    for (let i = 0; i < suffix; i++) all[start + shared + i] = bytes[at + i] as number;
    const length = shared + suffix;
    if (!isCleanFrom(all, start, length, shared)) corrupt("bad entry path");
    previous = start;
    previousLength = length;
    start += length + 1;
  }
  return all;
}

/** Where the number {@linkcode varintAt} read last ended: its second result, without allocating a pair. */
let varintEnd = 0;

/** The varint at `at` (unsigned LEB128, up to 2^53); sets {@linkcode varintEnd}. */
function varintAt(bytes: Uint8Array, at: number): number {
  let value = 0;
  let scale = 1;
  let p = at;
  for (;;) {
    if (p >= bytes.length) corrupt("truncated");
    const b = bytes[p++] as number;
    value += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 0x80;
    if (scale > 2 ** 53) corrupt("number too large");
  }
  varintEnd = p;
  return value;
}

// `ignoreBOM`: a name may well start with U+FEFF, which must stay part of it.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The NUL-separated names as strings. All at once when they are all UTF-8 (the usual
 * case); else name by name, so that only the names that are not pay for escaping.
 */
function decodeNames(all: Uint8Array): string[] {
  try {
    return strictUtf8.decode(all).split("\0");
  } catch {
    // Some name is not UTF-8.
  }
  const paths: string[] = [];
  let start = 0;
  for (let i = 0; i <= all.length; i++) {
    if (i < all.length && all[i] !== 0) continue;
    paths.push(decodeName(all.subarray(start, i)));
    start = i + 1;
  }
  return paths;
}

const HEX = "0123456789abcdef";

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += (HEX[b >> 4] as string) + (HEX[b & 15] as string);
  return out;
}

/**
 * True when the name made of the previous name's shared prefix plus the suffix
 * `after[at, at + afterLength)` comes strictly after the previous one, whose bytes
 * past that prefix are `before[from, from + beforeLength)`, in walk order (bytes, `/`
 * lowest; a prefix first).
 */
function follows(
  before: Uint8Array,
  from: number,
  beforeLength: number,
  after: Uint8Array,
  at: number,
  afterLength: number,
): boolean {
  const n = Math.min(beforeLength, afterLength);
  for (let i = 0; i < n; i++) {
    const x = before[from + i] as number;
    const y = after[at + i] as number;
    if (x === y) continue;
    return (y === 0x2f ? -1 : y) > (x === 0x2f ? -1 : x);
  }
  return afterLength > beforeLength;
}

/**
 * Whether the name `name[start, start + length)` is a clean relative path (no empty,
 * `.` or `..` component, no NUL), given that its first `shared` bytes are those of
 * the previous name, which was: only the components from the one holding byte
 * `shared` on are checked.
 */
function isCleanFrom(name: Uint8Array, start: number, length: number, shared: number): boolean {
  let part = start + shared;
  while (part > start && name[part - 1] !== 0x2f) part--;
  const end = start + length;
  for (let i = part; i <= end; i++) {
    const b = i < end ? (name[i] as number) : 0x2f;
    if (b === 0) return false;
    if (b !== 0x2f) continue;
    const size = i - part;
    if (size === 0) return false;
    if (size <= 2 && name[part] === 0x2e && (size === 1 || name[part + 1] === 0x2e)) return false;
    part = i + 1;
  }
  return true;
}
