/**
 * The stored hash-tree format of `hash_tree_codec.ts`, read into and written from a
 * {@linkcode RecordedTable} instead of a trie: the same bytes either way. All names
 * are rebuilt into one buffer and decoded as one string (one decoder call instead of
 * one per entry), and the walk order is checked on the bytes as they are rebuilt.
 * The stored root digest becomes the table's, so a table loaded and left unchanged
 * answers `hash(".")` without touching its entries.
 * @module
 */
import { corrupt, crc32 } from "./byte_io.ts";
import { FSCacheError } from "./errors.ts";
import { HAS_LINK, HAS_STAT, MAGIC, openRecord, VERSION } from "./hash_tree_codec.ts";
import { decodeName, encodeName } from "./names.ts";
import { RecordedTable, TABLE_STAT_FIELDS } from "./recorded_table.ts";
import type { Sha256Factory } from "./types.ts";

/**
 * Encodes a table exactly as `serializeHashTree` encodes a tree with the same entries.
 * The root digest it stores is the table's (computed now with `sha256` unless known):
 * the caller's `hash(".")` then finds it cached.
 *
 * @example
 * ```ts
 * await metaStore.putHashTree(key, encodeRecordedTable(table, nodeSha256));
 * ```
 */
export function encodeRecordedTable(table: RecordedTable, sha256: Sha256Factory): Uint8Array {
  const n = table.size;
  const root = table.digest(sha256);
  // Every name encoded at once; NUL separates them (no name holds one).
  const names = encodeName(table.paths.join("\0"));
  const links = new Map<number, Uint8Array>();
  let linkBytes = 0;
  for (const [i, link] of table.links) {
    const bytes = encodeName(link);
    links.set(i, bytes);
    linkBytes += bytes.length + 8;
  }
  // Written straight into a buffer of the largest size it can take (varints ≤ 8 bytes
  // for safe integers), with no call per byte: this runs once per sync that changed
  // something, mostly before the JIT has optimized it.
  const out = new Uint8Array(5 + 32 + 8 + names.length + n * (8 + 8 + 32 + 1 + 4 * 8 + 8) + linkBytes + 4);
  const view = new DataView(out.buffer);
  let o = 0;
  const varint = (value: number) => {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new FSCacheError("ERR_INVALID_OPTION", `hash tree numbers must be non-negative integers, got ${value}`);
    }
    let v = value;
    while (v >= 0x80) {
      out[o++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    out[o++] = v;
  };
  for (const b of MAGIC) out[o++] = b;
  out[o++] = VERSION;
  for (let i = 0; i < 64; i += 2) out[o++] = Number.parseInt(root.slice(i, i + 2), 16);
  varint(n);
  const s = table.stats;
  const sums = table.sums;
  let start = 0;
  let previousStart = 0;
  let previousLength = 0;
  for (let i = 0; i < n; i++) {
    let end = names.indexOf(0, start);
    if (end === -1) end = names.length;
    const length = end - start;
    let shared = 0;
    const max = Math.min(length, previousLength);
    while (shared < max && names[start + shared] === names[previousStart + shared]) shared++;
    varint(shared);
    varint(length - shared);
    out.set(names.subarray(start + shared, end), o);
    o += length - shared;
    previousStart = start;
    previousLength = length;
    start = end + 1;
    out.set(sums.subarray(i * 32, i * 32 + 32), o);
    o += 32;
    const f = i * TABLE_STAT_FIELDS;
    if (Number.isNaN(s[f])) {
      out[o++] = 0;
      continue;
    }
    const link = links.get(i);
    out[o++] = HAS_STAT | (link !== undefined ? HAS_LINK : 0);
    varint(s[f] as number);
    varint(s[f + 1] as number);
    varint(s[f + 2] as number);
    varint(s[f + 3] as number);
    view.setFloat64(o, s[f + 4] as number, true);
    o += 8;
    if (link !== undefined) {
      varint(link.length);
      out.set(link, o);
      o += link.length;
    }
  }
  view.setUint32(o, crc32(out.subarray(0, o)));
  return out.slice(0, o + 4);
}

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
  if (readEntries(body, input.position, count, sumAt, lengths, stats, links) !== body.length) {
    corrupt("trailing or repeated entries");
  }
  const paths = count === 0 ? [] : decodeNames(rebuildNames(body, sumAt, lengths, count));
  // Gathered on first use: a sync that changes nothing needs the stored digest, not the
  // checksums. Until then the table keeps `data` instead (twice the checksums' size).
  const sums = () => gatherSums(body, sumAt, count);
  return new RecordedTable({ paths, sums, stats, links }, digest === undefined ? undefined : hex(digest));
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

/** The entries' checksums, 32 bytes each, from where they follow their names. */
function gatherSums(bytes: Uint8Array, sumAt: Uint32Array, count: number): Uint8Array {
  const sums = new Uint8Array(count * 32);
  for (let n = 0; n < count; n++) {
    const from = sumAt[n] as number;
    for (let i = 0; i < 32; i++) sums[n * 32 + i] = bytes[from + i] as number;
  }
  return sums;
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
