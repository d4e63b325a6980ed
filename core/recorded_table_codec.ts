/**
 * The stored hash-tree format of `hash_tree_codec.ts`, read into and written from a
 * {@linkcode RecordedTable} instead of a trie: the same bytes either way. All names
 * are rebuilt into one buffer and decoded as one string (one decoder call instead of
 * one per entry), and the walk order is checked on the bytes as they are rebuilt.
 * @module
 */
import { corrupt, crc32 } from "./byte_io.ts";
import { FSCacheError } from "./errors.ts";
import { HAS_LINK, HAS_STAT, MAGIC, openRecord, VERSION } from "./hash_tree_codec.ts";
import { decodeName, encodeName } from "./names.ts";
import { RecordedTable, TABLE_STAT_FIELDS } from "./recorded_table.ts";

/**
 * Encodes a table exactly as `serializeHashTree` encodes a tree with the same entries.
 *
 * @example
 * ```ts
 * await metaStore.putHashTree(key, encodeRecordedTable(table));
 * ```
 */
export function encodeRecordedTable(table: RecordedTable): Uint8Array {
  const n = table.size;
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
  const out = new Uint8Array(5 + 8 + names.length + n * (8 + 8 + 32 + 1 + 4 * 8 + 8) + linkBytes + 4);
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
 * Decodes stored hash-tree bytes into a table; throws `ERR_CORRUPT` for what
 * `deserializeHashTree` rejects (wrong magic or version, bad CRC, truncation, paths
 * out of order or not clean).
 *
 * @example
 * ```ts
 * const table = decodeRecordedTable(await metaStore.getHashTree(key));
 * ```
 */
export function decodeRecordedTable(data: Uint8Array): RecordedTable {
  const { body, input, count } = openRecord(data);
  // Each entry takes at least 35 bytes: a count beyond that is a lie, not a reason to allocate.
  if (count * 35 > body.length) corrupt("truncated");
  const sums = new Uint8Array(count * 32);
  const stats = new Float64Array(count * TABLE_STAT_FIELDS);
  const links = new Map<number, string>();
  let name = new Uint8Array(256);
  let length = 0;
  let all = new Uint8Array(Math.max(1024, body.length));
  let used = 0;
  for (let n = 0; n < count; n++) {
    const shared = input.varint();
    const suffix = input.bytes(input.varint());
    if (shared > length) corrupt("bad path prefix");
    if (n > 0 && !follows(name, shared, length, suffix)) corrupt("paths out of order");
    if (shared + suffix.length > name.length) {
      const bigger = new Uint8Array(Math.max(name.length * 2, shared + suffix.length));
      bigger.set(name.subarray(0, shared));
      name = bigger;
    }
    name.set(suffix, shared);
    length = shared + suffix.length;
    if (!isCleanPath(name, length)) corrupt("bad entry path");
    if (used + length + 1 > all.length) {
      const bigger = new Uint8Array(Math.max(all.length * 2, used + length + 1));
      bigger.set(all.subarray(0, used));
      all = bigger;
    }
    if (n > 0) all[used++] = 0;
    all.set(name.subarray(0, length), used);
    used += length;
    sums.set(input.bytes(32), n * 32);
    const flags = input.byte();
    const o = n * TABLE_STAT_FIELDS;
    if (!(flags & HAS_STAT)) {
      stats[o] = Number.NaN;
      continue;
    }
    stats[o] = input.varint();
    stats[o + 1] = input.varint();
    stats[o + 2] = input.varint();
    stats[o + 3] = input.varint();
    stats[o + 4] = input.float64();
    if (flags & HAS_LINK) links.set(n, decodeName(input.bytes(input.varint())));
  }
  if (!input.done) corrupt("trailing or repeated entries");
  const paths = count === 0 ? [] : decodeName(all.subarray(0, used)).split("\0");
  return new RecordedTable({ paths, sums, stats, links });
}

/**
 * True when the name `name[0, shared) + suffix` comes strictly after the previous one,
 * `name[0, length)`, in walk order (bytes, `/` lowest; a prefix first).
 */
function follows(name: Uint8Array, shared: number, length: number, suffix: Uint8Array): boolean {
  const n = Math.min(length - shared, suffix.length);
  for (let i = 0; i < n; i++) {
    const before = name[shared + i] as number;
    const after = suffix[i] as number;
    if (before === after) continue;
    return (after === 0x2f ? -1 : after) > (before === 0x2f ? -1 : before);
  }
  return suffix.length > length - shared;
}

/** A clean relative path: no empty, `.` or `..` component, no NUL. */
function isCleanPath(name: Uint8Array, length: number): boolean {
  let start = 0;
  for (let i = 0; i <= length; i++) {
    const b = i < length ? (name[i] as number) : 0x2f;
    if (b === 0) return false;
    if (b !== 0x2f) continue;
    const part = i - start;
    if (part === 0) return false;
    if (part <= 2 && name[start] === 0x2e && (part === 1 || name[start + 1] === 0x2e)) return false;
    start = i + 1;
  }
  return true;
}
