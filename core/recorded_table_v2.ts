/**
 * Reading the stored hash-tree format of versions 1 and 2, written before version 3
 * (`recorded_table_codec.ts`): entries one after the other in walk order, each path
 * stored as the bytes it shares with the previous one plus the rest, numbers as
 * varints. Layout: `"FSHT"` · version u8 · [root digest, 32 bytes: version 2] · entry
 * count varint · entries · CRC-32. Entry: shared-prefix length varint · suffix length
 * varint · suffix bytes · checksum (32 bytes) · flags u8 (1 = stat, 2 = link name) ·
 * [stat: mode, uid, gid, size varints, mtimeMs float64 LE] · [link name: length varint,
 * bytes]. A tree read in this format is stored again in version 4, without listing keys.
 *
 * All names are rebuilt into one buffer and decoded as one string (one decoder call
 * instead of one per entry), and the walk order is checked on the bytes as they are
 * rebuilt.
 * @module
 */
import { ByteReader, corrupt, hexOf } from "./byte_io.ts";
import { decodeName, decodeNameText } from "./names.ts";
import { LISTING_KEY_AT, RecordedTable, TABLE_STAT_FIELDS } from "./recorded_table.ts";
import { DIGEST_BYTES, VERSION_2 } from "./tree_format.ts";

const HAS_STAT = 1;
const HAS_LINK = 2;

/**
 * The table stored in `body` (a checked version 1 or 2 tree without its CRC, see
 * `checkedBody`); throws `ERR_CORRUPT` for truncation, paths out of order or not
 * clean, and bad numbers.
 *
 * @example
 * ```ts
 * const { version, body } = checkedBody(bytes);
 * if (version === 1 || version === 2) decodeVersion2(body, version);
 * ```
 */
export function decodeVersion2(body: Uint8Array, version: number): RecordedTable {
  const input = new ByteReader(body, 5);
  const digest = version === VERSION_2 ? input.bytes(DIGEST_BYTES) : undefined;
  const count = input.varint();
  // Each entry takes at least 35 bytes: a count beyond that is a lie, not a reason to allocate.
  if (count * 35 > body.length - input.position) corrupt("truncated");
  // Decoded in passes, each a small function around one loop: the first notes where
  // each entry's pieces are, so the names can be rebuilt into one buffer of the exact
  // size. For each entry: where its checksum is (its name's suffix ends there), its
  // suffix's and shared prefix's lengths.
  const sumAt = new Uint32Array(count);
  const lengths = new Uint32Array(count * 2);
  const stats = new Float64Array(count * TABLE_STAT_FIELDS);
  const links = new Map<number, string>();
  if (readEntries(body, input.position, count, sumAt, lengths, stats, links) !== body.length) {
    corrupt("trailing or repeated entries");
  }
  const paths = count === 0 ? [] : decodeNameText(rebuildNames(body, sumAt, lengths, count)).split("\0");
  const sums = new Uint8Array(count * 32);
  for (let n = 0; n < count; n++) sums.set(body.subarray(sumAt[n] as number, (sumAt[n] as number) + 32), n * 32);
  return new RecordedTable({ paths, sums, stats, links }, digest === undefined ? {} : { digest: hexOf(digest) });
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
): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  let p = from;
  let previousLength = 0;
  for (let n = 0; n < count; n++) {
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
      stats[o + LISTING_KEY_AT] = Number.NaN;
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
    stats[o + LISTING_KEY_AT] = Number.NaN;
    p += 8;
    if (flags & HAS_LINK) {
      const length = varintAt(bytes, p);
      p = varintEnd;
      if (p + length > end) corrupt("truncated");
      links.set(n, decodeName(bytes.subarray(p, p + length)));
      p += length;
    }
  }
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
