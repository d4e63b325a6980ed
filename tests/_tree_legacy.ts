/**
 * The stored hash-tree formats fscache wrote before version 4: versions 1 and 2 (entry
 * by entry) and version 3 (columns without listing keys). Kept here, and no longer in
 * the library, so that the tests can write trees in them for the readers that still
 * read them (`core/recorded_table_v2.ts`, `core/recorded_table_codec.ts`).
 */
import assert from "node:assert/strict";
import type { HashTree } from "../core/hash_tree.ts";
import { encodeName } from "../core/names.ts";
import { TABLE_STAT_FIELDS } from "../core/recorded_table.ts";
import { COUNT_AT, HEADER_BYTES, sealTree } from "../core/tree_format.ts";

/** The bytes version 2 stores for `tree`. */
export function writeVersion2(tree: HashTree): Uint8Array {
  const out = new Writer();
  out.bytes([0x46, 0x53, 0x48, 0x54, 2]);
  const root = tree.hash(".", "dir") as string;
  out.bytes(hexBytes(root.slice("dir:".length)));
  out.varint(tree.size);
  let previous: Uint8Array = new Uint8Array(0);
  for (const [path, entry] of tree.entries()) {
    const name = encodeName(path);
    let shared = 0;
    const max = Math.min(name.length, previous.length);
    while (shared < max && name[shared] === previous[shared]) shared++;
    out.varint(shared);
    out.varint(name.length - shared);
    out.bytes(name.subarray(shared));
    previous = name;
    out.bytes(hexBytes(entry.checksum));
    const stat = entry.stat;
    out.bytes([(stat ? 1 : 0) | (stat?.linkname !== undefined ? 2 : 0)]);
    if (!stat) continue;
    out.varint(stat.mode);
    out.varint(stat.uid);
    out.varint(stat.gid);
    out.varint(stat.size);
    out.float64(stat.mtimeMs);
    if (stat.linkname !== undefined) {
      const link = encodeName(stat.linkname);
      out.varint(link.length);
      out.bytes(link);
    }
  }
  return sealed(Uint8Array.from(out.out));
}

/** Bytes, unsigned LEB128 varints and little-endian float64s, one after the other. */
class Writer {
  readonly out: number[] = [];

  bytes(b: ArrayLike<number>): void {
    for (let i = 0; i < b.length; i++) this.out.push(b[i] as number);
  }

  varint(value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.out.push(v);
  }

  float64(value: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    this.bytes(b);
  }
}

/** The same entries in version 1: no root digest, version byte 1, CRC over the rest. */
export function asVersion1(v2: Uint8Array): Uint8Array {
  assert.equal(v2[4], 2);
  return sealed(Uint8Array.from([...v2.subarray(0, 4), 1, ...v2.subarray(5 + 32, v2.length - 4)]));
}

function sealed(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  return sealTree(out);
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from({ length: hex.length / 2 }, (_, i) => Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16));
}

/** Version 4 bytes (`v4`) as version 3 stored them: the same without each entry's listing key. */
export function asVersion3(v4: Uint8Array): Uint8Array {
  assert.equal(v4[4], 4);
  const count = new DataView(v4.buffer, v4.byteOffset).getUint32(COUNT_AT, true);
  const stats = HEADER_BYTES;
  // Each entry's stats: six float64s in version 4, the first five of them in version 3.
  const row = TABLE_STAT_FIELDS * 8;
  const oldRow = row - 8;
  const out = new Uint8Array(v4.length - count * 8);
  out.set(v4.subarray(0, stats));
  out[4] = 3;
  for (let i = 0; i < count; i++) out.set(v4.subarray(stats + i * row, stats + i * row + oldRow), stats + i * oldRow);
  out.set(v4.subarray(stats + count * row, v4.length - 4), stats + count * oldRow);
  return sealTree(out);
}
