/**
 * The `dir:` checksum of a whole scan (SPEC §4.2: sha256 of the sorted, comma-joined
 * entry checksums) straight from the packed hex a scan produces, with no string or
 * tree node per entry: for `fscache checksum`, which needs nothing else.
 * @module
 */
import { Buffer } from "node:buffer";
import { sha256Hex } from "./node_sha256.ts";

const SUM = 64;
/** Indices fit below this in a packed sort key (a 32-bit prefix times this stays exact). */
const INDEX_BITS = 2 ** 21;

/**
 * `dir:` + the digest of every checksum in `packed` (each a string of 64-hex-digit
 * checksums one after the other), equal to `HashTree.hash(".")` of the same entries.
 *
 * @example
 * ```ts
 * dirChecksumOfPacked(["6ef733e2…6fbc54d9…"]); // "dir:7b1b21eb…"
 * ```
 */
export function dirChecksumOfPacked(packed: string[]): string {
  const bytes = Buffer.from(packed.join(""), "latin1");
  const n = Math.floor(bytes.length / SUM);
  const order = sortedOrder(bytes, n);
  const out = Buffer.allocUnsafe(Math.max(0, n * (SUM + 1) - 1));
  for (let i = 0; i < n; i++) {
    const at = i * (SUM + 1);
    const from = (order[i] as number) * SUM;
    bytes.copy(out, at, from, from + SUM);
    if (i + 1 < n) out[at + SUM] = 0x2c;
  }
  return `dir:${sha256Hex(out)}`;
}

function compareSums(bytes: Buffer, a: number, b: number): number {
  return bytes.compare(bytes, b * SUM, b * SUM + SUM, a * SUM, a * SUM + SUM);
}

/**
 * Indices of the checksums in string order: sorted as numbers keyed by their first 32
 * bits (plus the index, so keys are unique); equal prefixes settled byte by byte.
 * Sorting 100k strings with a comparator costs several times more.
 */
function sortedOrder(bytes: Buffer, n: number): Uint32Array {
  const order = new Uint32Array(n);
  if (n > INDEX_BITS) {
    order.set(Array.from({ length: n }, (_, i) => i).sort((a, b) => compareSums(bytes, a, b)));
    return order;
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = hexPrefix(bytes, i * SUM) * INDEX_BITS + i;
  keys.sort();
  for (let i = 0; i < n; i++) order[i] = (keys[i] as number) % INDEX_BITS;
  for (let i = 0; i < n; ) {
    const prefix = Math.floor((keys[i] as number) / INDEX_BITS);
    let j = i + 1;
    while (j < n && Math.floor((keys[j] as number) / INDEX_BITS) === prefix) j++;
    if (j - i > 1)
      order.set(
        Array.from(order.subarray(i, j)).sort((a, b) => compareSums(bytes, a, b)),
        i,
      );
    i = j;
  }
  return order;
}

/** The first 8 hex digits at `at` as a number. */
function hexPrefix(bytes: Buffer, at: number): number {
  let v = 0;
  for (let i = at; i < at + 8; i++) {
    const c = bytes[i] as number;
    v = v * 16 + (c <= 0x39 ? c - 0x30 : c - 0x57);
  }
  return v;
}
