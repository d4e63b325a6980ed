/**
 * The writing half of the stored hash-tree format (`recorded_table_codec.ts`, version 4):
 * a {@linkcode RecordedTable}'s columns copied as they are, its names joined and encoded
 * in one call.
 * @module
 */
import { LITTLE_ENDIAN } from "./byte_io.ts";
import { encodeName } from "./names.ts";
import { type RecordedTable, TABLE_STAT_FIELDS } from "./recorded_table.ts";
import {
  COUNT_AT,
  DIGEST_BYTES,
  HEADER_BYTES,
  LINK_COUNT_AT,
  MAGIC,
  NAMES_LENGTH_AT,
  SIZE_AT,
  sealTree,
  VERSION,
} from "./tree_format.ts";
import type { Sha256Factory } from "./types.ts";

/**
 * Encodes a table in the stored format. The root digest and content size stored are the
 * table's (computed now, with `sha256`, unless known): the caller's `hash(".")` then
 * finds them cached, and the next decode takes them as stored.
 *
 * @example
 * ```ts
 * await metaStore.putHashTree(key, encodeRecordedTable(table, nodeSha256));
 * ```
 */
export function encodeRecordedTable(table: RecordedTable, sha256: Sha256Factory): Uint8Array {
  return encodeWithDigest(table, table.digest(sha256));
}

/**
 * {@linkcode encodeRecordedTable} with the root digest (hex) given, as a trie knows it.
 *
 * @example
 * ```ts
 * encodeWithDigest(RecordedTable.fromEntries(trie.entries()), trie.hash(".").slice(4));
 * ```
 */
export function encodeWithDigest(table: RecordedTable, root: string): Uint8Array {
  const size = table.contentSize();
  const n = table.size;
  // NUL separates the names (no name holds one).
  const names = n === 0 ? new Uint8Array(0) : encodeName(table.paths.join("\0"));
  const links = [...table.links].sort((a, b) => a[0] - b[0]).map(([i, link]) => [i, encodeName(link)] as const);
  let length = HEADER_BYTES + n * (TABLE_STAT_FIELDS * 8 + 32) + names.length + 4;
  for (const [, bytes] of links) length += 8 + bytes.length;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  out.set(MAGIC);
  out[4] = VERSION;
  for (let i = 0; i < DIGEST_BYTES; i++) out[5 + i] = Number.parseInt(root.slice(i * 2, i * 2 + 2), 16);
  view.setUint32(COUNT_AT, n, true);
  view.setFloat64(SIZE_AT, size ?? -1, true);
  view.setUint32(NAMES_LENGTH_AT, names.length, true);
  view.setUint32(LINK_COUNT_AT, links.length, true);
  let p = HEADER_BYTES;
  const stats = table.stats.subarray(0, n * TABLE_STAT_FIELDS);
  if (LITTLE_ENDIAN) out.set(new Uint8Array(stats.buffer, stats.byteOffset, stats.length * 8), p);
  else for (let i = 0; i < stats.length; i++) view.setFloat64(p + i * 8, stats[i] as number, true);
  p += stats.length * 8;
  out.set(table.sums.subarray(0, n * 32), p);
  p += n * 32;
  out.set(names, p);
  p += names.length;
  for (const [i, bytes] of links) {
    view.setUint32(p, i, true);
    view.setUint32(p + 4, bytes.length, true);
    out.set(bytes, p + 8);
    p += 8 + bytes.length;
  }
  return sealTree(out);
}
